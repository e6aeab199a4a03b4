/**
 * The task API dialect end to end: POST /api/v1/images/generations creates a task,
 * GET ?task_id= follows it pending -> processing -> completed, the result links download;
 * aspect_ratio becomes the upstream size, image_url(s) an upstream edit; callbacks; every error
 * in the `{"code":<status>,"msg","data":null}` envelope with the same HTTP status; Idempotency-Key.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAISimulator, type OpenAISimulatorOptions, type RunningSimulator } from '../sim/openai/simulator.js';
import { startTaskApiSimulator } from '../sim/task-api.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import { startHttpServer, type TestServer } from './helpers/inputs.js';

closeAfterEach();

const ADMIN = 'admin-secret';
const PATH = '/api/v1/images/generations';
const MODEL = 'gpt-image-2-beta';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const photo = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#1e78c8' } })
  .png()
  .toBuffer();
const outfit = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#3a3' } })
  .jpeg()
  .toBuffer();

/** Reference images for image_url(s): /photo.png and /outfit.jpg; anything else 404. */
let files: TestServer;
beforeAll(async () => {
  files = await startHttpServer((req, res) => {
    if (req.url === '/photo.png') res.writeHead(200, { 'content-type': 'image/png' }).end(photo);
    else if (req.url === '/outfit.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(outfit);
    else res.writeHead(404).end();
  });
});
afterAll(() => files.close());

interface Setup {
  gw: TestGateway;
  sim: RunningSimulator;
}

/** The gateway with one OpenAI channel to a simulator; only the test's servers on 127.0.0.1 may be fetched. */
async function setup(simOpts: OpenAISimulatorOptions = {}, env: Record<string, string> = {}): Promise<Setup> {
  const sim = later(await startOpenAISimulator(simOpts));
  const file = await writeConfigFile({ channels: [{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }] });
  const gw = later(
    await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: ADMIN, IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', IMAGEGATE_TASK_POLL: '50ms', ...env }),
  );
  return { gw, sim };
}

interface Envelope {
  code: number;
  msg: string;
  data: Record<string, unknown> | null;
}

interface Answer {
  status: number;
  body: Envelope;
  headers: Headers;
}

async function call(
  gw: TestGateway,
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: unknown; key?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const res = await fetch(`${gw.origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${opts.key ?? gw.apiKey}`,
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let body: Envelope;
  try {
    body = JSON.parse(text) as Envelope;
  } catch {
    throw new Error(`${method} ${path}: ${res.status} answered with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body, headers: res.headers };
}

const create = (gw: TestGateway, body: unknown, opts: { key?: string; headers?: Record<string, string> } = {}) => call(gw, 'POST', PATH, { ...opts, body });
const query = (gw: TestGateway, taskId: string, key?: string) => call(gw, 'GET', `${PATH}?task_id=${encodeURIComponent(taskId)}`, key ? { key } : {});

/** Creates a task and returns its id (the create answer is checked). */
async function createTask(gw: TestGateway, body: unknown, opts: { key?: string; headers?: Record<string, string> } = {}): Promise<string> {
  const res = await create(gw, body, opts);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toMatchObject({ code: 200, msg: 'success', data: { state: 'pending' } });
  const taskId = res.body.data?.taskId;
  expect(typeof taskId).toBe('string');
  return taskId as string;
}

const ORDER = ['pending', 'processing', 'completed', 'failed'];

/**
 * Polls until the task ends; returns every state seen (in order), starting with the create
 * answer's `pending` (workers take a task at once, so the first poll may already see it running),
 * and the final view.
 */
async function untilEnded(gw: TestGateway, taskId: string, key?: string): Promise<{ states: string[]; view: Record<string, unknown> }> {
  const states: string[] = ['pending'];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const res = await query(gw, taskId, key);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.code).toBe(200);
    const view = res.body.data ?? {};
    const state = String(view.state);
    if (states.at(-1) !== state) states.push(state);
    if (state === 'completed' || state === 'failed') return { states, view };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${taskId} did not end; states seen: ${states.join(' -> ')}`);
}

function expectForwardOnly(states: string[]): void {
  for (const state of states) expect(ORDER).toContain(state);
  const ranks = states.map((s) => Math.min(ORDER.indexOf(s), 2)); // completed and failed are both final
  for (let i = 1; i < ranks.length; i++) expect(ranks[i], states.join(' -> ')).toBeGreaterThan(ranks[i - 1] ?? -1);
}

async function adminCreateKey(gw: TestGateway, settings: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${gw.origin}/admin/api/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'task api test', ...settings }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

/** The image requests the simulator got (its control requests excluded). */
const imageRequests = (sim: RunningSimulator) => sim.sim.requests.filter((r) => r.path.startsWith('/v1/images/'));

describe('create and follow a task', () => {
  it('pending -> processing -> completed, never backwards; the result links download', async () => {
    const { gw } = await setup({ latencyMs: 400 });
    const taskId = await createTask(gw, { model: MODEL, prompt: 'A cinematic night-city poster with neon reflections on a rainy street' });
    const { states, view } = await untilEnded(gw, taskId);
    // The upstream takes 400 ms: polls every 20 ms see the task running.
    expect(states).toContain('processing');
    expect(states.at(-1)).toBe('completed');
    expectForwardOnly(states);
    expect(view).toMatchObject({ taskId, model: MODEL, state: 'completed', failCode: null, failMsg: null });
    expect(typeof view.createTime).toBe('number');
    expect(typeof view.completeTime).toBe('number');
    expect(view.completeTime as number).toBeGreaterThanOrEqual(view.createTime as number);
    const urls = view.resultUrls as string[];
    expect(urls).toHaveLength(1);
    for (const url of urls) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\//);
      expect((await describeImage(Buffer.from(await res.arrayBuffer()))).width).toBeGreaterThan(0);
    }
  });

  it('aspect_ratio 16:9 on gpt-image-2 reaches the upstream as 1536x864', async () => {
    const { gw, sim } = await setup();
    const taskId = await createTask(gw, { model: MODEL, prompt: 'a wide poster', aspect_ratio: '16:9' });
    const { view } = await untilEnded(gw, taskId);
    expect(view.state).toBe('completed');
    const upstream = imageRequests(sim).at(-1);
    expect(upstream?.path).toBe('/v1/images/generations');
    expect(upstream?.json).toMatchObject({ model: 'gpt-image-2', size: '1536x864' });
    expect(upstream?.json).not.toHaveProperty('aspect_ratio');
    const image = await fetch((view.resultUrls as string[])[0] ?? '');
    expect(await describeImage(Buffer.from(await image.arrayBuffer()))).toMatchObject({ width: 1536, height: 864 });
  });

  it('image_urls fetched from a local server reach the upstream as an edit, in order', async () => {
    const { gw, sim } = await setup();
    const taskId = await createTask(gw, {
      model: MODEL,
      prompt: 'Dress the model from image 1 in the outfit from image 2',
      image_urls: [`${files.origin}/photo.png`, `${files.origin}/outfit.jpg`],
      aspect_ratio: '3:4',
    });
    expect((await untilEnded(gw, taskId)).view.state).toBe('completed');
    const upstream = imageRequests(sim).at(-1);
    expect(upstream?.path).toBe('/v1/images/edits');
    expect(upstream?.form?.files.map((f) => f.sha256)).toEqual([sha256(photo), sha256(outfit)]);
    expect(upstream?.form?.fields.size).toBe('960x1280');
  });

  it('image_url (one reference) becomes an edit too', async () => {
    const { gw, sim } = await setup();
    const taskId = await createTask(gw, { model: MODEL, prompt: 'a premium poster', image_url: `${files.origin}/photo.png`, aspect_ratio: '4:3' });
    expect((await untilEnded(gw, taskId)).view.state).toBe('completed');
    const upstream = imageRequests(sim).at(-1);
    expect(upstream?.path).toBe('/v1/images/edits');
    expect(upstream?.form?.files.map((f) => f.sha256)).toEqual([sha256(photo)]);
  });

  it('OpenAI fields ride along: n 2 gives two result links', async () => {
    const { gw } = await setup();
    const taskId = await createTask(gw, { model: MODEL, prompt: 'two of them', n: 2, size: '1024x1024', quality: 'low' });
    const { view } = await untilEnded(gw, taskId);
    expect(view.resultUrls as string[]).toHaveLength(2);
  });

  it('an upstream refusal ends the task failed, with failCode and failMsg', async () => {
    const { gw, sim } = await setup({}, { IMAGEGATE_MAX_ATTEMPTS: '1' });
    sim.sim.enqueueFault({ kind: 'status', status: 400, message: 'Your request was rejected by the safety system.', code: 'moderation_blocked' });
    const taskId = await createTask(gw, { model: MODEL, prompt: 'something refused' });
    const { states, view } = await untilEnded(gw, taskId);
    expectForwardOnly(states);
    expect(view.state).toBe('failed');
    expect(view.resultUrls).toBeNull();
    expect(typeof view.failMsg).toBe('string');
    expect(view.failCode).not.toBeNull();
  });

  it('callback_url gets the final task once it completes', async () => {
    const received: unknown[] = [];
    const hook = later(
      await startHttpServer((req, res) => {
        let text = '';
        req.on('data', (chunk: Buffer) => (text += chunk.toString()));
        req.on('end', () => {
          received.push(JSON.parse(text));
          res.writeHead(200).end();
        });
      }),
    );
    const { gw } = await setup();
    const taskId = await createTask(gw, { model: MODEL, prompt: 'a ceramic mug', aspect_ratio: '1:1', callback_url: `${hook.origin}/webhook/image` });
    expect((await untilEnded(gw, taskId)).view.state).toBe('completed');
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(hook.hits).toEqual(['/webhook/image']);
    const payload = received[0] as { code: number; data: { taskId: string; state: string; resultJson: string } };
    expect(payload).toMatchObject({ code: 200, msg: 'success', data: { taskId, state: 'completed' } });
    expect((JSON.parse(payload.data.resultJson) as { resultUrls: string[] }).resultUrls).toHaveLength(1);
  });
});

describe('a task-api upstream', () => {
  it('aspect_ratio and nsfw_checker reach it in its own dialect', async () => {
    const upstream = later(await startTaskApiSimulator({ apiKey: 'tk', taskDurationMs: 50 }));
    const file = await writeConfigFile({ channels: [{ name: 'tasks', kind: 'task-api', base_url: upstream.origin, api_key: 'tk', poll_interval: 0.02 }] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_TASK_POLL: '50ms' }));
    const taskId = await createTask(gw, { model: MODEL, prompt: 'Family-friendly cartoon mascot', aspect_ratio: '9:16', nsfw_checker: true });
    expect((await untilEnded(gw, taskId)).view.state).toBe('completed');
    const sent = upstream.sim.requests.find((r) => r.method === 'POST')?.json;
    expect(sent).toMatchObject({ prompt: 'Family-friendly cartoon mascot', aspect_ratio: '9:16', nsfw_checker: true });
  });
});

describe('an official OpenAI upstream', () => {
  it('never receives the task API fields it would refuse (nsfw_checker, callback_url)', async () => {
    // The simulator, like api.openai.com, answers 400 unknown_parameter to anything else.
    const { gw, sim } = await setup();
    const taskId = await createTask(gw, { model: MODEL, prompt: 'strict upstream', nsfw_checker: true });
    expect((await untilEnded(gw, taskId)).view.state).toBe('completed');
    expect(sim.sim.requests.at(-1)?.json).not.toHaveProperty('nsfw_checker');
  });
});

describe('errors in the task API envelope', () => {
  const expectError = (res: Answer, status: number, msg?: RegExp) => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body).toMatchObject({ code: status, data: null });
    expect(typeof res.body.msg).toBe('string');
    if (msg) expect(res.body.msg).toMatch(msg);
  };

  it('400: missing prompt, missing model, bad aspect_ratio, aspect_ratio with size, 17 image_urls, a bad image_urls item', async () => {
    const { gw, sim } = await setup();
    expectError(await create(gw, { model: MODEL }), 400, /prompt/);
    expectError(await create(gw, { prompt: 'no model' }), 400, /model/);
    expectError(await create(gw, { model: 'no-such-model', prompt: 'x' }), 400, /no-such-model/);
    expectError(await create(gw, { model: MODEL, prompt: 'x', aspect_ratio: '7:5' }), 400, /aspect_ratio/);
    expectError(await create(gw, { model: MODEL, prompt: 'x', aspect_ratio: '16:9', size: '1024x1024' }), 400, /aspect_ratio/);
    expectError(await create(gw, { model: 'dall-e-2', prompt: 'x', aspect_ratio: '16:9' }), 400, /square/);
    const seventeen = Array.from({ length: 17 }, (_, i) => `${files.origin}/photo.png?${i}`);
    expectError(await create(gw, { model: MODEL, prompt: 'x', image_urls: seventeen }), 400, /image_urls/);
    // The second URL is a 404: the message names the client's field, image_urls[1].
    expectError(
      await create(gw, { model: MODEL, prompt: 'x', image_urls: [`${files.origin}/photo.png`, `${files.origin}/missing.png`] }),
      400,
      /image_urls\[1\]/,
    );
    expectError(await create(gw, { model: MODEL, prompt: 'x', image_url: 'ftp://example.com/a.png' }), 400, /image_url\b/);
    expectError(await create(gw, { model: MODEL, prompt: 'x', nsfw_checker: 'yes' }), 400, /nsfw_checker/);
    expectError(await create(gw, { model: MODEL, prompt: 'x', callback_url: 'not a url' }), 400, /callback_url/);
    expectError(await call(gw, 'GET', PATH), 400, /task_id/);
    expect(imageRequests(sim)).toHaveLength(0);
  });

  it('400 for a body that is not JSON; 404 for a path this dialect does not have', async () => {
    const { gw } = await setup();
    const res = await fetch(`${gw.origin}${PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: '{"model": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 400, data: null });
    expectError(await call(gw, 'GET', '/api/v1/images/nothing-here'), 404);
  });

  it('401: a bad key, on create and on query', async () => {
    const { gw } = await setup();
    expectError(await create(gw, { model: MODEL, prompt: 'x' }, { key: 'ig-not-a-key' }), 401);
    expectError(await query(gw, 'task_whatever', 'ig-not-a-key'), 401);
    const res = await fetch(`${gw.origin}${PATH}?task_id=x`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 401, data: null });
  });

  it('402: a key without credits', async () => {
    const { gw, sim } = await setup();
    const broke = await adminCreateKey(gw, { credits: 0 });
    expectError(await create(gw, { model: MODEL, prompt: 'x' }, { key: broke }), 402);
    expect(imageRequests(sim)).toHaveLength(0);
  });

  it("404: an unknown task, and another key's task", async () => {
    const { gw } = await setup();
    expectError(await query(gw, 'task_does_not_exist'), 404, /task not found/);
    const taskId = await createTask(gw, { model: MODEL, prompt: 'mine' });
    const { key: other } = await gw.app.keys.create('other');
    expectError(await query(gw, taskId, other), 404, /task not found/);
    expect((await query(gw, taskId)).status).toBe(200);
  });
});

describe('Idempotency-Key', () => {
  it('a replay returns the same taskId with its current state; a different body is a 409', async () => {
    const { gw, sim } = await setup();
    const headers = { 'idempotency-key': 'order-42' };
    const body = { model: MODEL, prompt: 'once only', aspect_ratio: '1:1' };
    const first = await createTask(gw, body, { headers });
    await untilEnded(gw, first);
    // Same body, keys in another order: the same request.
    const replay = await create(gw, { aspect_ratio: '1:1', prompt: 'once only', model: MODEL }, { headers });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ code: 200, msg: 'success', data: { taskId: first, state: 'completed' } });
    expect(imageRequests(sim)).toHaveLength(1);
    const conflict = await create(gw, { ...body, prompt: 'something else' }, { headers });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ code: 409, data: null });
    // Another key may use the same Idempotency-Key for its own task.
    const { key: other } = await gw.app.keys.create('other');
    const theirs = await createTask(gw, body, { key: other, headers });
    expect(theirs).not.toBe(first);
  });
});
