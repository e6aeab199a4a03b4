/**
 * Sync answers stored as they arrive, end to end (b64_json passed through, url stored first): the real gateway in front of a
 * scriptable upstream that writes its answer in pieces, pauses, cuts the connection or fails.
 * The client gets the first image bytes before the upstream has sent the rest; images arrive
 * exact and stored; an answer cut after its first byte leaves the client a truncated body, the
 * credits refunded and nothing stored; a client that leaves stops the upstream read and frees
 * the channel's slot; failures before the first byte are ordinary errors, failed over or not.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { storedName } from '../src/storage/retention-sweeper.js';
import { TEST_ADMIN_KEY, adminJson } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { noisePng } from './helpers/images.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';

closeAfterEach();

const BIG = await noisePng(320, 320, 1); // ~300 KB, ~410 KB of base64
const SECOND = await noisePng(200, 200, 2);
const OTHER = await noisePng(120, 120, 3);
const runPostgres = await postgresAvailable();

const USAGE = { total_tokens: 1290, input_tokens: 10, output_tokens: 1280, input_tokens_details: { text_tokens: 10, image_tokens: 0 } };

interface AnswerImage {
  bytes: Buffer;
  revised?: string;
  /** revised_prompt written before b64_json. */
  revisedFirst?: boolean;
}

/** An ImagesResponse as the upstream writes it; `escapeSlashes`: every `/` of the base64 as `\/`. */
function answerText(images: readonly AnswerImage[], escapeSlashes = false): string {
  const items = images.map(({ bytes, revised, revisedFirst }) => {
    const base64 = bytes.toString('base64');
    const b64 = `"b64_json":"${escapeSlashes ? base64.replaceAll('/', '\\/') : base64}"`;
    if (revised === undefined) return `{${b64}}`;
    const prompt = `"revised_prompt":${JSON.stringify(revised)}`;
    return revisedFirst ? `{${prompt},${b64}}` : `{${b64},${prompt}}`;
  });
  return `{"created":1713833628,"data":[${items.join(',')}],"usage":${JSON.stringify(USAGE)},"size":"1024x1024","quality":"low","output_format":"png"}`;
}

// ---------------------------------------------------------------------------------------------
// A scriptable upstream: POST /v1/images/generations, each call answered by the next script.

interface UpstreamCall {
  body: Record<string, unknown>;
  res: ServerResponse;
  /** The connection closed before the answer was all written: the gateway let go of it. */
  closedEarly: boolean;
  /** The answer is over for the upstream: all written, or its connection closed. */
  over: boolean;
}

type Script = (call: UpstreamCall) => Promise<void>;

interface ScriptedUpstream {
  baseURL: string;
  calls: UpstreamCall[];
  /** Answers the next calls, in order; after them, `always` (default: 500). */
  next(...scripts: Script[]): void;
  always(script: Script): void;
  close(): Promise<void>;
}

async function scriptedUpstream(): Promise<ScriptedUpstream> {
  const calls: UpstreamCall[] = [];
  const queue: Script[] = [];
  let fallback: Script = errorAnswer(500);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const call: UpstreamCall = { body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>, res, closedEarly: false, over: false };
      calls.push(call);
      res.on('close', () => {
        call.over = true;
        if (!res.writableFinished) call.closedEarly = true;
      });
      const script = queue.shift() ?? fallback;
      // A write after the gateway let go fails; the script just stops.
      script(call).catch(() => res.destroy());
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    calls,
    next: (...scripts) => void queue.push(...scripts),
    always: (script) => {
      fallback = script;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes and waits until the piece is handed to the socket; throws once the connection is gone. */
function write(res: ServerResponse, piece: Buffer | string): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('connection closed'));
  return new Promise((resolve, reject) => res.write(piece, (err) => (err ? reject(err) : resolve())));
}

async function writeInPieces(res: ServerResponse, body: Buffer, pieceBytes: number): Promise<void> {
  for (let at = 0; at < body.length; at += pieceBytes) {
    await write(res, body.subarray(at, at + pieceBytes));
    await sleep(1);
  }
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The whole answer, in 16 KB pieces. */
function imageAnswer(text: string): Script {
  return async ({ res }) => {
    res.writeHead(200, JSON_HEADERS);
    await writeInPieces(res, Buffer.from(text), 16 * 1024);
    res.end();
  };
}

function errorAnswer(status: number): Script {
  return async ({ res }) => {
    res.writeHead(status, JSON_HEADERS).end(JSON.stringify({ error: { message: `scripted ${status}`, type: 'server_error', code: null, param: null } }));
  };
}

// ---------------------------------------------------------------------------------------------
// The gateway, keys, and what it stored

async function gatewayWith(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, ...env }));
}

