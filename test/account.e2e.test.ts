/**
 * A client key's self-service API (/v1/account...), real gateway on the demo channel, the
 * official `openai` SDK as client: the key and its limits, its balance after a spend (the same
 * the operator sees), its own images, tasks and usage. Another key's image or task answers 404
 * (never 403: an id learnt elsewhere tells nothing), is never listed, and cannot be deleted; a
 * filter naming another key changes nothing; no channel or upstream task id is shown.
 */
import { createServer, type Server } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest } from './helpers/raw-http.js';
import { schemaMismatch } from './helpers/schema-match.js';

interface Key {
  id: string;
  secret: string;
  client: OpenAI;
}
interface Listed {
  object: 'list';
  data: { id: string; [field: string]: unknown }[];
  has_more: boolean;
}

const ENV_KEY = 'sk-env-account-test-0123456789';
let gw: TestGateway;
let a: Key;
let b: Key;
let taskOfA: string;
let taskOfB: string;
let receiver: Server;
let callbackUrl: string;

async function makeKey(name: string, body: Record<string, unknown>): Promise<Key> {
  const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name, ...body });
  const secret = String(created.key);
  return { id: String(created.id), secret, client: new OpenAI({ apiKey: secret, baseURL: gw.baseURL, maxRetries: 0 }) };
}

const as = (key: Key | string, method: string, path: string) =>
  rawRequest(gw.origin, { method, path, headers: { authorization: `Bearer ${typeof key === 'string' ? key : key.secret}` } });

async function ok<T>(key: Key, path: string): Promise<T> {
  const res = await as(key, 'GET', path);
  expect(res.status, `${path}: ${res.text}`).toBe(200);
  return res.json as T;
}

async function submitTask(key: Key, prompt: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await postJson(
    gw,
    '/v1/images/generations',
    { model: 'dall-e-2', prompt, size: '256x256', ...extra },
    {
      authorization: `Bearer ${key.secret}`,
      'x-new-api-async-task': 'true',
    },
  );
  expect(res.status, res.text).toBe(200);
  return String((res.json?.data as { task_id: string }).task_id);
}

async function untilSucceeded(key: Key, id: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const task = await ok<{ state: string }>(key, `/v1/account/tasks/${id}`);
    if (task.state === 'succeeded') return;
    if (task.state === 'failed') throw new Error(`task ${id} failed`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`task ${id} never succeeded`);
}

