/**
 * Stored images downloaded by their links (GET /files/...): read whole into buffers that are
 * lent and reused (storage/read-buffers.ts), so every download must carry its own image's bytes
 * and no other's, whatever was read into the buffer before; and a client that stops taking a
 * download is cut off, so it holds no buffer for long.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryBudget } from '../src/core/memory-budget.js';
import { registerGroup } from '../src/http/access.js';
import { createHttpServer } from '../src/http/server.js';
import { SpoolDir } from '../src/spool/spool-dir.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { postJson, startGateway } from './helpers/gateway.js';
import { noisePng } from './helpers/images.js';

closeAfterEach();

/** Sizes on either side of the buffers' 1 MiB steps: a smaller image is read into a larger one's buffer. */
const IMAGES = [await noisePng(900, 900, 1), await noisePng(300, 300, 2), await noisePng(640, 640, 3), await noisePng(40, 40, 4)];

/** An OpenAI-like upstream answering each generation in b64 with the next of `images`, in turn. */
async function upstreamOf(images: readonly Buffer[]): Promise<{ baseURL: string; close(): Promise<void> }> {
  let next = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const image = images[next++ % images.length] as Buffer;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"created":1713833628,"data":[{"b64_json":"${image.toString('base64')}"}],"output_format":"png"}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function linkedImages(count: number): Promise<{ links: string[]; origin: string }> {
  const upstream = later(await upstreamOf(IMAGES));
  const gw = later(await startGateway({ OPENAI_API_KEY: 'sk-up', OPENAI_BASE_URL: upstream.baseURL }));
  const links: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await postJson(gw, '/v1/images/generations', { model: 'gpt-image-2', prompt: 'noise', response_format: 'url' });
    expect(res.status, res.text).toBe(200);
    const url = (res.json as { data: { url: string }[] }).data[0]?.url;
    if (url === undefined) throw new Error('no link');
    links.push(url);
  }
  return { links, origin: gw.origin };
}

async function download(link: string): Promise<Buffer> {
  const res = await fetch(link);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
  return bytes;
}

describe('downloads of stored images', () => {
  it('each carries exactly its own image, one after another and at once, larger and smaller in turn', async () => {
    const { links } = await linkedImages(IMAGES.length);
    for (let round = 0; round < 3; round++) {
      for (const [i, link] of links.entries()) expect((await download(link)).equals(IMAGES[i] as Buffer)).toBe(true);
      // Backwards: each image read into a buffer a larger one was read into just before.
      for (const [i, link] of [...links.entries()].reverse()) expect((await download(link)).equals(IMAGES[i] as Buffer)).toBe(true);
    }
    const together = await Promise.all([...links, ...links, ...links].map((link) => download(link)));
    for (const [at, bytes] of together.entries()) expect(bytes.equals(IMAGES[at % IMAGES.length] as Buffer)).toBe(true);
  });

  it('a download the client drops midway leaves the next ones whole', async () => {
    const { links } = await linkedImages(2);
    const big = new URL(links[0] as string);
    for (let i = 0; i < 5; i++) {
      // Ask, read the first bytes, then hang up.
      const socket = connect(Number(big.port), big.hostname);
      socket.on('error', () => {});
      socket.write(`GET ${big.pathname}${big.search} HTTP/1.1\r\nhost: x\r\n\r\n`);
      await new Promise((resolve) => socket.once('data', resolve));
      socket.destroy();
      expect((await download(links[1] as string)).equals(IMAGES[1] as Buffer)).toBe(true);
      expect((await download(links[0] as string)).equals(IMAGES[0] as Buffer)).toBe(true);
    }
  });
});

describe('an answer sent as one buffer', () => {
  it('is cut off when the client stops taking it for the send idle bound', async () => {
    const spoolPath = await mkdtemp(join(tmpdir(), 'imagegate-spool-'));
    onCleanup(() => rm(spoolPath, { recursive: true, force: true }));
    const { app } = createHttpServer({
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      timeouts: { headersMs: 30_000, requestMs: 60_000, bodyIdleMs: 30_000, sendIdleMs: 500 },
      trustedProxies: [],
      memory: new MemoryBudget(1024 ** 3),
      spool: await SpoolDir.open(spoolPath, 1024 ** 3),
    });
    // More than the sockets between us and the client can hold (loopback: up to ~36 MB).
    const body = Buffer.alloc(96 * 1024 * 1024, 7);
    registerGroup(app, { access: 'public', dialect: 'openai' }, (scope) => {
      scope.get('/big', async (_request, reply) => reply.type('application/octet-stream').send(body));
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    onCleanup(() => app.close());
    // The gateway's side of the connection: a client that reads nothing does not see it close.
    const served = new Promise<Socket>((resolve) => app.server.once('connection', resolve));
    const client = connect((app.server.address() as AddressInfo).port, '127.0.0.1');
    client.pause();
    client.on('error', () => {});
    onCleanup(async () => void client.destroy());
    client.write('GET /big HTTP/1.1\r\nhost: x\r\n\r\n');
    const asked = Date.now();
    const socket = await served;
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(-1), 8_000));
    const at = await Promise.race([closed, timeout]);
    expect(at).toBeGreaterThan(0);
    expect(at - asked).toBeGreaterThanOrEqual(400);
  });
});