const channel = (name: string, upstream: ScriptedUpstream, extra: Record<string, unknown> = {}) => relayChannel(name, upstream.baseURL, extra);

interface MeteredKey {
  id: string;
  client: OpenAI;
  key: string;
}

async function meteredKey(gw: TestGateway, credits: number): Promise<MeteredKey> {
  const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'metered', credits });
  const id = String(created.id);
  const key = String(created.key);
  expect(await balanceMicros(gw, id)).toBe(credits * 1_000_000);
  return { id, key, client: new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0, timeout: 20_000 }) };
}

async function balanceMicros(gw: TestGateway, id: string): Promise<number> {
  return Number((await adminJson(gw.origin, 'GET', `/admin/api/keys/${id}`)).balance_micros);
}

async function imageRows(gw: TestGateway, requestId?: string) {
  let query = gw.app.database.db.selectFrom('images').select(['id', 'mime', 'bytes', 'request_id']);
  if (requestId !== undefined) query = query.where('request_id', '=', requestId);
  return query.execute();
}

async function logRow(gw: TestGateway, requestId: string) {
  return gw.app.database.db.selectFrom('request_log').select(['status', 'error_code', 'delivered']).where('id', '=', requestId).executeTakeFirst();
}

function imagesDir(gw: TestGateway): string {
  return join(gw.app.config.dataDir, 'images');
}

