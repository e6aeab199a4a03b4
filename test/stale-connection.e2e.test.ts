/**
 * An upstream that closes a pooled keep-alive connection just as the gateway sends the next
 * request on it (the next request's connection closes with no answer): the gateway sends that
 * request again at once on another connection, inside the same attempt, so the client gets its
 * image and the channel no failure. A connection that closes under every request is sent again
 * once only; the router's own retries (IMAGEGATE_MAX_ATTEMPTS) do the rest.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { startGateway } from './helpers/gateway.js';
import { noisePng } from './helpers/images.js';

closeAfterEach();

const IMAGE = await noisePng(32, 32, 5);

/**
 * A raw HTTP/1.1 upstream. Each connection answers its first request with an image and keeps
 * the connection open; `closeOn(n)` decides, for the n-th request on a connection (1-based),
 * whether to close it without a word instead.
 */
async function upstream(closeOn: (nth: number) => boolean): Promise<{ baseURL: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const body = JSON.stringify({ created: 1, data: [{ b64_json: IMAGE.toString('base64') }] });
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let nth = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      // One request at a time: headers, then a content-length body.
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        requests++;
        nth++;
        if (closeOn(nth)) {
          socket.destroy();
          return;
        }
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nkeep-alive: timeout=60\r\n\r\n${body}`,
        );
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests: () => requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function gatewayFor(baseURL: string) {
  const file = await writeConfigFile({ channels: [relayChannel('up', baseURL)] });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_KEEP_B64_IMAGES: 'false' }));
}

async function attemptsOf(gw: Awaited<ReturnType<typeof gatewayFor>>, requestId: string): Promise<{ outcome: string }[]> {
  const row = await gw.app.database.db.selectFrom('request_log').select(['attempts']).where('id', '=', requestId).executeTakeFirst();
  return JSON.parse(row?.attempts ?? '[]') as { outcome: string }[];
}

const GENERATE = { model: 'gpt-image-1', prompt: 'a stale connection', response_format: 'b64_json' } as const;

describe('a pooled connection the upstream closed', () => {
  it('is not the client’s failure: the request goes again at once, on another connection, in the same attempt', async () => {
    // Every connection answers once, then closes under the next request sent on it.
    const up = later(await upstream((nth) => nth >= 2));
    const gw = await gatewayFor(up.baseURL);
    const first = await gw.client.images.generate(GENERATE, { headers: { 'x-request-id': 'stale-1' } });
    expect(Buffer.from(first.data?.[0]?.b64_json ?? '', 'base64').equals(IMAGE)).toBe(true);
    const second = await gw.client.images.generate(GENERATE, { headers: { 'x-request-id': 'stale-2' } });
    expect(Buffer.from(second.data?.[0]?.b64_json ?? '', 'base64').equals(IMAGE)).toBe(true);
    // The second went out on the first's connection (closed under it), then on a new one.
    expect(up.requests()).toBe(3);
    await expect.poll(() => attemptsOf(gw, 'stale-2'), { timeout: 5_000 }).toEqual([expect.objectContaining({ outcome: 'ok' })]);
  });

  it('under every request: sent again once per attempt, then the router’s retries, then 502 upstream_unavailable', async () => {
    const up = later(await upstream(() => true));
    const gw = await gatewayFor(up.baseURL);
    const failed = await gw.client.images.generate(GENERATE, { headers: { 'x-request-id': 'stale-always' }, maxRetries: 0 }).catch((err: unknown) => err);
    expect(failed).toMatchObject({ status: 502, code: 'upstream_unavailable' });
    // IMAGEGATE_MAX_ATTEMPTS (3 by default), each sent twice.
    await expect.poll(() => attemptsOf(gw, 'stale-always'), { timeout: 5_000 }).toHaveLength(3);
    expect((await attemptsOf(gw, 'stale-always')).map((a) => a.outcome)).toEqual(['connection', 'connection', 'connection']);
    expect(up.requests()).toBe(6);
  });
});
