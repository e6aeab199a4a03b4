/**
 * The request log (issue 16): one structured line per request, through the real gateway on port 0
 * with a captured pino destination. 40 requests of mixed kinds (b64 passed through, url answers and
 * their signed links, 400, 401, 404, SSE streams, upstream failures, a client that leaves
 * mid-answer, probes, admin and task routes) give exactly one line each, with the right fields,
 * written once the answer has ended (bytes out as sent). No line holds a key, a prompt (unless
 * IMAGEGATE_LOG_PROMPTS) or a signed link's query; every line is JSON with one `msg`. A failed
 * webhook attempt is one line; IMAGEGATE_LOG_FORMAT=pretty writes lines for people.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { noisePng } from './helpers/images.js';

closeAfterEach();

/** Every prompt carries it: no line may. */
const PROMPT_MARK = 'PROMPTMARK-zebra-4821';
const WRONG_KEY = 'ig-wrongwrongwrongwrong-0123456789';

// ---------------------------------------------------------------------------------------------
// What the gateway logged

interface Captured {
  logger: Logger;
  /** Each write, as written (one line each). */
  raw: string[];
  lines(): Record<string, unknown>[];
  /** The request lines, by request id. */
  requestLines(id: string): Record<string, unknown>[];
}

function capture(level = 'debug'): Captured {
  const raw: string[] = [];
  const lines = () => raw.map((text) => JSON.parse(text) as Record<string, unknown>);
  return {
    logger: pino({ level }, { write: (text: string) => void raw.push(text) }),
    raw,
    lines,
    requestLines: (id) => lines().filter((l) => l.msg === 'request' && l.reqId === id),
  };
}