/** Every file under the images folder (none when it was never made). */
async function imageFiles(gw: TestGateway): Promise<string[]> {
  try {
    const entries = await readdir(imagesDir(gw), { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function storedBytes(gw: TestGateway, row: { id: string; mime: string }): Promise<Buffer> {
  const name = storedName(row.id, row.mime);
  return readFile(join(imagesDir(gw), name.slice(0, 2), name));
}

/** The request's stored images: rows whose size is set, with their files (null: not written yet). */
async function storedImages(gw: TestGateway, requestId: string): Promise<{ mime: string; bytes: number; file: Buffer | null }[]> {
  const rows = (await imageRows(gw, requestId)).filter((r) => r.bytes > 0);
  return Promise.all(
    rows.map(async (row) => ({
      mime: row.mime,
      bytes: row.bytes,
      file: await storedBytes(gw, row).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      }),
    })),
  );
}

/** Waits until the request's images are stored whole (record sized, file written), then checks they are these. */
async function expectStored(gw: TestGateway, requestId: string, images: readonly Buffer[]): Promise<void> {
  const complete = async () => (await storedImages(gw, requestId)).filter((s) => s.file !== null).length;
  await expect.poll(complete, { timeout: 5_000 }).toBe(images.length);
  const stored = await storedImages(gw, requestId);
  expect(stored.map((s) => s.bytes).sort()).toEqual(images.map((i) => i.length).sort());
  expect(stored.map((s) => s.file?.toString('base64')).sort()).toEqual(images.map((i) => i.toString('base64')).sort());
  expect(stored.every((s) => s.mime === 'image/png')).toBe(true);
}

/** What the promise rejected with, within `ms` (a hang fails the test instead of timing it out). */
async function rejectionWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  const outcome = await Promise.race([
    promise.then(
      () => ({ kind: 'resolved' as const }),
      (err: unknown) => ({ kind: 'rejected' as const, err }),
    ),
    sleep(ms).then(() => ({ kind: 'hung' as const })),
  ]);
  if (outcome.kind !== 'rejected') throw new Error(`expected a rejection within ${ms} ms, but the call ${outcome.kind}`);
  return outcome.err;
}

/** The promise's value, or a clear failure after `ms` (instead of the test's own timeout). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A raw POST whose answer is read as a stream. */
function postGeneration(gw: TestGateway, body: Record<string, unknown>, requestId: string): Promise<Response> {
  return fetch(`${gw.baseURL}/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify(body),
  });
}

const GENERATE = { model: 'gpt-image-1', prompt: 'noise, as it arrives', response_format: 'b64_json' } as const;

interface ImagesAnswer {
  data: { b64_json?: string; revised_prompt?: string }[];
  usage?: unknown;
  output_format?: string;
}

/** The answer's images as bytes (an entry without b64_json fails the comparison as an empty buffer). */
const decoded = (answer: { data?: readonly { b64_json?: string }[] | undefined }): Buffer[] =>
  (answer.data ?? []).map((d) => Buffer.from(d.b64_json ?? '', 'base64'));

// ---------------------------------------------------------------------------------------------

describe('b64_json answers pass through as they arrive', () => {
  it('the client has the first half of the image before the upstream sends the second; the answer and the stored image are exact', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    const body = Buffer.from(answerText([{ bytes: BIG, revised: 'a field of "noise" / static', revisedFirst: true }]));
    const half = Math.floor(body.length / 2);
    let releaseSecondHalf = () => {};
    const released = new Promise<void>((resolve) => (releaseSecondHalf = resolve));
    let secondHalfSent = false;
    upstream.next(async ({ res }) => {
      res.writeHead(200, { ...JSON_HEADERS, 'content-length': String(body.length) });
      await write(res, body.subarray(0, half));
      // Held until the client has the first half; a gateway that buffers never lets that happen,
      // so after a while the upstream sends the rest anyway and the check below fails.
      await Promise.race([released, sleep(5_000)]);
      secondHalfSent = true;
      res.end(body.subarray(half));
    });

    const res = await within(postGeneration(gw, GENERATE, 'pass-through'), 8_000, 'the answer did not begin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    if (!res.body) throw new Error('no body');
    const reader = res.body.getReader();
    const parts: Uint8Array[] = [];
    let received = 0;
    // Nearly all of the first half: everything but the bytes of the upstream's own JSON framing.
    const firstHalfOfImage = 0.9 * half;
    while (received < firstHalfOfImage) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      received += value.length;
    }
    expect(received).toBeGreaterThanOrEqual(firstHalfOfImage);
    expect(secondHalfSent).toBe(false);
    releaseSecondHalf();
    for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push(next.value);
    expect(secondHalfSent).toBe(true);

    const answer = JSON.parse(Buffer.concat(parts).toString('utf8')) as ImagesAnswer;
    expect(decoded(answer)).toEqual([BIG]);
    expect(answer.data[0]?.revised_prompt).toBe('a field of "noise" / static');
    // OpenAI's fields as the upstream gave them, and the chat-style ones relays' clients read.
    expect(answer.usage).toEqual({
      ...USAGE,
      prompt_tokens: 10,
      completion_tokens: 1280,
      prompt_tokens_details: { text_tokens: 10, image_tokens: 0, cached_tokens: 0 },
      completion_tokens_details: { image_tokens: 1280, text_tokens: 0 },
    });
    expect(answer.output_format).toBe('png');
    expect(upstream.calls).toHaveLength(1);
    await expectStored(gw, 'pass-through', [BIG]);
    await expect.poll(() => logRow(gw, 'pass-through'), { timeout: 5_000 }).toMatchObject({ status: 200, delivered: 1 });
  });

  it('n=2 with `\\/` escapes in both images and revised prompts before and after them: both images exact', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    const text = answerText(
      [
        { bytes: SECOND, revised: 'first: a "quoted" \\ path/to', revisedFirst: true },
        { bytes: OTHER, revised: 'second ]}', revisedFirst: false },
      ],
      true,
    );
    const b64Strings = text.split('"b64_json":"').slice(1);
    expect(b64Strings).toHaveLength(2);
    for (const b64 of b64Strings) expect(b64.slice(0, b64.indexOf('"'))).toContain('\\/');
    upstream.next(imageAnswer(text));
    const answer = await gw.client.images.generate({ ...GENERATE, n: 2 }, { headers: { 'x-request-id': 'two-escaped' } });
    expect(decoded(answer)).toEqual([SECOND, OTHER]);
    expect(answer.data?.map((d) => d.revised_prompt)).toEqual(['first: a "quoted" \\ path/to', 'second ]}']);
    expect(upstream.calls[0]?.body).toMatchObject({ model: 'gpt-image-1', n: 2 });
    await expectStored(gw, 'two-escaped', [SECOND, OTHER]);
  });

  it('an upstream that cuts the connection mid-image: the SDK call fails (no hang), credits come back, the log says so, nothing is stored', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    const key = await meteredKey(gw, 5);
    const body = Buffer.from(answerText([{ bytes: BIG, revised: 'cut short' }]));
    const cutAt = body.indexOf('"b64_json":"') + 100 * 1024;
    upstream.always(async ({ res }) => {
      res.writeHead(200, { ...JSON_HEADERS, 'content-length': String(body.length) });
      await writeInPieces(res, body.subarray(0, cutAt), 16 * 1024);
      await sleep(100);
      res.socket?.destroy();
    });

    const err = await rejectionWithin(key.client.images.generate(GENERATE, { headers: { 'x-request-id': 'cut-mid-image' } }), 8_000);
    // Not an error answer: the gateway had answered 200 and could only cut the body short.
    expect(err).not.toBeInstanceOf(OpenAI.APIError);
    // Once the answer had begun, nothing is tried again.
    expect(upstream.calls).toHaveLength(1);
    await expect.poll(() => balanceMicros(gw, key.id), { timeout: 5_000 }).toBe(5_000_000);
    await expect.poll(() => logRow(gw, 'cut-mid-image'), { timeout: 5_000 }).toMatchObject({ status: 502, error_code: 'upstream_unavailable', delivered: 0 });
    await expect.poll(async () => (await imageRows(gw)).length, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => imageFiles(gw), { timeout: 5_000 }).toEqual([]);
  });

  it('the same cut seen raw: 200, then a body that ends before its JSON does', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    const body = Buffer.from(answerText([{ bytes: BIG }]));
    const cutAt = body.indexOf('"b64_json":"') + 100 * 1024;
    upstream.always(async ({ res }) => {
      res.writeHead(200, JSON_HEADERS);
      await writeInPieces(res, body.subarray(0, cutAt), 16 * 1024);
      await sleep(100);
      res.socket?.destroy();
    });
    const res = await postGeneration(gw, GENERATE, 'cut-raw');
    expect(res.status).toBe(200);
    if (!res.body) throw new Error('no body');
    const reader = res.body.getReader();
    let received = 0;
    const ending = await rejectionWithin(
      (async () => {
        for (let next = await reader.read(); !next.done; next = await reader.read()) received += next.value.length;
      })(),
      8_000,
    );
    expect(ending).toBeInstanceOf(Error);
    // The client got the image's first bytes, and never a complete answer.
    expect(received).toBeGreaterThan(8 * 1024);
    expect(received).toBeLessThan(body.length);
  });

  it('cuts mid-answer do not open the channel’s breaker (a gateway behind on its reads sees the same): the next request is served', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)], { IMAGEGATE_BREAKER_THRESHOLD: '2' });
    const body = Buffer.from(answerText([{ bytes: BIG }]));
    const cutAt = body.indexOf('"b64_json":"') + 100 * 1024;
    // Three answers begin (200, their first bytes), then all three connections are lost: as a
    // burst of answers does when the upstream closes connections the gateway has not read off.
    let begun = 0;
    let allBegun: () => void = () => {};
    const cutTogether = new Promise<void>((resolve) => {
      allBegun = resolve;
    });
    upstream.always(async ({ res }) => {
      res.writeHead(200, JSON_HEADERS);
      if (begun >= 3) {
        res.end(body);
        return;
      }
      await writeInPieces(res, body.subarray(0, cutAt), 16 * 1024);
      if (++begun === 3) allBegun();
      await cutTogether;
      res.socket?.destroy();
    });
    const ids = ['cut-1', 'cut-2', 'cut-3'];
    await Promise.all(
      ids.map(async (id) => {
        const res = await postGeneration(gw, GENERATE, id);
        expect(res.status).toBe(200);
        await expect(res.arrayBuffer()).rejects.toThrow();
      }),
    );
    for (const id of ids) await expect.poll(() => logRow(gw, id), { timeout: 5_000 }).toMatchObject({ status: 502, error_code: 'upstream_unavailable' });
    const health = (await adminJson(gw.origin, 'GET', '/admin/api/channels/up')).health as { circuit: string; consecutive_failures: number };
    expect(health).toMatchObject({ circuit: 'closed', consecutive_failures: 0 });
    const served = await postGeneration(gw, GENERATE, 'after-cuts');
    expect(served.status).toBe(200);
    const answer = (await served.json()) as { data: { b64_json: string }[] };
    expect(Buffer.from(answer.data[0]?.b64_json ?? '', 'base64').equals(BIG)).toBe(true);
    expect(upstream.calls).toHaveLength(4);
  });

  it.each([
    // The client leaves with much of the answer still on its way to it: the gateway is between writes.
    ['is still sending', true],
    // The client has all the upstream sent, and the gateway waits on the upstream when it leaves.
    ['has gone silent', false],
  ])('a client that leaves mid-answer while the upstream %s: the upstream read stops, credits come back, the channel slot is free', async (_name, drips) => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream, { max_concurrent: 1 })]);
    const key = await meteredKey(gw, 5);
    const body = Buffer.from(answerText([{ bytes: BIG, revised: 'left early' }]));
    const firstPart = 150 * 1024;
    upstream.next(async ({ res }) => {
      res.writeHead(200, { ...JSON_HEADERS, 'content-length': String(body.length) });
      await writeInPieces(res, body.subarray(0, firstPart), 16 * 1024);
      // Then 1 KB every 100 ms (or nothing at all): far slower than the test, which ends it.
      for (let at = firstPart; at < body.length && !res.destroyed; at += 1024) {
        if (drips) await write(res, body.subarray(at, at + 1024));
        await sleep(100);
      }
      if (!res.destroyed) res.end();
    });

    const controller = new AbortController();
    const res = await within(
      fetch(`${gw.baseURL}/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', 'x-request-id': 'client-left' },
        body: JSON.stringify(GENERATE),
        signal: controller.signal,
      }),
      8_000,
      'the answer did not begin',
    ).catch((err: unknown) => {
      controller.abort();
      throw err;
    });
    expect(res.status).toBe(200);
    if (!res.body) throw new Error('no body');
    const reader = res.body.getReader();
    let received = 0;
    const readUpTo = drips ? 32 * 1024 : 0.9 * firstPart;
    while (received < readUpTo) {
      const { done, value } = await within(reader.read(), 8_000, 'the first part of the image did not arrive');
      if (done) throw new Error('the answer ended before the client left');
      received += value.length;
    }
    if (!drips) await sleep(300);
    controller.abort();
    await reader.cancel().catch(() => {});

    await expect.poll(() => upstream.calls[0]?.closedEarly, { timeout: 5_000 }).toBe(true);
    await expect.poll(() => balanceMicros(gw, key.id), { timeout: 5_000 }).toBe(5_000_000);
    await expect.poll(() => logRow(gw, 'client-left'), { timeout: 5_000 }).toMatchObject({ status: 499, error_code: 'client_closed_request', delivered: 0 });
    await expect.poll(async () => (await imageRows(gw)).length, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => imageFiles(gw), { timeout: 5_000 }).toEqual([]);

    // max_concurrent 1: had the first answer kept its slot, this one would wait for it.
    upstream.next(imageAnswer(answerText([{ bytes: OTHER }])));
    const answer = await within(
      key.client.images.generate(GENERATE, { headers: { 'x-request-id': 'after-leaving' } }),
      6_000,
      'the following request did not get the channel',
    );
    expect(decoded(answer)).toEqual([OTHER]);
    expect(upstream.calls).toHaveLength(2);
  });
});

