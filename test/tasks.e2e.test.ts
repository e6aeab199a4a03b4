/**
 * Async tasks, new-api async dialect, end to end: submit with X-New-Api-Async-Task, poll
 * through every state, only the owner reads a task, Idempotency-Key replay and conflict,
 * deadline with refund, a signed webhook that gets through on its 4th attempt, and 50 tasks
 * surviving a SIGKILL of the gateway: all finish, none submitted upstream twice, none charged twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { startNewApiAsyncSimulator } from '../sim/newapi-async.js';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { spawnGateway } from './helpers/child-gateway.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { REDIS_URL, redisAvailable } from './helpers/redis.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { Credits } from '../src/billing/credits.js';
import { openDatabase } from '../src/db/database.js';

closeAfterEach();
const ADMIN = TEST_ADMIN_KEY;
const ASYNC = { 'x-new-api-async-task': 'true' };

const admin = adminJson;

async function gatewayWithOpenAI(simOpts: Parameters<typeof startOpenAISimulator>[0] = {}, env: Record<string, string> = {}) {
  const sim = later(await startOpenAISimulator(simOpts));
  const file = await writeConfigFile({ channels: [{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }] });
  const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: ADMIN, IMAGEGATE_TASK_POLL: '50ms', ...env }));
  return { sim, gw };
}

interface TaskView {
  task_id: string;
  status: string;
  status_raw: string;
  action: string;
  progress: string;
  submit_time: number;
  start_time: number;
  finish_time: number;
  result_url: string;
  image_urls: string[];
  fail_reason: string;
}

async function query(gw: { baseURL: string }, key: string, id: string): Promise<{ status: number; body: { code: string; data: TaskView | null } }> {
  const res = await fetch(`${gw.baseURL}/images/tasks/${id}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as { code: string; data: TaskView | null } };
}

async function until(gw: { baseURL: string }, key: string, id: string, done: (t: TaskView) => boolean, seen: string[] = []): Promise<TaskView> {
  for (let i = 0; i < 600; i++) {
    const view = (await query(gw, key, id)).body.data;
    if (view && seen.at(-1) !== view.status) seen.push(view.status);
    if (view && done(view)) return view;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`task ${id} never got there (seen: ${seen.join(' > ')})`);
}

describe('new-api async tasks', () => {
  it('submitted > queued > in_progress > succeeded, with downloadable images; another key gets 404', async () => {
    // One worker and a slow upstream: the second task waits in the queue while the first runs.
    const { gw } = await gatewayWithOpenAI({ latencyMs: 500 }, { IMAGEGATE_TASK_WORKERS: '1' });
    const first = await postJson(gw, '/v1/images/generations', { prompt: 'first', size: '1024x1024' }, ASYNC);
    const second = await postJson(gw, '/v1/images/generations', { prompt: 'second', size: '1024x1024' }, ASYNC);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ code: 'success', message: 'success', data: { status: 'submitted' } });
    const id = String((second.json?.data as { task_id: string }).task_id);
    const seen: string[] = [];
    const done = await until(gw, gw.apiKey, id, (t) => t.status === 'succeeded', seen);
    expect(seen).toEqual(['queued', 'in_progress', 'succeeded']);
    expect(done).toMatchObject({ status_raw: 'SUCCESS', action: 'generations', progress: '100%' });
    expect(done.finish_time).toBeGreaterThanOrEqual(done.start_time);
    expect(done.image_urls).toHaveLength(1);
    expect(done.result_url).toBe(done.image_urls[0]);
    expect((await fetch(done.result_url)).status).toBe(200);
    const other = await gw.app.keys.create('someone else');
    expect((await query(gw, other.key, id)).status).toBe(404);
  });

  it('the official SDK submits with the header as a request option, and gets the task answer', async () => {
    const { gw } = await gatewayWithOpenAI();
    const answer = (await gw.client.images.generate({ model: 'gpt-image-2', prompt: 'via the SDK' }, { headers: ASYNC })) as unknown as {
      code: string;
      data: { task_id: string; status: string };
    };
    expect(answer).toMatchObject({ code: 'success', data: { status: 'submitted' } });
    expect((await until(gw, gw.apiKey, answer.data.task_id, (t) => t.status === 'succeeded')).image_urls).toHaveLength(1);
  });

  it('edits run as tasks too (action edits), and a failure says why', async () => {
    const { gw, sim } = await gatewayWithOpenAI({}, { IMAGEGATE_MAX_ATTEMPTS: '1' });
    const form = new FormData();
    form.append('prompt', 'edit me later');
    form.append('image', new Blob([await tinyPng()], { type: 'image/png' }), 'p.png');
    const res = await fetch(`${gw.baseURL}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, ...ASYNC }, body: form });
    const id = ((await res.json()) as { data: { task_id: string } }).data.task_id;
    expect((await until(gw, gw.apiKey, id, (t) => t.status === 'succeeded')).action).toBe('edits');
    sim.sim.enqueueFault({ kind: 'status', status: 400, message: 'Your request was rejected by the safety system.', code: 'moderation_blocked' });
    const bad = await postJson(gw, '/v1/images/generations', { prompt: 'refused' }, ASYNC);
    const failed = await until(gw, gw.apiKey, String((bad.json?.data as { task_id: string }).task_id), (t) => t.status === 'failed');
    expect(failed).toMatchObject({ status_raw: 'FAILURE', progress: '100%' });
    expect(failed.fail_reason).toContain('safety system');
  });

  it('Idempotency-Key: the same body returns the same task; another body gets 409', async () => {
    const { gw } = await gatewayWithOpenAI();
    const headers = { ...ASYNC, 'idempotency-key': 'order-42' };
    const a = await postJson(gw, '/v1/images/generations', { prompt: 'once' }, headers);
    const b = await postJson(gw, '/v1/images/generations', { prompt: 'once' }, headers);
    expect((b.json?.data as { task_id: string }).task_id).toBe((a.json?.data as { task_id: string }).task_id);
    const c = await postJson(gw, '/v1/images/generations', { prompt: 'twice' }, headers);
    expect(c.status).toBe(409);
    expect(c.json).toMatchObject({ error: { code: 'idempotency_key_reused' } });
  });

  it('a task past its deadline fails and is refunded in full', async () => {
    const { gw } = await gatewayWithOpenAI({ latencyMs: 3_000 }, { IMAGEGATE_TASK_DEADLINE: '1s' });
    const created = await admin(gw.origin, 'POST', '/admin/api/keys', { name: 'deadline', credits: 1 });
    const key = String(created.key);
    const res = await postJson({ ...gw, apiKey: key }, '/v1/images/generations', { model: 'dall-e-2', prompt: 'too slow', size: '256x256' }, ASYNC);
    const id = String((res.json?.data as { task_id: string }).task_id);
    const failed = await until(gw, key, id, (t) => t.status === 'failed');
    expect(failed.fail_reason).toContain('deadline');
    await expect.poll(async () => (await admin(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}`)).balance_micros).toBe(1_000_000);
    const ledger = (await admin(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}/ledger`)).data as { kind: string; request_id: string }[];
    expect(ledger.filter((e) => e.request_id === id).map((e) => e.kind)).toEqual(['reserve', 'refund']);
  });

  it('a task is charged once, by the run that ends it: one reservation, one settlement, the price of what was delivered', async () => {
    const { gw } = await gatewayWithOpenAI();
    const created = await admin(gw.origin, 'POST', '/admin/api/keys', { name: 'charged once', credits: 1 });
    const key = String(created.key);
    const res = await postJson({ ...gw, apiKey: key }, '/v1/images/generations', { model: 'dall-e-2', prompt: 'worth paying for', size: '256x256' }, ASYNC);
    const id = String((res.json?.data as { task_id: string }).task_id);
    await until(gw, key, id, (t) => t.status === 'succeeded');
    const ledger = (await admin(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}/ledger`)).data as {
      kind: string;
      request_id: string;
      amount_micros: number;
    }[];
    expect(ledger.filter((e) => e.request_id === id).map((e) => [e.kind, e.amount_micros])).toEqual([
      ['reserve', -16_000],
      ['release', 0],
    ]);
    expect((await admin(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}`)).balance_micros).toBe(1_000_000 - 16_000);
  });
});

const runRedis = await redisAvailable();

describe('webhooks', () => {
  const modes: [string, Record<string, string>][] = [
    ['embedded', {}],
    ...(runRedis ? [['on BullMQ (REDIS_URL)', { REDIS_URL, IMAGEGATE_REDIS_PREFIX: `hooks-${Date.now()}` }] as [string, Record<string, string>]] : []),
  ];
  it.each(modes)(
    '%s: a receiver that fails 3 times gets the 4th attempt, signed so standardwebhooks verifies it',
    async (_mode, redisEnv) => {
      const received: { headers: IncomingHttpHeaders; body: string }[] = [];
      const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          received.push({ headers: req.headers, body });
          res.writeHead(received.length <= 3 ? 500 : 204).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      onCleanup(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
      const callback = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const { gw } = await gatewayWithOpenAI({}, { IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', ...redisEnv });
      const created = await admin(gw.origin, 'POST', '/admin/api/keys', { name: 'hooked' });
      const res = await postJson({ ...gw, apiKey: String(created.key) }, '/v1/images/generations', { prompt: 'call me back', callback_url: callback }, ASYNC);
      const id = String((res.json?.data as { task_id: string }).task_id);
      // Retries after 1 s, 2 s and 4 s (the task API dialect's schedule): the 4th attempt comes ~7 s after the first.
      await expect.poll(() => received.length, { timeout: 15_000, interval: 200 }).toBe(4);
      const secret = String((await admin(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}/webhook-secret`)).webhook_secret);
      const last = received[3]!;
      const verified = new Webhook(secret).verify(last.body, last.headers as Record<string, string>) as { code: string; data: TaskView };
      expect(verified.data).toMatchObject({ task_id: id, status: 'succeeded' });
      expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1);
      const detail = await admin(gw.origin, 'GET', `/admin/api/tasks/${id}`);
      expect(detail.webhook_deliveries).toMatchObject([{ status: 'delivered', attempts: 4 }]);
      // The upstream never saw our callback_url.
      expect(JSON.stringify(detail)).toContain(callback);
    },
    30_000,
  );
});

describe('crash safety', () => {
  it('a task cut short by shutdown keeps its reservation; after the restart it is resumed (not submitted again) and charged once', async () => {
    const upstream = later(await startNewApiAsyncSimulator({ apiKey: 'nk', taskDurationMs: 3_000 }));
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-shutdown-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const config = await writeConfigFile({
      channels: [{ name: 'async', kind: 'newapi-async', base_url: `${upstream.origin}/v1`, api_key: 'nk', poll_interval: 0.2 }],
    });
    const env = { IMAGEGATE_CONFIG: config, IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_ADMIN_KEY: ADMIN, IMAGEGATE_TASK_POLL: '50ms' };
    const first = later(await startGateway(env));
    const created = await admin(first.origin, 'POST', '/admin/api/keys', { name: 'shutdown', credits: 1 });
    const key = String(created.key);
    const res = await postJson({ ...first, apiKey: key }, '/v1/images/generations', { model: 'dall-e-2', prompt: 'interrupted', size: '256x256' }, ASYNC);
    const id = String((res.json?.data as { task_id: string }).task_id);
    // The upstream accepted the job and its id is stored: then the gateway shuts down (gracefully).
    await expect.poll(async () => (await admin(first.origin, 'GET', `/admin/api/tasks/${id}`)).upstream_task_id, { timeout: 10_000 }).toBeTruthy();
    await first.close();
    expect(upstream.sim.submits).toBe(1);

    // Between the runs: the task is back in the queue, its reservation still held, nothing settled.
    const between = await openDatabase({ kind: 'sqlite', file: join(dataDir, 'imagegate.db') });
    try {
      const entries = await new Credits(between.db).ledger(String(created.id));
      expect(entries.filter((e) => e.request_id === id).map((e) => e.kind)).toEqual(['reserve']);
      const task = await between.db.selectFrom('tasks').select(['status', 'upstream_task_id']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(task.status).not.toMatch(/succeeded|failed/);
      expect(task.upstream_task_id).toBeTruthy();
    } finally {
      await between.close();
    }

    const second = later(await startGateway(env));
    await until(second, key, id, (t) => t.status === 'succeeded');
    expect(upstream.sim.submits).toBe(1);
    const ledger = (await admin(second.origin, 'GET', `/admin/api/keys/${String(created.id)}/ledger`)).data as {
      kind: string;
      request_id: string | null;
      amount_micros: number;
    }[];
    expect(ledger.filter((e) => e.request_id === id).map((e) => [e.kind, e.amount_micros])).toEqual([
      ['reserve', -16_000],
      ['release', 0],
    ]);
    expect((await admin(second.origin, 'GET', `/admin/api/keys/${String(created.id)}`)).balance_micros).toBe(1_000_000 - 16_000);
  }, 30_000);

  it('a sync upstream call cut off by SIGKILL is sent again after the restart: at-least-once upstream, charged once', async () => {
    const upstream = later(await startOpenAISimulator({ latencyMs: 4_000 }));
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-crash-sync-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const config = await writeConfigFile({ channels: [{ name: 'sync', kind: 'openai', base_url: upstream.baseURL, api_key: 'sk' }] });
    const env = { IMAGEGATE_CONFIG: config, IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_ADMIN_KEY: ADMIN, IMAGEGATE_TASK_LEASE: '2s', IMAGEGATE_TASK_POLL: '200ms' };
    let gateway = await spawnGateway(env);
    const created = await admin(gateway.origin, 'POST', '/admin/api/keys', { name: 'sync crash', credits: 1 });
    const key = String(created.key);
    const ids = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const res = await postJson(
          { origin: gateway.origin, apiKey: key } as TestGateway,
          '/v1/images/generations',
          { model: 'dall-e-2', prompt: `sync ${i}`, size: '256x256' },
          ASYNC,
        );
        return String((res.json?.data as { task_id: string }).task_id);
      }),
    );
    // All five calls are on the wire (the upstream takes 4 s) when the gateway dies.
    await expect.poll(() => upstream.sim.requests.length, { timeout: 30_000 }).toBe(5);
    gateway.child.kill('SIGKILL');
    await new Promise((resolve) => gateway.child.once('exit', resolve));
    gateway = await spawnGateway(env);
    onCleanup(() => gateway.stop());
    for (const id of ids) await until({ baseURL: `${gateway.origin}/v1` }, key, id, (t) => t.status === 'succeeded');
    expect(upstream.sim.requests).toHaveLength(10);
    const ledger = (await admin(gateway.origin, 'GET', `/admin/api/keys/${String(created.id)}/ledger`)).data as { kind: string; request_id: string | null }[];
    for (const id of ids) expect(ledger.filter((e) => e.request_id === id).map((e) => e.kind)).toEqual(['reserve', 'release']);
    expect(Number((await admin(gateway.origin, 'GET', `/admin/api/keys/${String(created.id)}`)).balance_micros)).toBe(1_000_000 - 5 * 16_000);
  }, 150_000); // two starts of a child gateway, each up to a minute or more on a busy machine

  it('50 tasks on an async upstream survive SIGKILL: all finish, none resubmitted, none charged twice', async () => {
    const upstream = later(await startNewApiAsyncSimulator({ apiKey: 'nk', taskDurationMs: 4_000 }));
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-crash-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const config = await writeConfigFile({
      channels: [{ name: 'async', kind: 'newapi-async', base_url: `${upstream.origin}/v1`, api_key: 'nk', poll_interval: 0.2 }],
    });
    const env = {
      IMAGEGATE_CONFIG: config,
      IMAGEGATE_DATA_DIR: dataDir,
      IMAGEGATE_ADMIN_KEY: ADMIN,
      IMAGEGATE_TASK_WORKERS: '60',
      IMAGEGATE_TASK_LEASE: '2s',
      IMAGEGATE_TASK_POLL: '200ms',
    };
    let gateway = await spawnGateway(env);
    const created = await admin(gateway.origin, 'POST', '/admin/api/keys', { name: 'crash', credits: 10 });
    const key = String(created.key);
    const ids = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const res = await postJson(
          { origin: gateway.origin, apiKey: key } as TestGateway,
          '/v1/images/generations',
          { model: 'dall-e-2', prompt: `task ${i}`, size: '256x256' },
          ASYNC,
        );
        return String((res.json?.data as { task_id: string }).task_id);
      }),
    );
    // Every task is in flight upstream (its upstream id stored) before the kill.
    await expect
      .poll(
        async () =>
          ((await admin(gateway.origin, 'GET', '/admin/api/tasks?limit=100')).data as { upstream_task_id: string | null }[]).filter((t) => t.upstream_task_id)
            .length,
        { timeout: 60_000 },
      )
      .toBe(50);
    gateway.child.kill('SIGKILL');
    await new Promise((resolve) => gateway.child.once('exit', resolve));
    gateway = await spawnGateway(env);
    onCleanup(() => gateway.stop());
    const base = { baseURL: `${gateway.origin}/v1` };
    for (const id of ids) await until(base, key, id, (t) => t.status === 'succeeded');
    expect(upstream.sim.submits).toBe(50);
    const ledger = (await admin(gateway.origin, 'GET', `/admin/api/keys/${String(created.id)}/ledger`)).data as {
      kind: string;
      request_id: string | null;
      amount_micros: number;
    }[];
    for (const id of ids) expect(ledger.filter((e) => e.request_id === id).map((e) => e.kind)).toEqual(['reserve', 'release']);
    const balance = Number((await admin(gateway.origin, 'GET', `/admin/api/keys/${String(created.id)}`)).balance_micros);
    expect(balance).toBe(10_000_000 - 50 * 16_000);
  }, 180_000); // two starts of a child gateway, each up to a minute or more on a busy machine
});

async function tinyPng(): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  return sharp({ create: { width: 32, height: 32, channels: 3, background: '#39c' } })
    .png()
    .toBuffer();
}