beforeAll(async () => {
  // The key's webhook receiver: takes every callback.
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  callbackUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  gw = await startGateway({
    IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
    IMAGEGATE_TASK_POLL: '50ms',
    IMAGEGATE_API_KEYS: ENV_KEY,
    IMAGEGATE_ALLOW_PRIVATE_URLS: 'true',
  });
  a = await makeKey('alice', { credits: 5, rpm: 600, max_concurrent: 4, allowed_models: ['dall-e-2', 'gpt-image-1'] });
  b = await makeKey('bob', { credits: 5 });
  await a.client.images.generate({ model: 'dall-e-2', prompt: 'a red fox', size: '256x256', n: 2, response_format: 'url' });
  await b.client.images.generate({ model: 'dall-e-2', prompt: 'a grey owl', size: '256x256', response_format: 'url' });
  taskOfA = await submitTask(a, 'a fox as a task', { callback_url: callbackUrl });
  taskOfB = await submitTask(b, 'an owl as a task');
  await untilSucceeded(a, taskOfA);
  await untilSucceeded(b, taskOfB);
}, 60_000);
afterAll(async () => {
  await gw?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('GET /v1/account', () => {
  it('the key, its limits and its balance, which moves by what a request cost, as the operator sees it', async () => {
    const before = await ok<Record<string, unknown>>(a, '/v1/account');
    expect(before).toMatchObject({
      id: a.id,
      object: 'account',
      name: 'alice',
      enabled: true,
      rpm: 600,
      max_concurrent: 4,
      allowed_models: ['dall-e-2', 'gpt-image-1'],
      expires_at: null,
    });
    expect(String(before.prefix)).toBe(a.secret.slice(0, String(before.prefix).length));
    expect(before.balance_micros).toBe(Math.round(Number(before.credits) * 1_000_000));
    const spentBefore = (await ok<{ totals: { spend: number } }>(a, '/v1/account/usage')).totals.spend;
    expect(Number(before.credits)).toBeLessThan(5);
    expect(Number(before.credits) + spentBefore).toBeCloseTo(5, 6);

    await a.client.images.generate({ model: 'dall-e-2', prompt: 'one more fox', size: '256x256', response_format: 'url' });
    const after = await ok<Record<string, unknown>>(a, '/v1/account');
    const spentAfter = (await ok<{ totals: { spend: number } }>(a, '/v1/account/usage')).totals.spend;
    expect(Number(after.balance_micros)).toBeLessThan(Number(before.balance_micros));
    expect(Number(before.credits) - Number(after.credits)).toBeCloseTo(spentAfter - spentBefore, 6);
    const operator = await adminJson(gw.origin, 'GET', `/admin/api/keys/${a.id}`);
    expect(operator.balance_micros).toBe(after.balance_micros);
    // The other key's balance did not move.
    expect((await ok<Record<string, unknown>>(b, '/v1/account')).id).toBe(b.id);
  });

  it('a key from IMAGEGATE_API_KEYS: unlimited, no row; no key or the admin key: 401', async () => {
    const env = await as(ENV_KEY, 'GET', '/v1/account');
    expect(env.status).toBe(200);
    expect(env.json).toMatchObject({ object: 'account', id: `env:${ENV_KEY.slice(0, 10)}`, credits: null, balance_micros: null, rpm: null, created_at: null });
    const none = await rawRequest(gw.origin, { method: 'GET', path: '/v1/account' });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect((await as(TEST_ADMIN_KEY, 'GET', '/v1/account/images')).status).toBe(401);
  });
});

describe('/v1/account/images', () => {
  it("lists the key's own images only, whatever the query says", async () => {
    const mine = await ok<Listed>(a, '/v1/account/images');
    const theirs = await ok<Listed>(b, '/v1/account/images');
    expect(mine.data.length).toBeGreaterThanOrEqual(3);
    expect(mine.data.every((i) => i.key_id === a.id)).toBe(true);
    expect(theirs.data.map((i) => i.prompt).sort()).toEqual(['a grey owl', 'an owl as a task']);
    const overlap = mine.data.filter((i) => theirs.data.some((t) => t.id === i.id));
    expect(overlap).toEqual([]);
    // The admin list's key filter is not a parameter here: it is ignored, never obeyed.
    const sneaky = await ok<Listed>(a, `/v1/account/images?key=${b.id}`);
    expect(sneaky.data.map((i) => i.id)).toEqual(mine.data.map((i) => i.id));
    const byTask = await ok<Listed>(a, `/v1/account/images?task=${taskOfA}`);
    expect(byTask.data.map((i) => i.prompt)).toEqual(['a fox as a task']);
    expect((await ok<Listed>(a, `/v1/account/images?task=${taskOfB}`)).data).toEqual([]);
    expect((await ok<Listed>(a, '/v1/account/images?model=gpt-image-1')).data).toEqual([]);
    const paged = await ok<Listed>(a, '/v1/account/images?limit=1');
    expect(paged.data).toHaveLength(1);
    expect(paged.has_more).toBe(true);
  });

  it("another key's image is 404 to read and to delete, and stays; its own is deleted and its link then 404s", async () => {
    const owl = (await ok<Listed>(b, '/v1/account/images')).data[0] as { id: string; url: string };
    for (const method of ['GET', 'DELETE']) {
      const res = await as(a, method, `/v1/account/images/${owl.id}`);
      expect(res.status, method).toBe(404);
      expect(res.json, method).toMatchObject({ error: { type: 'invalid_request_error', code: 'image_not_found', param: 'id' } });
      // Exactly what an id that never existed answers.
      const never = await as(a, method, '/v1/account/images/never-was');
      expect(never.status).toBe(404);
      expect(JSON.stringify(never.json).replace('never-was', owl.id)).toBe(JSON.stringify(res.json));
    }
    expect((await as(b, 'GET', `/v1/account/images/${owl.id}`)).status).toBe(200);
    expect((await fetch(owl.url)).status).toBe(200);

    const before = (await ok<Listed>(a, '/v1/account/images')).data;
    const mine = before[0] as { id: string; url: string; thumbnail_url: string };
    const del = await as(a, 'DELETE', `/v1/account/images/${mine.id}`);
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ id: mine.id, object: 'image', deleted: true });
    expect((await fetch(mine.url)).status).toBe(404);
    expect((await fetch(mine.thumbnail_url)).status).toBe(404);
    const after = (await ok<Listed>(a, '/v1/account/images')).data;
    expect(after.map((i) => i.id)).toEqual(before.slice(1).map((i) => i.id));
  });
});