describe('answers stored at the same time', () => {
  // Their records' sizes are written together, in one update for all of them (storage/image-records.ts).
  it.each([['SQLite'], ...(runPostgres ? [['PostgreSQL']] : [])])('%s: six at once, each record sized with its own image', async (database) => {
    const env: Record<string, string> = {};
    if (database === 'PostgreSQL') {
      const pg = await createTestDatabase();
      onCleanup(() => pg.drop());
      env.DATABASE_URL = pg.url;
    }
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)], env);
    const images = await Promise.all([40, 56, 72, 88, 104, 120].map((side, i) => noisePng(side, side, 10 + i)));
    upstream.next(...images.map((bytes) => imageAnswer(answerText([{ bytes }]))));
    const answers = await Promise.all(images.map((_, i) => gw.client.images.generate(GENERATE, { headers: { 'x-request-id': `together-${i}` } })));
    // Each call got one of the images (the upstream answers them in the order they reached it).
    expect(answers.map((a) => a.data?.[0]?.b64_json ?? '').sort()).toEqual(images.map((i) => i.toString('base64')).sort());
    for (const [i, answer] of answers.entries()) await expectStored(gw, `together-${i}`, [Buffer.from(answer.data?.[0]?.b64_json ?? '', 'base64')]);
  });
});

