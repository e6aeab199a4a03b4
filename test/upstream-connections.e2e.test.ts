/**
 * No hidden limits between the gateway and its upstreams: a channel without max_concurrent gets
 * every request to its upstream at once, however many there are; a channel with one gets that
 * many connections and no more.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { HttpTransport, type UpstreamRequest } from '../src/providers/transport.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { startGateway } from './helpers/gateway.js';

closeAfterEach();

const tinyPng = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#06c' } })
  .png()
  .toBuffer();
const ANSWER = JSON.stringify({ created: 1, data: [{ b64_json: tinyPng.toString('base64') }] });

interface HeldUpstream {
  baseURL: string;
  /** Most requests it held at once. */
  peak: number;
  answered: number;
  /** TCP connections the gateway opened to it. */
  connections: number;
  close(): Promise<void>;
}

/**
 * An OpenAI-style upstream that holds every request until `releaseAt` are in flight together, or
 * one was held `holdMs`; then it answers them all, and any later ones at once. A cap below
 * `releaseAt` anywhere on the way shows as a peak at the cap, and a wait of holdMs.
 */
async function heldUpstream(opts: { releaseAt: number; holdMs: number }): Promise<HeldUpstream> {
  const held: (() => void)[] = [];
  let inFlight = 0;
  let released = false;
  const state = { peak: 0, answered: 0, connections: 0 };
  const answer = (res: ServerResponse) => {
    inFlight--;
    state.answered++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(ANSWER);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      inFlight++;
      state.peak = Math.max(state.peak, inFlight);
      if (released) return answer(res);
      let done = false;
      const release = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        answer(res);
      };
      const releaseAll = () => {
        released = true;
        for (const r of held.splice(0)) r();
      };
      const timer = setTimeout(releaseAll, opts.holdMs);
      held.push(release);
      if (inFlight >= opts.releaseAt) releaseAll();
    });
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    get peak() {
      return state.peak;
    },
    get answered() {
      return state.answered;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('upstream connections', () => {
  it('a channel without max_concurrent takes 400 requests to its upstream at once (more than any fixed pool of 256)', async () => {
    const REQUESTS = 400;
    const upstream = later(await heldUpstream({ releaseAt: REQUESTS, holdMs: 10_000 }));
    const config = await writeConfigFile({ channels: [{ name: 'wide', kind: 'openai-compatible', base_url: upstream.baseURL, api_key: 'sk-wide' }] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: config }));
    // The client must not be the bottleneck either: one connection per request.
    const client = later(new Pool(gw.origin, { connections: REQUESTS }));
    const statuses = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const res = await client.request({
          method: 'POST',
          path: '/v1/images/generations',
          headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-image-2', prompt: `wide ${i}`, response_format: 'b64_json' }),
        });
        await res.body.text();
        return res.statusCode;
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(upstream.peak).toBe(REQUESTS);
    expect(upstream.answered).toBe(REQUESTS);
  }, 60_000);

  describe('the transport', () => {
    const request = (upstream: HeldUpstream, maxConnections: number): UpstreamRequest => ({
      method: 'POST',
      url: `${upstream.baseURL}/images/generations`,
      headers: { 'content-type': 'application/json' },
      body: '{}',
      timeoutMs: 20_000,
      pool: { key: 'channel-1', maxConnections },
    });

    it("opens at most a channel's max_concurrent connections to it, and queues the rest", async () => {
      const upstream = later(await heldUpstream({ releaseAt: Number.POSITIVE_INFINITY, holdMs: 100 }));
      const transport = later(new HttpTransport());
      const answers = await Promise.all(Array.from({ length: 12 }, () => transport.send(request(upstream, 3))));
      expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
      expect(upstream.peak).toBe(3);
      expect(upstream.connections).toBe(3);
    });

    it('follows a changed max_concurrent, and none (0) means no cap', async () => {
      const transport = later(new HttpTransport());
      const burst = async (maxConnections: number, upstream: HeldUpstream) => {
        const answers = await Promise.all(Array.from({ length: 10 }, () => transport.send(request(upstream, maxConnections))));
        expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
        return upstream.peak;
      };
      // One channel (one pool key) whose cap is edited: 2, then 4, then none.
      expect(await burst(2, later(await heldUpstream({ releaseAt: Number.POSITIVE_INFINITY, holdMs: 50 })))).toBe(2);
      expect(await burst(4, later(await heldUpstream({ releaseAt: Number.POSITIVE_INFINITY, holdMs: 50 })))).toBe(4);
      const started = Date.now();
      expect(await burst(0, later(await heldUpstream({ releaseAt: 10, holdMs: 5_000 })))).toBe(10);
      expect(Date.now() - started).toBeLessThan(5_000); // released by the tenth request, not by the hold
    });
  });
});