describe('/v1/account/tasks', () => {
  it("lists the key's own tasks, filtered, and shows each one's runs without channels or upstream ids", async () => {
    const mine = await ok<Listed>(a, '/v1/account/tasks');
    expect(mine.data.map((t) => t.id)).toEqual([taskOfA]);
    expect(mine.data[0]).toMatchObject({ object: 'task', state: 'succeeded', model: 'dall-e-2', action: 'generations' });
    expect((await ok<Listed>(a, '/v1/account/tasks?state=failed')).data).toEqual([]);
    expect((await ok<Listed>(a, '/v1/account/tasks?model=dall-e-2&state=succeeded')).data).toHaveLength(1);
    expect((await ok<Listed>(a, `/v1/account/tasks?from=${Date.now() + 60_000}`)).data).toEqual([]);

    // The callback is delivered shortly after the task ends.
    let detail = await as(a, 'GET', `/v1/account/tasks/${taskOfA}`);
    for (let i = 0; i < 400 && !detail.text.includes('"webhook_attempt"'); i++) {
      await new Promise((r) => setTimeout(r, 25));
      detail = await as(a, 'GET', `/v1/account/tasks/${taskOfA}`);
    }
    expect(detail.status).toBe(200);
    const task = detail.json as {
      runs: { status: number; attempts: { outcome: string }[] }[];
      image_urls: string[];
      webhook_deliveries: { url: string; status: string; resend: boolean }[];
      webhook_attempts: { outcome: string; http_status: number | null }[];
      timeline: { kind: string; detail: string }[];
    };
    expect(task.runs).toHaveLength(1);
    expect(task.runs[0]).toMatchObject({ status: 200, attempts: [{ outcome: 'ok' }] });
    expect(task.webhook_deliveries).toEqual([expect.objectContaining({ url: callbackUrl, status: 'delivered', resend: false })]);
    expect(task.webhook_attempts).toEqual([expect.objectContaining({ outcome: 'delivered', http_status: 204 })]);
    expect(task.timeline.map((e) => e.kind)).toEqual(['submitted', 'started', 'channel_attempt', 'run_ended', 'finished', 'webhook_queued', 'webhook_attempt']);
    expect(task.timeline.find((e) => e.kind === 'channel_attempt')?.detail).toMatch(/^upstream: ok in \d+ ms$/);
    expect(task.image_urls).toHaveLength(1);
    expect((await fetch(task.image_urls[0] ?? '')).status).toBe(200);
    // The operator's view names the channel; the key's does not.
    const operator = await adminJson(gw.origin, 'GET', `/admin/api/tasks/${taskOfA}`);
    expect(JSON.stringify(operator)).toContain('"channel"');
    expect(detail.text).not.toContain('"channel"');
    expect(detail.text).not.toContain('upstream_task_id');
    expect(detail.text).not.toContain('key_id');
  });

  it("another key's task is 404, exactly as one that does not exist", async () => {
    const theirs = await as(a, 'GET', `/v1/account/tasks/${taskOfB}`);
    expect(theirs.status).toBe(404);
    expect(theirs.json).toMatchObject({ error: { code: 'task_not_found', param: 'id' } });
    const never = await as(a, 'GET', '/v1/account/tasks/task_never');
    expect(JSON.stringify(never.json).replace('task_never', taskOfB)).toBe(JSON.stringify(theirs.json));
    expect((await ok<Listed>(b, '/v1/account/tasks')).data.map((t) => t.id)).toEqual([taskOfB]);
  });

  it('refuses bad filters in the OpenAI dialect', async () => {
    for (const [query, param, lists] of [
      ['state=done', 'state', ['tasks']],
      ['from=garbage', 'from', ['tasks']],
      ['limit=-1', 'limit', ['tasks', 'images']],
      // Numbers past what a database integer holds (1e400 is Infinity once coerced) were a 500.
      ['limit=1e400', 'limit', ['tasks', 'images']],
      ['offset=1e400', 'offset', ['tasks', 'images']],
      ['offset=1e20', 'offset', ['tasks', 'images']],
      ['offset=99999999999999999999', 'offset', ['tasks', 'images']],
    ] as const) {
      for (const list of lists) {
        const res = await as(a, 'GET', `/v1/account/${list}?${query}`);
        expect(res.status, `${list} ${query}`).toBe(400);
        expect(res.json, `${list} ${query}`).toMatchObject({ error: { type: 'invalid_request_error', param } });
      }
    }
    const images = await as(a, 'GET', '/v1/account/images?operation=drop');
    expect(images.status).toBe(400);
    expect(images.json).toMatchObject({ error: { param: 'operation' } });
  });
});