describe('failures before the first image byte are ordinary answers', () => {
  it.each([
    ['a few bytes', Buffer.from('this is certainly not an image')],
    ['50 KB', Buffer.from(Array.from({ length: 50 * 1024 }, (_, i) => (i * 31 + 7) % 251))],
  ])('a 200 whose b64_json is not an image (%s): 502 upstream_invalid_response in the OpenAI envelope, nothing stored', async (_name, junk) => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    upstream.always(imageAnswer(answerText([{ bytes: junk, revised: 'junk' }])));
    const res = await postGeneration(gw, GENERATE, 'not-an-image');
    expect(res.status).toBe(502);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    expect(typeof error.message).toBe('string');
    expect(error).toEqual({ message: error.message, type: 'server_error', param: null, code: 'upstream_invalid_response' });
    await expect.poll(() => logRow(gw, 'not-an-image'), { timeout: 5_000 }).toMatchObject({ status: 502, error_code: 'upstream_invalid_response' });
    expect(await imageRows(gw)).toEqual([]);
    expect(await imageFiles(gw)).toEqual([]);
  });

  it('channel A answers 500, channel B the image: 200 with B’s image', async () => {
    const a = later(await scriptedUpstream());
    const b = later(await scriptedUpstream());
    a.always(errorAnswer(500));
    b.always(imageAnswer(answerText([{ bytes: SECOND, revised: 'from B' }])));
    const gw = await gatewayWith([channel('a', a, { priority: 10 }), channel('b', b, { priority: 0 })]);
    const answer = await gw.client.images.generate(GENERATE, { headers: { 'x-request-id': 'failed-over' } });
    expect(decoded(answer)).toEqual([SECOND]);
    expect(answer.data?.[0]?.revised_prompt).toBe('from B');
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(1);
    await expectStored(gw, 'failed-over', [SECOND]);
  });
});

