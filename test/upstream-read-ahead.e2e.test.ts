/**
 * An answer passed through to a client that stops reading: the gateway still takes the whole
 * answer off the upstream's connection at once (within its memory budget), so the upstream's part
 * is over when its answer is, not when the slowest client gets round to it (an upstream closing a
 * quiet keep-alive connection would otherwise cut the answer's unsent tail). The client still
 * gets every byte. Past its first kilobytes, the part ahead waits in a spill file under the data
 * dir's spool, closed when the answer ends or its client goes. Past the spool's budget, the answer
 * goes at the client's pace again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { forgedPng } from './helpers/forged-png.js';
import { startGateway } from './helpers/gateway.js';
import { openFilesUnder } from './helpers/open-files.js';

closeAfterEach();

/** ~26 MB of base64: more than the kernel's socket buffers on both sides hold. */
const IMAGE = Buffer.concat([forgedPng(1024, 1024), randomBytes(20 * 1024 * 1024)]);
const B64 = IMAGE.toString('base64');
const PAUSE_MS = 3_000;

/** An OpenAI-shaped upstream answering every generation with IMAGE, recording when each answer was all handed to the kernel. */
async function upstream(): Promise<{ origin: string; finishedAt: number[] }> {
  const finishedAt: number[] = [];
  const body = Buffer.from(JSON.stringify({ created: 1, data: [{ b64_json: B64 }], output_format: 'png', size: '1024x1024', quality: 'medium' }));
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      res.end(body);
      res.once('finish', () => finishedAt.push(Date.now()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, finishedAt };
}

/**
 * A generation read by a client that stops for PAUSE_MS after its first bytes; when it went on, and
 * the image it got. `duringPause` runs at the end of the pause; `leave`: the client closes the
 * connection then instead of reading on.
 */
function slowClient(
  origin: string,
  apiKey: string,
  opts: { duringPause?: () => void; leave?: boolean } = {},
): Promise<{ resumedAt: number; status: number; image: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let resumedAt = 0;
      res.once('data', () => {
        res.pause();
        setTimeout(() => {
          opts.duringPause?.();
          resumedAt = Date.now();
          if (opts.leave) {
            req.destroy();
            resolve({ resumedAt, status: res.statusCode ?? 0, image: Buffer.alloc(0), complete: false });
            return;
          }
          res.resume();
        }, PAUSE_MS);
      });
      res.on('data', (c: Buffer) => chunks.push(c));
      // A cut answer: what arrived is not JSON.
      res.on('error', () => resolve({ resumedAt, status: res.statusCode ?? 0, image: Buffer.alloc(0), complete: false }));
      res.on('end', () => {
        let answer: { data: { b64_json: string }[] };
        try {
          answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { b64_json: string }[] };
        } catch {
          resolve({ resumedAt, status: res.statusCode ?? 0, image: Buffer.alloc(0), complete: false });
          return;
        }
        resolve({ resumedAt, status: res.statusCode ?? 0, image: Buffer.from(answer.data[0]?.b64_json ?? '', 'base64'), complete: true });
      });
    });
    req.end(JSON.stringify({ model: 'gpt-image-2', prompt: 'a slow reader', size: '1024x1024', response_format: 'b64_json' }));
  });
}

/** A gateway in front of `up` with its data dir known, for what its spool holds open. */
async function gatewayWithSpool(up: { origin: string }, env: Record<string, string> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-spill-'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const gw = later(
    await startGateway({ IMAGEGATE_CONFIG: await writeConfigFile({ channels: [relayChannel('up', `${up.origin}/v1`)] }), IMAGEGATE_DATA_DIR: dataDir, ...env }),
  );
  const spool = join(dataDir, 'spool');
  return { gw, spool, spillFiles: () => openFilesUnder(spool) };
}

/** Polls `read` until it returns [] or `ms` pass; what it last returned. */
async function settles(read: () => string[], ms = 5_000): Promise<string[]> {
  const until = Date.now() + ms;
  let last = read();
  while (last.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = read();
  }
  return last;
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('an answer read ahead of a client that stops reading', () => {
  it('the upstream’s whole answer is taken while the client pauses; the client then gets every byte', async () => {
    const up = await upstream();
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: await writeConfigFile({ channels: [relayChannel('up', `${up.origin}/v1`)] }) }));
    const got = await slowClient(gw.origin, gw.apiKey);
    expect(got.status).toBe(200);
    expect(sha(got.image)).toBe(sha(IMAGE));
    expect(up.finishedAt).toHaveLength(1);
    expect(up.finishedAt[0]).toBeLessThan(got.resumedAt);
  }, 60_000);

  it('the part ahead waits in a spill file, not in memory: one file during the pause, closed once the answer is out', async () => {
    const up = await upstream();
    const { gw, spillFiles } = await gatewayWithSpool(up);
    let during: string[] = [];
    const got = await slowClient(gw.origin, gw.apiKey, { duringPause: () => (during = spillFiles()) });
    expect(got.status).toBe(200);
    expect(sha(got.image)).toBe(sha(IMAGE));
    expect(up.finishedAt[0]).toBeLessThan(got.resumedAt);
    expect(during).toHaveLength(1);
    // Unlinked once open: nothing is left in the directory, whatever happens to the process.
    expect(during[0]).toMatch(/\.answer \(deleted\)$/);
    expect(await settles(spillFiles)).toEqual([]);
    expect(await settles(() => (gw.app.memory.inUse > 0 ? ['held'] : []))).toEqual([]);
  }, 60_000);

  it('a client that leaves during the pause: its spill file is closed', async () => {
    const up = await upstream();
    const { gw, spillFiles } = await gatewayWithSpool(up);
    let during: string[] = [];
    await slowClient(gw.origin, gw.apiKey, { duringPause: () => (during = spillFiles()), leave: true });
    expect(during).toHaveLength(1);
    expect(await settles(spillFiles)).toEqual([]);
    expect(await settles(() => (gw.app.memory.inUse > 0 ? ['held'] : []))).toEqual([]);
  }, 60_000);

  it('a spill file that cannot be made (the spool gone): that answer is cut, nothing stays open, and the next answer is whole', async () => {
    const up = await upstream();
    const { gw, spool, spillFiles } = await gatewayWithSpool(up);
    await rm(spool, { recursive: true });
    const cut = await slowClient(gw.origin, gw.apiKey);
    expect(cut.status).toBe(200);
    expect(cut.complete).toBe(false);
    expect(await settles(spillFiles)).toEqual([]);
    const res = await gw.client.images.generate({ model: 'gpt-image-2', prompt: 'a reader that keeps up', size: '1024x1024', response_format: 'b64_json' });
    expect(sha(Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64'))).toBe(sha(IMAGE));
  }, 60_000);

  it('past three quarters of the spool’s disk budget it goes at the client’s pace: the upstream finishes only after the client reads on', async () => {
    const up = await upstream();
    const { gw } = await gatewayWithSpool(up, { IMAGEGATE_SPOOL_BUDGET: '2mb' });
    const got = await slowClient(gw.origin, gw.apiKey);
    expect(got.status).toBe(200);
    expect(sha(got.image)).toBe(sha(IMAGE));
    expect(up.finishedAt[0]).toBeGreaterThan(got.resumedAt);
  }, 60_000);
});