/** The keys of a JSON object's top level, as written (JSON.parse would keep only the last of two). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      let next = end + 1;
      while (text[next] === ' ') next++;
      if (depth === 1 && text[next] === ':') keys.push(JSON.parse(text.slice(i, end + 1)) as string);
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// An upstream: b64 answers in pieces, SSE streams, failures, and one slow answer to leave

const SMALL = await noisePng(64, 64, 1);
const BIG = await noisePng(320, 320, 2); // ~410 KB of base64

function answerText(image: Buffer): string {
  return `{"created":1713833628,"data":[{"b64_json":"${image.toString('base64')}"}],"size":"1024x1024","quality":"low","output_format":"png"}`;
}

function write(res: ServerResponse, piece: Buffer | string): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('connection closed'));
  return new Promise((resolve, reject) => res.write(piece, (err) => (err ? reject(err) : resolve())));
}

async function writeInPieces(res: ServerResponse, body: Buffer, pieceBytes: number): Promise<void> {
  for (let at = 0; at < body.length; at += pieceBytes) await write(res, body.subarray(at, at + pieceBytes));
}

const partialEvent = (image: Buffer) =>
  `event: image_generation.partial_image\ndata: {"type":"image_generation.partial_image","b64_json":"${image.toString('base64')}","created_at":1713833628,"size":"1024x1024","quality":"low","background":"opaque","output_format":"png","partial_image_index":0}\n\n`;
const completedEvent = (image: Buffer) =>
  `event: image_generation.completed\ndata: {"type":"image_generation.completed","b64_json":"${image.toString('base64')}","created_at":1713833629,"size":"1024x1024","quality":"low","background":"opaque","output_format":"png"}\n\n`;

/** Answers by what the prompt asks: `fail` 500, `slow` a big answer that then drips, stream: SSE; else a small image. */
async function upstream(): Promise<{ baseURL: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { prompt?: string; stream?: boolean };
      const prompt = String(body.prompt);
      const answer = async () => {
        if (prompt.includes('fail')) {
          res
            .writeHead(500, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: { message: 'scripted 500', type: 'server_error', code: null, param: null } }));
          return;
        }
        if (body.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          await write(res, partialEvent(SMALL));
          res.end(completedEvent(SMALL));
          return;
        }
        if (prompt.includes('slow')) {
          const text = Buffer.from(answerText(BIG));
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(text.length) });
          const first = 150 * 1024;
          await writeInPieces(res, text.subarray(0, first), 16 * 1024);
          // Far slower than the test, which leaves.
          for (let at = first; at < text.length && !res.destroyed; at += 1024) {
            await write(res, text.subarray(at, at + 1024));
            await sleep(100);
          }
          if (!res.destroyed) res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        await writeInPieces(res, Buffer.from(answerText(SMALL)), 4 * 1024);
        res.end();
      };
      answer().catch(() => res.destroy());
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `good` serves the gpt-image models; `bad` (dall-e-3) always answers 500. */
async function gatewayWithUpstream(log: Captured, env: Record<string, string> = {}): Promise<TestGateway> {
  const up = later(await upstream());
  const file = await writeConfigFile({
    channels: [relayChannel('good', up.baseURL, { models: ['gpt-image-1', 'gpt-image-2'] }), relayChannel('bad', up.baseURL, { models: ['dall-e-3'] })],
  });
  return later(
    await startGateway(
      { IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_MAX_ATTEMPTS: '2', IMAGEGATE_TASK_POLL: '50ms', ...env },
      { logger: log.logger },
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// The 40 requests

interface Expected {
  id: string;
  status: number;
  route: string | null;
  code?: string;
  /** pino's level: 20 debug, 30 info, 40 warn. */
  level: number;
  keyed: boolean;
  model?: string;
  delivered?: number;
  /** Upstream attempts: exactly this many, or at least one for failures that retry. */
  attempts?: number | 'some';
  cut?: boolean;
  /** The body the client received (bytes out is that plus the status line and headers). */
  bodyBytes?: number;
}

interface Sent {
  expected: Expected;
  /** Text that must never be logged (signed links' queries). */
  secrets: string[];
}

describe('one line per request', () => {
  it('40 requests of mixed kinds: one line each, with the right fields; no key, prompt or signed-link query in any line', async () => {
    const log = capture();
    const gw = await gatewayWithUpstream(log);
    const keyPrefix = gw.apiKey.slice(0, 10);
    const sent: Sent[] = [];
    let counter = 0;
    const nextId = (kind: string) => `t${++counter}-${kind}`;

    /** A request with its id; reads the whole body. */
    const call = async (
      kind: string,
      method: string,
      path: string,
      init: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
    ) => {
      const id = nextId(kind);
      const key = init.key === undefined ? gw.apiKey : init.key;
      const headers: Record<string, string> = { 'x-request-id': id, ...(key ? { authorization: `Bearer ${key}` } : {}), ...init.headers };
      const body = init.raw ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${gw.origin}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      const bytes = Buffer.from(await res.arrayBuffer());
      return { id, res, bytes };
    };
    const expect1 = (expected: Expected, secrets: string[] = []) => void sent.push({ expected, secrets });
    const prompt = (what: string) => `${PROMPT_MARK} ${what}`;

    // b64_json, passed through as it arrives: 6
    for (let i = 0; i < 6; i++) {
      const { id, res, bytes } = await call('b64', 'POST', '/v1/images/generations', {
        body: { model: 'gpt-image-1', prompt: prompt('b64'), response_format: 'b64_json' },
      });
      expect(res.status).toBe(200);
      expect1({
        id,
        status: 200,
        route: '/v1/images/generations',
        level: 30,
        keyed: true,
        model: 'gpt-image-1',
        delivered: 1,
        attempts: 1,
        bodyBytes: bytes.length,
      });
    }
    // url answers, then their signed links: 3 + 3
    const links: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { id, res, bytes } = await call('url', 'POST', '/v1/images/generations', {
        body: { model: 'gpt-image-2', prompt: prompt('url'), response_format: 'url' },
      });
      expect(res.status).toBe(200);
      const link = String((JSON.parse(bytes.toString('utf8')) as { data: { url: string }[] }).data[0]?.url);
      links.push(link);
      expect1({
        id,
        status: 200,
        route: '/v1/images/generations',
        level: 30,
        keyed: true,
        model: 'gpt-image-2',
        delivered: 1,
        attempts: 1,
        bodyBytes: bytes.length,
      });
    }
    for (const link of links) {
      const url = new URL(link);
      expect(url.search.length).toBeGreaterThan(10);
      const { id, res, bytes } = await call('file', 'GET', `${url.pathname}${url.search}`, { key: null });
      expect(res.status).toBe(200);
      expect1({ id, status: 200, route: '/files/:name', level: 30, keyed: false, bodyBytes: bytes.length }, [
        url.search.slice(1),
        ...url.searchParams.values(),
      ]);
    }
    // 400s: 4
    for (const [what, init, code] of [
      ['size', { body: { model: 'gpt-image-1', prompt: prompt('bad size'), size: '13x7' } }, 'invalid_value'],
      ['no-prompt', { body: { model: 'gpt-image-1' } }, 'missing_required_parameter'],
      ['json', { raw: '{"prompt": ' }, 'invalid_json'],
      ['n', { body: { model: 'gpt-image-1', prompt: prompt('n'), n: 99 } }, undefined],
    ] as const) {
      const { id, res, bytes } = await call(`400-${what}`, 'POST', '/v1/images/generations', init);
      expect(res.status, what).toBe(400);
      const sentCode = (JSON.parse(bytes.toString('utf8')) as { error: { code: string } }).error.code;
      if (code) expect(sentCode).toBe(code);
      expect1({ id, status: 400, route: '/v1/images/generations', code: sentCode, level: 30, keyed: true, bodyBytes: bytes.length });
    }
    // 401s: 3
    for (const [what, key] of [
      ['none', null],
      ['wrong', WRONG_KEY],
      ['short', 'abc'],
    ] as const) {
      const { id, res, bytes } = await call(`401-${what}`, 'POST', '/v1/images/generations', { key, body: { model: 'gpt-image-1', prompt: prompt('401') } });
      expect(res.status, what).toBe(401);
      expect1({ id, status: 401, route: '/v1/images/generations', code: 'invalid_api_key', level: 30, keyed: false, bodyBytes: bytes.length });
    }
    // 404s: 3 (an unrouted path with a token in its query, a model, a new-api task)
    {
      const unrouted = await call('404-path', 'GET', '/v1/nope/42?token=QUERYSECRET-77');
      expect(unrouted.res.status).toBe(404);
      expect1({ id: unrouted.id, status: 404, route: null, code: 'not_found', level: 30, keyed: false, bodyBytes: unrouted.bytes.length }, ['QUERYSECRET-77']);
      const model = await call('404-model', 'GET', '/v1/models/no-such-model');
      expect(model.res.status).toBe(404);
      expect1({ id: model.id, status: 404, route: '/v1/models/:model', code: 'model_not_found', level: 30, keyed: true, bodyBytes: model.bytes.length });
      const task = await call('404-task', 'GET', '/v1/images/tasks/task_nope');
      expect(task.res.status).toBe(404);
      expect1({ id: task.id, status: 404, route: '/v1/images/tasks/:id', level: 30, keyed: true, bodyBytes: task.bytes.length });
    }
    // SSE streams: 3
    for (let i = 0; i < 3; i++) {
      const { id, res, bytes } = await call('sse', 'POST', '/v1/images/generations', {
        body: { model: 'gpt-image-1', prompt: prompt('streamed'), stream: true, partial_images: 1 },
      });
      expect(res.status).toBe(200);
      expect(bytes.toString('utf8')).toContain('image_generation.completed');
      expect1({
        id,
        status: 200,
        route: '/v1/images/generations',
        level: 30,
        keyed: true,
        model: 'gpt-image-1',
        delivered: 1,
        attempts: 1,
        bodyBytes: bytes.length,
      });
    }
    // Upstream failures: 2 (502 after its attempts, at warn)
    for (let i = 0; i < 2; i++) {
      const { id, res, bytes } = await call('502', 'POST', '/v1/images/generations', {
        body: { model: 'dall-e-3', prompt: prompt('fail'), response_format: 'b64_json' },
      });
      expect(res.status).toBe(502);
      const code = (JSON.parse(bytes.toString('utf8')) as { error: { code: string } }).error.code;
      expect1({
        id,
        status: 502,
        route: '/v1/images/generations',
        code,
        level: 40,
        keyed: true,
        model: 'dall-e-3',
        delivered: 0,
        attempts: 'some',
        bodyBytes: bytes.length,
      });
    }
    // A client that leaves mid-answer: 1 (499, cut, after its run has been refunded)
    {
      const id = nextId('left');
      const controller = new AbortController();
      const res = await fetch(`${gw.baseURL}/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: 'gpt-image-1', prompt: prompt('slow'), response_format: 'b64_json' }),
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let received = 0;
      while (received < 32 * 1024) {
        const { done, value } = await reader.read();
        if (done) throw new Error('the answer ended before the client left');
        received += value.length;
      }
      controller.abort();
      await reader.cancel().catch(() => {});
      expect1({
        id,
        status: 499,
        route: '/v1/images/generations',
        code: 'client_closed_request',
        level: 30,
        keyed: true,
        model: 'gpt-image-1',
        delivered: 0,
        attempts: 1,
        cut: true,
      });
    }
    // The model list, probes: 3 (a passing probe at debug)
    {
      const models = await call('models', 'GET', '/v1/models');
      expect(models.res.status).toBe(200);
      expect1({ id: models.id, status: 200, route: '/v1/models', level: 30, keyed: true, bodyBytes: models.bytes.length });
      const livez = await call('livez', 'GET', '/livez', { key: null });
      expect1({ id: livez.id, status: 200, route: '/livez', level: 20, keyed: false, bodyBytes: livez.bytes.length });
      const readyz = await call('readyz', 'GET', '/readyz', { key: null });
      expect(readyz.res.status).toBe(200);
      expect1({ id: readyz.id, status: 200, route: '/readyz', level: 20, keyed: false, bodyBytes: readyz.bytes.length });
    }
    // Admin: 2 (the admin key is never logged, nor a prefix of it)
    {
      const keys = await call('admin', 'GET', '/admin/api/keys', { key: TEST_ADMIN_KEY });
      expect(keys.res.status).toBe(200);
      expect1({ id: keys.id, status: 200, route: '/admin/api/keys', level: 30, keyed: false, bodyBytes: keys.bytes.length });
      const refused = await call('admin-401', 'GET', '/admin/api/keys', { key: WRONG_KEY });
      expect(refused.res.status).toBe(401);
      const code = (JSON.parse(refused.bytes.toString('utf8')) as { error: { code: string } }).error.code;
      expect1({ id: refused.id, status: 401, route: '/admin/api/keys', code, level: 30, keyed: false, bodyBytes: refused.bytes.length });
    }
    // The task API: 2 (a task, then its state; its task_id query is not logged)
    {
      const submit = await call('task', 'POST', '/api/v1/images/generations', { body: { model: 'gpt-image-2', prompt: prompt('task') } });
      expect(submit.res.status).toBe(200);
      const taskId = String((JSON.parse(submit.bytes.toString('utf8')) as { data: { taskId: string } }).data.taskId);
      expect1({
        id: submit.id,
        status: 200,
        route: '/api/v1/images/generations',
        level: 30,
        keyed: true,
        model: 'gpt-image-2',
        bodyBytes: submit.bytes.length,
      });
      const state = await call('task-state', 'GET', `/api/v1/images/generations?task_id=${taskId}`);
      expect(state.res.status).toBe(200);
      expect1({ id: state.id, status: 200, route: '/api/v1/images/generations', level: 30, keyed: true, bodyBytes: state.bytes.length }, [taskId]);
    }
    // new-api's async dialect: 2 (a task, then its state)
    {
      const submit = await call('newapi', 'POST', '/v1/images/generations', {
        body: { model: 'gpt-image-2', prompt: prompt('newapi task') },
        headers: { 'x-new-api-async-task': 'true' },
      });
      expect(submit.res.status).toBe(200);
      const taskId = String((JSON.parse(submit.bytes.toString('utf8')) as { data: { task_id: string } }).data.task_id);
      expect1({ id: submit.id, status: 200, route: '/v1/images/generations', level: 30, keyed: true, model: 'gpt-image-2', bodyBytes: submit.bytes.length });
      const state = await call('newapi-state', 'GET', `/v1/images/tasks/${taskId}`);
      expect(state.res.status).toBe(200);
      expect1({ id: state.id, status: 200, route: '/v1/images/tasks/:id', level: 30, keyed: true, bodyBytes: state.bytes.length });
    }
    // At once, on several connections: 3
    await Promise.all(
      [1, 2, 3].map(async () => {
        const { id, res, bytes } = await call('together', 'POST', '/v1/images/generations', {
          body: { model: 'gpt-image-1', prompt: prompt('together'), response_format: 'b64_json' },
        });
        expect(res.status).toBe(200);
        expect1({
          id,
          status: 200,
          route: '/v1/images/generations',
          level: 30,
          keyed: true,
          model: 'gpt-image-1',
          delivered: 1,
          attempts: 1,
          bodyBytes: bytes.length,
        });
      }),
    );
    expect(sent).toHaveLength(40);

    // The one that left is written once its run has been refunded.
    await expect.poll(() => sent.every(({ expected }) => log.requestLines(expected.id).length > 0), { timeout: 10_000 }).toBe(true);
    for (const { expected } of sent) {
      const lines = log.requestLines(expected.id);
      expect(lines, expected.id).toHaveLength(1);
      const line = lines[0] as Record<string, unknown>;
      expect(line, expected.id).toMatchObject({
        level: expected.level,
        method: expect.any(String),
        route: expected.route,
        status: expected.status,
        latencyMs: expect.any(Number),
        bytesOut: expect.any(Number),
      });
      if (expected.code !== undefined) expect(line.code, expected.id).toEqual(expected.code);
      if (expected.status < 400) expect(line.code, expected.id).toBeUndefined();
      if (line.code !== undefined) expect(typeof line.reason, expected.id).toBe('string');
      expect(line.keyPrefix, expected.id).toBe(expected.keyed ? keyPrefix : undefined);
      expect(line.model, expected.id).toBe(expected.model);
      expect(line.delivered, expected.id).toBe(expected.delivered);
      expect(line.cut, expected.id).toBe(expected.cut);
      expect(line.prompt, expected.id).toBeUndefined();
      if (expected.attempts === undefined) {
        expect(line.attempts, expected.id).toBeUndefined();
      } else {
        const attempts = line.attempts as { channel: string; outcome: string; latencyMs: number }[];
        if (expected.attempts === 'some') expect(attempts.length, expected.id).toBeGreaterThan(0);
        else expect(attempts, expected.id).toHaveLength(expected.attempts);
        const channel = expected.model === 'dall-e-3' ? 'bad' : 'good';
        for (const attempt of attempts)
          expect(attempt, expected.id).toMatchObject({
            channel,
            outcome: expected.status === 200 || expected.cut ? 'ok' : expect.not.stringMatching(/^ok$/),
            latencyMs: expect.any(Number),
          });
        expect(line.upstreamLatencyMs, expected.id).toBe(attempts.reduce((sum, a) => sum + a.latencyMs, 0));
      }
      // Bytes out: the body the client read plus the status line and headers.
      const bytesOut = Number(line.bytesOut);
      if (expected.bodyBytes !== undefined) {
        expect(bytesOut, expected.id).toBeGreaterThan(expected.bodyBytes);
        expect(bytesOut, expected.id).toBeLessThan(expected.bodyBytes + 2_048);
      } else {
        expect(bytesOut, expected.id).toBeGreaterThan(32 * 1024);
      }
    }
    expect(log.lines().filter((l) => l.msg === 'request')).toHaveLength(40);

    // Nothing secret, in any line; each line one JSON object with one msg.
    const secrets = [gw.apiKey, WRONG_KEY, TEST_ADMIN_KEY, PROMPT_MARK, ...sent.flatMap((s) => s.secrets)];
    for (const text of log.raw) {
      expect(() => JSON.parse(text), text).not.toThrow();
      expect(
        topLevelKeys(text).filter((k) => k === 'msg'),
        text,
      ).toHaveLength(1);
      for (const secret of secrets) expect(text.includes(secret), `${secret} in ${text}`).toBe(false);
    }
  });

  it('IMAGEGATE_LOG_PROMPTS=true: a request line carries its prompt', async () => {
    const log = capture('info');
    const gw = await gatewayWithUpstream(log, { IMAGEGATE_LOG_PROMPTS: 'true' });
    const res = await fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', 'x-request-id': 'with-prompt' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: `${PROMPT_MARK} shown`, response_format: 'b64_json' }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await expect.poll(() => log.requestLines('with-prompt').length).toBe(1);
    expect(log.requestLines('with-prompt')[0]).toMatchObject({ prompt: `${PROMPT_MARK} shown`, model: 'gpt-image-1', delivered: 1 });
  });
});

describe('state changes, once each', () => {
  it('a webhook attempt that fails is one line (delivery, attempt, status), the URL only by its host; the retry that succeeds is none', async () => {
    const log = capture('info');
    const gw = await gatewayWithUpstream(log, { IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1' });
    const calls: number[] = [];
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        calls.push(Date.now());
        res.writeHead(calls.length === 1 ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const host = `127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const res = await fetch(`${gw.origin}/api/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-2', prompt: `${PROMPT_MARK} hook`, callback_url: `http://${host}/hook?token=HOOKSECRET-5` }),
    });
    expect(res.status).toBe(200);
    const taskId = String(((await res.json()) as { data: { taskId: string } }).data.taskId);

    // 500, then (a second later) 204.
    await expect.poll(() => calls.length, { timeout: 15_000, interval: 50 }).toBe(2);
    await expect
      .poll(async () => (await gw.app.database.db.selectFrom('webhook_deliveries').select('status').where('task_id', '=', taskId).executeTakeFirst())?.status, {
        timeout: 5_000,
      })
      .toBe('delivered');
    const said = log.lines().filter((l) => String(l.msg).startsWith('webhook delivery'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 40, taskId, host, attempt: 1, status: 500, error: 'answered HTTP 500', nextAttemptAt: expect.any(String) });
    expect(String(said[0]?.deliveryId)).toMatch(/^msg_/);
    for (const text of log.raw) {
      expect(text).not.toContain('HOOKSECRET-5');
      expect(text).not.toContain(PROMPT_MARK);
      expect(topLevelKeys(text).filter((k) => k === 'msg')).toHaveLength(1);
    }
  });
});

describe('IMAGEGATE_LOG_FORMAT=pretty', () => {
  it('lines for people: not JSON, a request reads as its method, route, status and time', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-test-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const written: string[] = [];
    const config = loadConfig({ PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_DEMO_DELAY: '0', IMAGEGATE_LOG_FORMAT: 'pretty', LOG_LEVEL: 'info' });
    const app = await createApp(config, { logDestination: { write: (text: string) => void written.push(text) } });
    onCleanup(() => app.close());
    const origin = await app.listen();
    const { key } = await app.keys.create('pretty');
    const res = await fetch(`${origin}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await expect.poll(() => written.join('')).toMatch(/INFO.*: GET \/v1\/models 200 \d+ ms/);
    const text = written.join('');
    expect(text).toMatch(/keyPrefix: "ig-/);
    expect(text).not.toContain(key);
    for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
      expect(() => JSON.parse(line), line).toThrow();
    }
  });
});