describe('an image in another format than asked', () => {
  it('output_format jpeg, the upstream ignores it and sends PNG: the client gets a JPEG', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    upstream.next(imageAnswer(answerText([{ bytes: BIG, revised: 'png after all' }])));
    const answer = await gw.client.images.generate({ ...GENERATE, output_format: 'jpeg' }, { headers: { 'x-request-id': 'wants-jpeg' } });
    expect(upstream.calls[0]?.body.output_format).toBe('jpeg');
    const [image] = decoded(answer);
    if (!image) throw new Error('no image');
    expect([...image.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect((await sharp(image).metadata()).format).toBe('jpeg');
    expect(await sharp(image).metadata()).toMatchObject({ width: 320, height: 320 });
    expect(answer.output_format).toBe('jpeg');
    expect(answer.data?.[0]?.revised_prompt).toBe('png after all');
    // What is stored is what the client got.
    await expect.poll(async () => (await storedImages(gw, 'wants-jpeg')).filter((s) => s.file !== null).length, { timeout: 5_000 }).toBe(1);
    expect(await storedImages(gw, 'wants-jpeg')).toEqual([{ mime: 'image/jpeg', bytes: image.length, file: image }]);
  });
});

describe('url answers are stored as they arrive', () => {
  /** The upstream cuts the connection once `bytes` of its answer are out. */
  const cutAfter =
    (text: string, bytes: number): Script =>
    async ({ res }) => {
      res.writeHead(200, JSON_HEADERS);
      await writeInPieces(res, Buffer.from(text).subarray(0, bytes), 16 * 1024);
      res.socket?.destroy();
    };

  it('n=2: each link serves exactly the image the upstream sent, the records are sized, the stream reached disk whole', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    upstream.next(imageAnswer(answerText([{ bytes: BIG, revised: 'first' }, { bytes: SECOND }], true)));
    const answer = await gw.client.images.generate({ ...GENERATE, n: 2, response_format: 'url' }, { headers: { 'x-request-id': 'as-links' } });
    const links = (answer.data ?? []).map((d) => d.url ?? '');
    expect(links).toHaveLength(2);
    expect(answer.data?.[0]?.revised_prompt).toBe('first');
    const served = await Promise.all(links.map(async (link) => Buffer.from(await (await fetch(link)).arrayBuffer())));
    expect(served).toEqual([BIG, SECOND]);
    // The links work the moment the answer is out: the images were stored before it.
    await expectStored(gw, 'as-links', [BIG, SECOND]);
  });

  it('an upstream that cuts the connection mid-image fails over (nothing was sent to the client yet); the broken image leaves nothing behind', async () => {
    const a = later(await scriptedUpstream());
    const b = later(await scriptedUpstream());
    a.always(cutAfter(answerText([{ bytes: BIG }]), 100 * 1024));
    b.always(imageAnswer(answerText([{ bytes: SECOND }])));
    const gw = await gatewayWith([channel('a', a, { priority: 10 }), channel('b', b, { priority: 0 })]);
    const answer = await gw.client.images.generate({ ...GENERATE, response_format: 'url' }, { headers: { 'x-request-id': 'cut-then-b' } });
    const link = answer.data?.[0]?.url ?? '';
    expect(Buffer.from(await (await fetch(link)).arrayBuffer())).toEqual(SECOND);
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(1);
    await expectStored(gw, 'cut-then-b', [SECOND]);
    // Only B's image: A's half image is gone, record and file.
    await expect.poll(async () => (await imageRows(gw, 'cut-then-b')).length, { timeout: 5_000 }).toBe(1);
    expect(await imageFiles(gw)).toHaveLength(1);
  });
});