describe('GET /v1/account/usage', () => {
  it("the key's own requests, images, spend and errors, by day and model", async () => {
    const usage = await ok<{
      totals: { requests: number; succeeded: number; errors: number; images: number; spend: number };
      by_day: { day: string; requests: number; spend: number }[];
      by_model: { model: string; requests: number; images: number }[];
    }>(a, '/v1/account/usage');
    const operator = await adminJson(gw.origin, 'GET', `/admin/api/usage?key=${a.id}`);
    const totals = operator.totals as { requests: number; images: number; price: number };
    expect(usage.totals.requests).toBe(totals.requests);
    expect(usage.totals.images).toBe(totals.images);
    expect(usage.totals.spend).toBeCloseTo(totals.price, 9);
    expect(usage.totals.errors).toBe(usage.totals.requests - usage.totals.succeeded);
    // a red fox (2 images), the task (1), and what the balance test spent (1) if it ran first.
    expect(usage.totals.images).toBeGreaterThanOrEqual(3);
    expect(usage.by_day.map((d) => d.day)).toEqual([new Date().toISOString().slice(0, 10)]);
    expect(usage.by_model).toEqual([expect.objectContaining({ model: 'dall-e-2', requests: usage.totals.requests })]);
    const account = await ok<{ credits: number }>(a, '/v1/account');
    expect(account.credits + usage.totals.spend).toBeCloseTo(5, 6);
    const ofB = await ok<{ totals: { requests: number } }>(b, '/v1/account/usage');
    expect(ofB.totals.requests).toBe(2);
    expect((await ok<{ totals: { requests: number } }>(a, `/v1/account/usage?to=${Date.now() - 3_600_000}`)).totals.requests).toBe(0);
  });
});

describe('the schemas describe the answers', () => {
  it("every account route's answers, and its refusals, match the schema it declares", async () => {
    const routes = gw.app.routes();
    const image = (await ok<Listed>(a, '/v1/account/images')).data[0] as { id: string };
    const checks: [method: string, path: string, url: string][] = [
      ['GET', '/v1/account', '/v1/account'],
      ['GET', '/v1/account/images', '/v1/account/images'],
      ['GET', '/v1/account/images?to=x', '/v1/account/images'],
      ['GET', `/v1/account/images/${image.id}`, '/v1/account/images/:id'],
      ['GET', '/v1/account/images/nope', '/v1/account/images/:id'],
      ['DELETE', `/v1/account/images/${image.id}`, '/v1/account/images/:id'],
      ['GET', '/v1/account/tasks', '/v1/account/tasks'],
      ['GET', `/v1/account/tasks/${taskOfA}`, '/v1/account/tasks/:id'],
      ['GET', `/v1/account/tasks/${taskOfB}`, '/v1/account/tasks/:id'],
      ['GET', '/v1/account/usage', '/v1/account/usage'],
      ['GET', '/v1/account/usage?from=nope', '/v1/account/usage'],
    ];
    const problems: string[] = [];
    for (const [method, path, url] of checks) {
      const res = await as(a, method, path);
      const problem = schemaMismatch(routes, method, url, res.status, res.json);
      if (problem) problems.push(problem);
    }
    const none = await rawRequest(gw.origin, { method: 'GET', path: '/v1/account' });
    const unauthorized = schemaMismatch(routes, 'GET', '/v1/account', none.status, none.json);
    expect([...problems, ...(unauthorized ? [unauthorized] : [])]).toEqual([]);
  });
});
