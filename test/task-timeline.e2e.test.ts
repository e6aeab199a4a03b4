/**
 * A task's timeline and its webhook attempts through the admin API, end to end: the real gateway
 * on port 0, an OpenAI simulator upstream and a local webhook receiver; resending a webhook.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { openDatabase } from '../src/db/database.js';
import { WebhookSecrets } from '../src/tasks/webhook-secrets.js';
import { WEBHOOK_ATTEMPTS_KEPT, WebhookOutbox } from '../src/tasks/webhooks.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { insertEndedTask } from './helpers/task-rows.js';

closeAfterEach();

interface Hook {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver answering each request with the next status of `statuses` (the last one repeats). */
async function startReceiver(statuses: readonly number[]) {
  const hooks: Hook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(statuses[Math.min(hooks.length, statuses.length) - 1] ?? 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { hooks, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

async function admin(gw: TestGateway, method: string, path: string, body?: unknown) {
  const res = await fetch(`${gw.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface TimelineEvent {
  at: string;
  kind: string;
  detail: string;
  run_id?: string;
  channel?: string;
  outcome?: string;
  latency_ms?: number;
  delivery_id?: string;
  attempt?: number;
  http_status?: number | null;
}

interface TaskDetail {
  state: string;
  runs: { id: string; attempts: { channel: string; outcome: string; started_at: string | null; latency_ms: number }[] }[];
  webhook_deliveries: { id: string; status: string; resend: boolean; attempts: number; last_status: number | null }[];
  webhook_attempts: { delivery_id: string; attempt: number; attempted_at: string; outcome: string; http_status: number | null; latency_ms: number }[];
  timeline: TimelineEvent[];
}

async function detail(gw: TestGateway, id: string): Promise<TaskDetail> {
  const res = await admin(gw, 'GET', `/admin/api/tasks/${encodeURIComponent(id)}`);
  expect(res.status).toBe(200);
  return res.json as unknown as TaskDetail;
}

async function world(options: { firstAttemptFails?: boolean } = {}) {
  const sim = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
  const file = await writeConfigFile({ channels: [relayChannel('sim', sim.baseURL)] });
  const gw = later(
    await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TASK_POLL: '50ms', IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1' }),
  );
  if (options.firstAttemptFails) sim.sim.enqueueFault({ kind: 'status', status: 500 });
  const created = await admin(gw, 'POST', '/admin/api/keys', { name: 'timeline key' });
  expect(created.status).toBe(201);
  const key = { id: String(created.json.id), key: String(created.json.key) };
  const submit = async (body: Record<string, unknown>) => {
    const res = await postJson(
      gw,
      '/v1/images/generations',
      { model: 'dall-e-2', prompt: 'a lighthouse', size: '256x256', ...body },
      {
        authorization: `Bearer ${key.key}`,
        'x-new-api-async-task': 'true',
      },
    );
    expect(res.status).toBe(200);
    return String((res.json?.data as { task_id: string }).task_id);
  };
  const state = async (id: string) => (await detail(gw, id)).state;
  return { sim, gw, key, submit, state };
}

describe('task timeline', () => {
  it('shows the channel attempts, the result and every webhook attempt with its status, in order', async () => {
    const { gw, key, submit, state } = await world({ firstAttemptFails: true });
    const receiver = await startReceiver([500, 204]);
    const id = await submit({ callback_url: receiver.url });
    await expect.poll(() => state(id), { timeout: 20_000 }).toBe('succeeded');
    await expect.poll(async () => (await detail(gw, id)).webhook_deliveries[0]?.status, { timeout: 15_000, interval: 100 }).toBe('delivered');

    const task = await detail(gw, id);
    // The run: the upstream's 500, then the image, each attempt with its outcome, start and latency.
    const attempts = task.runs.flatMap((r) => r.attempts);
    expect(attempts.map((a) => [a.channel, a.outcome === 'ok' ? 'ok' : 'failed'])).toEqual([
      ['sim', 'failed'],
      ['sim', 'ok'],
    ]);
    for (const a of attempts) {
      expect(a.latency_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(String(a.started_at))).toBeGreaterThan(0);
    }
    // The webhook: answered 500, retried, then 204; both attempts kept.
    expect(task.webhook_deliveries).toEqual([expect.objectContaining({ status: 'delivered', resend: false, attempts: 2, last_status: 204 })]);
    const deliveryId = task.webhook_deliveries[0]?.id;
    expect(task.webhook_attempts.map((a) => [a.delivery_id, a.attempt, a.outcome, a.http_status])).toEqual([
      [deliveryId, 1, 'http_error', 500],
      [deliveryId, 2, 'delivered', 204],
    ]);
    expect(receiver.hooks).toHaveLength(2);

    // One ordered list of all of it.
    const times = task.timeline.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(task.timeline.map((e) => e.kind)).toEqual([
      'submitted',
      'started',
      'channel_attempt',
      'channel_attempt',
      'run_ended',
      'finished',
      'webhook_queued',
      'webhook_attempt',
      'webhook_attempt',
    ]);
    const hookEvents = task.timeline.filter((e) => e.kind === 'webhook_attempt');
    expect(hookEvents.map((e) => [e.attempt, e.outcome, e.http_status])).toEqual([
      [1, 'http_error', 500],
      [2, 'delivered', 204],
    ]);
    expect(task.timeline.find((e) => e.kind === 'finished')).toMatchObject({ outcome: 'succeeded' });

    // Resend: a new delivery of the same body, signed with the key's secret, its own webhook id.
    const resent = await admin(gw, 'POST', `/admin/api/tasks/${id}/webhooks/resend`);
    expect(resent.status).toBe(202);
    expect(resent.json).toMatchObject({ status: 'pending', resend: true, attempts: 0, url: receiver.url });
    expect(resent.json.id).not.toBe(deliveryId);
    await expect.poll(() => receiver.hooks.length, { timeout: 10_000, interval: 50 }).toBe(3);
    const [first, , again] = receiver.hooks;
    const secret = await admin(gw, 'GET', `/admin/api/keys/${key.id}/webhook-secret`);
    const webhook = new Webhook(String(secret.json.webhook_secret));
    expect(webhook.verify(again?.body ?? '', again?.headers as Record<string, string>)).toEqual(JSON.parse(first?.body ?? ''));
    expect(again?.headers['webhook-id']).toBe(resent.json.id);
    expect(again?.headers['webhook-id']).not.toBe(first?.headers['webhook-id']);

    await expect.poll(async () => (await detail(gw, id)).webhook_deliveries.map((d) => d.status), { timeout: 10_000 }).toEqual(['delivered', 'delivered']);
    const after = await detail(gw, id);
    expect(after.webhook_attempts.map((a) => [a.delivery_id, a.outcome, a.http_status])).toEqual([
      [deliveryId, 'http_error', 500],
      [deliveryId, 'delivered', 204],
      [resent.json.id, 'delivered', 204],
    ]);
    expect(after.timeline.slice(-2).map((e) => [e.kind, e.delivery_id])).toEqual([
      ['webhook_queued', resent.json.id],
      ['webhook_attempt', resent.json.id],
    ]);
    expect(after.timeline.at(-2)?.detail).toMatch(/resent/);
  });

  it('refuses a resend with 409 while the task runs, without a callback, or while its delivery is still tried', async () => {
    const { sim, gw, submit, state } = await world();

    sim.sim.enqueueFault({ kind: 'delay', ms: 3_000 });
    const receiver = await startReceiver([204]);
    const running = await submit({ callback_url: receiver.url });
    const early = await admin(gw, 'POST', `/admin/api/tasks/${running}/webhooks/resend`);
    expect(early.status).toBe(409);
    expect(early.json.error).toMatchObject({ code: 'task_not_finished', param: 'id' });

    const silent = await submit({});
    await expect.poll(() => state(silent), { timeout: 20_000 }).toBe('succeeded');
    const noCallback = await admin(gw, 'POST', `/admin/api/tasks/${silent}/webhooks/resend`);
    expect(noCallback.status).toBe(409);
    expect(noCallback.json.error).toMatchObject({ code: 'task_without_callback' });

    // A receiver that keeps failing: the delivery stays pending between retries.
    const failing = await startReceiver([503]);
    const retried = await submit({ callback_url: failing.url });
    await expect.poll(() => failing.hooks.length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(1);
    const pending = await admin(gw, 'POST', `/admin/api/tasks/${retried}/webhooks/resend`);
    expect(pending.status).toBe(409);
    expect(pending.json.error).toMatchObject({ code: 'webhook_delivery_pending' });
    const task = await detail(gw, retried);
    expect(task.webhook_deliveries).toHaveLength(1);
    expect(task.webhook_attempts[0]).toMatchObject({ attempt: 1, outcome: 'http_error', http_status: 503 });
  });

  it('answers 404 task_not_found for ids that name no task, however they are written', async () => {
    const { gw } = await world();
    const hostile = ["' OR 1=1 --", '../../etc/passwd', '%', 'task_\u0000x', 'x'.repeat(100), '😀', '*'];
    for (const id of hostile) {
      for (const [method, path] of [
        ['GET', `/admin/api/tasks/${encodeURIComponent(id)}`],
        ['POST', `/admin/api/tasks/${encodeURIComponent(id)}/webhooks/resend`],
      ] as const) {
        const res = await admin(gw, method, path);
        expect([method, id.slice(0, 20), res.status]).toEqual([method, id.slice(0, 20), 404]);
        expect(res.json.error).toMatchObject({ code: 'task_not_found' });
      }
    }
    // Past the router's bound on a path parameter (100 characters): refused before any lookup.
    const long = await admin(gw, 'GET', `/admin/api/tasks/${'x'.repeat(101)}`);
    expect([long.status, (long.json.error as { code: string }).code]).toEqual([414, 'uri_too_long']);
  });

  it(`keeps the latest ${WEBHOOK_ATTEMPTS_KEPT} attempts of a delivery that keeps failing, and counts them all`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imagegate-attempts-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const database = await openDatabase({ kind: 'sqlite', file: join(dir, 'gate.db') });
    onCleanup(() => database.close());
    const { db } = database;
    let clock = 1_000_000;
    const outbox = new WebhookOutbox({
      db,
      fetcher: { post: async () => ({ status: 503 }) },
      secrets: new WebhookSecrets(db, null),
      schedule: { delaysMs: [1], windowMs: 3_600_000 },
      now: () => clock,
    });
    await insertEndedTask(db, { id: 'task_bounded', callback_url: 'https://hooks.example/x' });
    await outbox.add(db, 'task_bounded', 'https://hooks.example/x', { ok: true });
    const total = WEBHOOK_ATTEMPTS_KEPT + 5;
    for (let i = 0; i < total; i++) {
      expect(await outbox.deliverDue()).toBe(1);
      clock += 10;
    }
    const [delivery] = await outbox.deliveries('task_bounded');
    expect(delivery).toMatchObject({ status: 'pending', attempts: total, last_status: 503 });
    const kept = await outbox.attempts('task_bounded');
    expect(kept.map((a) => a.attempt)).toEqual(Array.from({ length: WEBHOOK_ATTEMPTS_KEPT }, (_, i) => total - WEBHOOK_ATTEMPTS_KEPT + 1 + i));
    expect(new Set(kept.map((a) => `${a.outcome} ${a.http_status}`))).toEqual(new Set(['http_error 503']));
  });
});