describe('stream: partial images pass through as they arrive', () => {
  const STREAM = { model: 'gpt-image-1', prompt: 'noise, streamed', stream: true, partial_images: 1 } as const;
  const SSE_HEADERS = { 'content-type': 'text/event-stream' };
  const partialHead = '{"type":"image_generation.partial_image","b64_json":"';
  const partialTail = '","created_at":1713833628,"size":"1024x1024","quality":"low","background":"opaque","output_format":"png","partial_image_index":0}';
  const completed = (image: Buffer) =>
    `event: image_generation.completed\ndata: {"type":"image_generation.completed","b64_json":"${image.toString('base64')}","created_at":1713833629,"size":"1024x1024","quality":"low","background":"opaque","output_format":"png","usage":${JSON.stringify(USAGE)}}\n\n`;

  /** A raw streaming POST; the body is read by the caller. */
  const postStream = (gw: TestGateway) =>
    fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(STREAM),
    });

  it('the client has the first half of a partial image before the upstream sends the rest of its event; the events are whole and exact', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    const partial = Buffer.from(`event: image_generation.partial_image\ndata: ${partialHead}${BIG.toString('base64')}${partialTail}\n\n`);
    const half = Math.floor(partial.length / 2);
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    upstream.next(async ({ res }) => {
      res.writeHead(200, SSE_HEADERS);
      await write(res, partial.subarray(0, half));
      await Promise.race([released, sleep(5_000)]);
      await write(res, partial.subarray(half));
      res.end(completed(SECOND));
    });
    const res = await postStream(gw);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const received: Buffer[] = [];
    let bytes = 0;
    // The image's base64 is ~4/3 of it; most of the first half of the event must come through.
    while (bytes < half * 0.9) {
      const { value, done } = await within(reader.read(), 4_000, 'the first half of the partial image reached the client');
      if (done) break;
      received.push(Buffer.from(value));
      bytes += value.length;
    }
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received.push(Buffer.from(value));
    }
    const events = Buffer.concat(received)
      .toString('utf8')
      .split('\n\n')
      .filter((block) => block.startsWith('event:'))
      .map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual(['image_generation.partial_image', 'image_generation.completed']);
    expect(Buffer.from(String(events[0]?.b64_json), 'base64')).toEqual(BIG);
    expect(events[0]).toMatchObject({ partial_image_index: 0, size: '1024x1024', quality: 'low' });
    expect(Buffer.from(String(events[1]?.b64_json), 'base64')).toEqual(SECOND);
  });

  it('an upstream cut inside a partial image cuts the client stream (never an unfinished event that looks whole); credits come back', async () => {
    const upstream = later(await scriptedUpstream());
    const gw = await gatewayWith([channel('up', upstream)]);
    const metered = await meteredKey(gw, 5);
    const partial = Buffer.from(`event: image_generation.partial_image\ndata: ${partialHead}${BIG.toString('base64')}${partialTail}\n\n`);
    upstream.next(async ({ res }) => {
      res.writeHead(200, SSE_HEADERS);
      await writeInPieces(res, partial.subarray(0, 100 * 1024), 16 * 1024);
      res.socket?.destroy();
    });
    const res = await fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${metered.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(STREAM),
    });
    expect(res.status).toBe(200);
    const failure = await rejectionWithin(res.text(), 8_000);
    expect(failure).toBeInstanceOf(Error);
    await expect.poll(() => balanceMicros(gw, metered.id), { timeout: 5_000 }).toBe(5_000_000);
  });
});

