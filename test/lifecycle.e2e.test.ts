/** Demo channel, relays, link expiry, retention, request ids, client aborts, graceful shutdown. */
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function gateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const gw = await startGateway(env);
  cleanup.push(() => gw.close());
  return gw;
}

async function simulator(opts: Parameters<typeof startOpenAISimulator>[0] = {}): Promise<RunningSimulator> {
  const sim = await startOpenAISimulator(opts);
  cleanup.push(() => sim.close());
  return sim;
}

describe('demo channel (no upstream key)', () => {
  it('is labelled demo and renders a real image of the requested size and format', async () => {
    const gw = await gateway();
    const models = await gw.client.models.list();
    const gpt = models.data.find((m) => m.id === 'gpt-image-2');
    expect(gpt?.owned_by).toBe('imagegate-demo');
    const res = await gw.client.images.generate({ prompt: 'a lighthouse at dawn', size: '1024x1536', output_format: 'jpeg', response_format: 'b64_json' });
    const image = await describeImage(Buffer.from(res.data![0]!.b64_json!, 'base64'));
    expect(image).toEqual({ format: 'jpeg', width: 1024, height: 1536 });
  });
});

describe('openai-compatible relay upstream', () => {
  it('normalizes relay URLs to gateway links and charges what came back (fewer than n)', async () => {
    const relay = await simulator({ relay: { answer: 'url', maxImages: 1 } });
    const gw = await gateway({ OPENAI_API_KEY: 'relay-key', OPENAI_BASE_URL: relay.baseURL });
    const res = await gw.client.images.generate({ prompt: 'relay me', n: 3 });
    expect(res.data).toHaveLength(1);
    const url = res.data![0]!.url!;
    expect(url.startsWith(`${gw.origin}/files/`)).toBe(true);
    const image = await describeImage(Buffer.from(await (await fetch(url)).arrayBuffer()));
    expect(image.format).toBe('png');
  });

  it('turns a data URI answer into b64_json, and passes the relay extras through', async () => {
    const relay = await simulator({ relay: { answer: 'data_uri' } });
    const gw = await gateway({ OPENAI_API_KEY: 'relay-key', OPENAI_BASE_URL: relay.baseURL });
    const res = await postJson(gw, '/v1/images/generations', {
      prompt: 'x',
      n: 2,
      response_format: 'b64_json',
      watermark: false,
      style: { tone: 'warm' },
      seed: 7,
    });
    expect(res.status).toBe(200);
    const data = res.json?.data as { b64_json: string }[];
    expect(data).toHaveLength(2);
    for (const item of data) expect((await describeImage(Buffer.from(item.b64_json, 'base64'))).format).toBe('png');
    expect(relay.sim.requests.at(-1)?.json).toMatchObject({ watermark: false, style: { tone: 'warm' }, seed: 7 });
  });
});

describe('output conversion', () => {
  it('converts when a relay ignores output_format, in b64 and url mode', async () => {
    const relay = await simulator({ relay: { answer: 'b64_json', alwaysPng: true } });
    const gw = await gateway({ OPENAI_API_KEY: 'relay-key', OPENAI_BASE_URL: relay.baseURL });
    const b64 = await gw.client.images.generate({ prompt: 'convert me', output_format: 'jpeg', output_compression: 60, response_format: 'b64_json' });
    expect(b64.output_format).toBe('jpeg');
    expect((await describeImage(Buffer.from(b64.data![0]!.b64_json!, 'base64'))).format).toBe('jpeg');
    const url = await gw.client.images.generate({ prompt: 'convert me', output_format: 'webp', size: '1536x1024' });
    const file = await fetch(url.data![0]!.url!);
    expect(file.headers.get('content-type')).toBe('image/webp');
    expect(await describeImage(Buffer.from(await file.arrayBuffer()))).toEqual({ format: 'webp', width: 1536, height: 1024 });
    // Asked for PNG (or nothing): passed through untouched.
    const png = await gw.client.images.generate({ prompt: 'keep me', response_format: 'b64_json' });
    expect((await describeImage(Buffer.from(png.data![0]!.b64_json!, 'base64'))).format).toBe('png');
  });

  it('resizes when a relay answers another size than asked, and leaves auto alone', async () => {
    const relay = await simulator({ relay: { answer: 'b64_json', fixedSize: { width: 1024, height: 1024 } } });
    const gw = await gateway({ OPENAI_API_KEY: 'relay-key', OPENAI_BASE_URL: relay.baseURL });
    const wide = await gw.client.images.generate({ prompt: 'wide please', size: '1536x1024', response_format: 'b64_json' });
    expect(await describeImage(Buffer.from(wide.data![0]!.b64_json!, 'base64'))).toEqual({ format: 'png', width: 1536, height: 1024 });
    const auto = await gw.client.images.generate({ prompt: 'any size', size: 'auto', response_format: 'b64_json' });
    expect(await describeImage(Buffer.from(auto.data![0]!.b64_json!, 'base64'))).toEqual({ format: 'png', width: 1024, height: 1024 });
  });
});

describe('image links and retention', () => {
  it('answers 410 once a link has expired', async () => {
    const gw = await gateway({ IMAGEGATE_URL_TTL: '1s' });
    const res = await gw.client.images.generate({ prompt: 'short-lived' });
    const url = res.data![0]!.url!;
    // Read to its end: an answer left unread holds its connection, and the server's close waits for it.
    const image = await fetch(url);
    await image.arrayBuffer();
    expect(image.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_100));
    const expired = await fetch(url);
    expect(expired.status).toBe(410);
    expect(await expired.json()).toMatchObject({ error: { code: 'url_expired' } });
  });

  it('the sweeper deletes images past retention', async () => {
    const gw = await gateway({ IMAGEGATE_RETENTION: '1s' });
    const res = await gw.client.images.generate({ prompt: 'forget me' });
    const url = res.data![0]!.url!;
    await expect.poll(async () => (await gw.app.database.db.selectFrom('images').select('id').execute()).length).toBe(1);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await gw.app.sweeper.sweep()).toBe(1);
    const gone = await fetch(url);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: 'image_not_found' } });
    expect(await gw.app.database.db.selectFrom('images').select('id').execute()).toHaveLength(0);
  });

  it('concurrent url-mode images share their record inserts; every record and link is there', async () => {
    const inserts: string[] = [];
    const gw = await startGateway({}, { onQuery: (statement) => void (/^insert into "images"/.test(statement) && inserts.push(statement)) });
    cleanup.push(() => gw.close());
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => gw.client.images.generate({ prompt: `batch ${i}`, n: 2, size: '1024x1024' })));
    const urls = answers.flatMap((res) => res.data!.map((image) => image.url!));
    expect(urls).toHaveLength(12);
    const records = await gw.app.database.db.selectFrom('images').select('id').execute();
    expect(records).toHaveLength(12);
    for (const url of urls) {
      const file = await fetch(url);
      expect(file.status).toBe(200);
      expect((await describeImage(Buffer.from(await file.arrayBuffer()))).format).toBe('png');
    }
    expect(inserts.length).toBeGreaterThan(0);
    expect(inserts.length).toBeLessThan(12);
  });

  it('a failed image record leaves no stored object behind (url and b64 modes)', async () => {
    const gw = await gateway();
    const { db } = gw.app.database;
    await sql`create trigger refuse_images before insert on images begin select raise(fail, 'images table refuses'); end`.execute(db);
    const urlMode = await postJson(gw, '/v1/images/generations', { prompt: 'no record', response_format: 'url' });
    expect(urlMode.status).toBeGreaterThanOrEqual(500);
    const b64Mode = await postJson(gw, '/v1/images/generations', { prompt: 'no record', response_format: 'b64_json', n: 2 });
    expect(b64Mode.status).toBe(200);
    await gw.app.close(); // waits for the b64 answers' background stores
    const files = await readdir(join(gw.app.config.dataDir, 'images'), { recursive: true, withFileTypes: true }).catch(() => []);
    expect(files.filter((f) => f.isFile()).map((f) => f.name)).toEqual([]);
  });
});

describe('operations', () => {
  it('echoes x-request-id (or makes one) and serves /healthz without a key', async () => {
    const gw = await gateway();
    const given = await postJson(gw, '/v1/images/generations', { prompt: 'id' }, { 'x-request-id': 'my-trace-123' });
    expect(given.headers.get('x-request-id')).toBe('my-trace-123');
    const made = await fetch(`${gw.origin}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(made.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const health = await fetch(`${gw.origin}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('a client that goes away aborts the upstream call and is logged', async () => {
    const upstream = await simulator({ latencyMs: 5_000 });
    const gw = await gateway({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: upstream.baseURL });
    const controller = new AbortController();
    const pending = fetch(`${gw.origin}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', 'x-request-id': 'gone-early' },
      body: JSON.stringify({ prompt: 'slow' }),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await expect.poll(() => upstream.sim.requests.length).toBe(1);
    controller.abort();
    await pending;
    await expect.poll(() => upstream.sim.aborted).toBe(1);
    await expect
      .poll(async () => gw.app.database.db.selectFrom('request_log').selectAll().where('id', '=', 'gone-early').executeTakeFirst())
      .toMatchObject({ status: 499, error_code: 'client_closed_request', delivered: 0 });
  });

  it('shutdown finishes in-flight requests before closing', async () => {
    const upstream = await simulator({ latencyMs: 800 });
    const gw = await startGateway({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: upstream.baseURL });
    const inFlight = gw.client.images.generate({ prompt: 'finish me' });
    await expect.poll(() => upstream.sim.requests.length).toBe(1);
    const closing = gw.close();
    const res = await inFlight;
    expect(res.data?.[0]?.url).toContain('/files/');
    await closing;
    await expect(fetch(`${gw.origin}/healthz`)).rejects.toThrow();
  });

  it('config-file aliases reach the upstream as their base model with fixed parameters', async () => {
    const upstream = await simulator();
    const file = join(tmpdir(), `imagegate-alias-${process.pid}.yaml`);
    await writeFile(file, 'models:\n  - name: poster\n    base: gpt-image-2\n    params:\n      size: 1024x1536\n      quality: high\n');
    const gw = await gateway({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: upstream.baseURL, IMAGEGATE_CONFIG: file });
    const res = await gw.client.images.generate({ model: 'poster', prompt: 'alias', response_format: 'b64_json' });
    expect((await describeImage(Buffer.from(res.data![0]!.b64_json!, 'base64'))).height).toBe(1536);
    expect(upstream.sim.requests.at(-1)?.json).toMatchObject({ model: 'gpt-image-2', size: '1024x1536', quality: 'high' });
  });
});