describe('IMAGEGATE_KEEP_B64_IMAGES=false', () => {
  it('b64_json answers pass through untouched and nothing is stored; url answers are still stored', async () => {
    const upstream = later(await scriptedUpstream());
    const file = await writeConfigFile({ channels: [channel('up', upstream)] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_KEEP_B64_IMAGES: 'false' }));
    upstream.always(imageAnswer(answerText([{ bytes: BIG, revised: 'passed on' }, { bytes: SECOND }])));
    const answer = await gw.client.images.generate({ ...GENERATE, n: 2 }, { headers: { 'x-request-id': 'not-kept' } });
    expect(decoded(answer)).toEqual([BIG, SECOND]);
    expect(answer.data?.[0]?.revised_prompt).toBe('passed on');
    // The request is over (logged); no image of it was recorded or written.
    await expect.poll(() => logRow(gw, 'not-kept'), { timeout: 5_000 }).toMatchObject({ status: 200, delivered: 2 });
    expect(await imageRows(gw)).toEqual([]);
    expect(await imageFiles(gw)).toEqual([]);
    const linked = await gw.client.images.generate({ ...GENERATE, response_format: 'url' }, { headers: { 'x-request-id': 'still-linked' } });
    expect(Buffer.from(await (await fetch(linked.data?.[0]?.url ?? '')).arrayBuffer())).toEqual(BIG);
    await expectStored(gw, 'still-linked', [BIG, SECOND]);
  });
});

describe('a client that stops reading', () => {
  it('is not mistaken for an upstream that pauses mid-answer: with nothing waiting for the client, the answer goes on', async () => {
    const upstream = later(await scriptedUpstream());
    const file = await writeConfigFile({ channels: [channel('up', upstream)] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_SEND_TIMEOUT: '1s' }));
    const text = Buffer.from(answerText([{ bytes: BIG }]));
    upstream.next(async ({ res }) => {
      res.writeHead(200, JSON_HEADERS);
      await writeInPieces(res, text.subarray(0, text.length >> 1), 16 * 1024);
      await sleep(2_500); // well past the idle bound, with the client reading all it was sent
      await writeInPieces(res, text.subarray(text.length >> 1), 16 * 1024);
      res.end();
    });
    const answer = await gw.client.images.generate(GENERATE);
    expect(decoded(answer)).toEqual([BIG]);
  });

  it('is cut off after IMAGEGATE_SEND_TIMEOUT; the upstream answer is over and the channel slot let go', async () => {
    const HUGE = await noisePng(1800, 1800, 4); // ~9.7 MB: more than the sockets between us hold
    const upstream = later(await scriptedUpstream());
    const file = await writeConfigFile({ channels: [channel('up', upstream, { max_concurrent: 1 })] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_SEND_TIMEOUT: '1s' }));
    upstream.next(imageAnswer(answerText([{ bytes: HUGE }])));
    upstream.always(imageAnswer(answerText([{ bytes: SECOND }])));
    // A raw client that sends its request and never reads the answer.
    const { connect } = await import('node:net');
    const port = Number(new URL(gw.origin).port);
    const stalled = connect(port, '127.0.0.1');
    stalled.pause();
    stalled.on('error', () => {}); // the reset it gets when cut off
    onCleanup(async () => void stalled.destroy());
    const body = JSON.stringify(GENERATE);
    stalled.write(
      `POST /v1/images/generations HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\nx-request-id: stalled\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    // Cut off, and the upstream's answer is over too (read ahead whole within the memory budget, the
    // gateway does not wait on the client for it), and the run ends (logged last).
    await expect.poll(() => upstream.calls[0]?.over, { timeout: 10_000 }).toBe(true);
    await expect.poll(async () => (await logRow(gw, 'stalled'))?.status, { timeout: 5_000 }).toBe(499);
    // The channel's only slot is free again.
    const answer = await gw.client.images.generate(GENERATE);
    expect(decoded(answer)).toEqual([SECOND]);
  });
});
