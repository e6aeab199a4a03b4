/**
 * Surviving the infrastructure, end to end: the webhook outbox refusing inserts for a while
 * (every callback still goes out once, and the refusal is logged), async upstream tasks that take
 * longer than their channel's timeout (polled to the end, submitted once), and a faulty channel
 * mix (30% 500s on one, 429 + Retry-After on the other) that no task fails on.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { pino } from 'pino';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Db } from '../src/db/database.js';
import type { TaskStatus } from '../src/db/schema.js';
import { startNewApiAsyncSimulator } from '../sim/newapi-async.js';
import { startOpenAISimulator, type RunningSimulator, type SimFault } from '../sim/openai/simulator.js';
import { startTaskApiSimulator } from '../sim/task-api.js';
import { deliveryIdFor } from '../src/tasks/webhooks.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { seededRandom } from './helpers/seeded-random.js';
import { insertEndedTask } from './helpers/task-rows.js';

closeAfterEach();

const ASYNC = { 'x-new-api-async-task': 'true' };
const runPostgres = await postgresAvailable();
const tinyPng = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#0a0' } })
  .png()
  .toBuffer();

const relay = (name: string, sim: RunningSimulator) => relayChannel(name, sim.baseURL);

async function gatewayWith(channels: Record<string, unknown>[], env: Record<string, string> = {}, logs?: string[]): Promise<TestGateway> {
  const file = await writeConfigFile({ channels });
  const logger = logs ? pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) }) : undefined;
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_TASK_POLL: '50ms', ...env }, logger ? { logger } : {}));
}

/** Submits `count` new-api async tasks; returns their ids. */
async function submitTasks(gw: TestGateway, count: number, body: Record<string, unknown> = {}): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await postJson(gw, '/v1/images/generations', { prompt: `task ${i}`, size: '1024x1024', ...body }, ASYNC);
      expect(res.status).toBe(200);
      return String((res.json?.data as { task_id: string }).task_id);
    }),
  );
}

async function statuses(db: Db, ids: readonly string[]): Promise<TaskStatus[]> {
  const rows = await db.selectFrom('tasks').select('status').where('id', 'in', ids).execute();
  return rows.map((r) => r.status);
}

/** Waits until every task is final; returns how many failed. */
async function settled(db: Db, ids: readonly string[], timeout: number): Promise<number> {
  await expect
    .poll(async () => (await statuses(db, ids)).filter((s) => s === 'succeeded' || s === 'failed').length, { timeout, interval: 100 })
    .toBe(ids.length);
  return (await statuses(db, ids)).filter((s) => s === 'failed').length;
}

/** A callback receiver on 127.0.0.1 that records the task id and webhook-id of every POST. */
async function callbackReceiver(): Promise<{ url: string; received: { taskId: string; webhookId: string }[] }> {
  const received: { taskId: string; webhookId: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { data: { task_id: string } };
      received.push({ taskId: parsed.data.task_id, webhookId: String(req.headers['webhook-id']) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

/** Makes every insert into the deliveries table fail, as a database refusing writes would; returns the undo. */
async function refuseDeliveryInserts(db: Db, kind: 'sqlite' | 'postgres'): Promise<() => Promise<void>> {
  if (kind === 'sqlite') {
    await sql`CREATE TRIGGER refuse_deliveries BEFORE INSERT ON webhook_deliveries BEGIN SELECT RAISE(ABORT, 'injected: delivery insert refused'); END`.execute(
      db,
    );
    return async () => void (await sql`DROP TRIGGER refuse_deliveries`.execute(db));
  }
  await sql`CREATE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected: delivery insert refused'; END $$`.execute(
    db,
  );
  await sql`CREATE TRIGGER refuse_deliveries BEFORE INSERT ON webhook_deliveries FOR EACH ROW EXECUTE FUNCTION refuse_delivery()`.execute(db);
  return async () => void (await sql`DROP TRIGGER refuse_deliveries ON webhook_deliveries`.execute(db));
}

const databases: [string, () => Promise<Record<string, string>>][] = [
  ['sqlite', async () => ({})],
  ...(runPostgres
    ? [
        [
          'postgres',
          async () => {
            const pg = await createTestDatabase();
            onCleanup(() => pg.drop());
            return { DATABASE_URL: pg.url };
          },
        ] as [string, () => Promise<Record<string, string>>],
      ]
    : []),
];

describe('the webhook outbox refusing inserts', () => {
  it.each(databases)(
    '%s: tasks end only with their delivery; every callback goes out exactly once, and the refusal is logged',
    async (_name, database) => {
      const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
      const receiver = await callbackReceiver();
      const logs: string[] = [];
      // A worker holds its task until the ending commits: one worker per task lets every task get that far.
      const gw = await gatewayWith(
        [relay('up', upstream)],
        { IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', IMAGEGATE_TASK_WORKERS: '40', ...(await database()) },
        logs,
      );
      const { db, kind } = gw.app.database;
      const allowInserts = await refuseDeliveryInserts(db, kind);
      const ids = await submitTasks(gw, 40, { callback_url: receiver.url });
      // Every upstream call is done; the tasks cannot end while their delivery cannot be written.
      // (Deadlines for a busy machine: 40 tasks on PostgreSQL reached 24 upstream calls in 20 s at load 18.)
      await expect.poll(() => upstream.sim.requests.length, { timeout: 60_000 }).toBe(40);
      await expect
        .poll(() => logs.filter((line) => line.includes('ending a task with its webhook failed')).length, { timeout: 30_000 })
        .toBeGreaterThanOrEqual(40);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect((await statuses(db, ids)).every((s) => s === 'running')).toBe(true);
      expect(receiver.received).toHaveLength(0);
      expect(logs.some((line) => line.includes('injected: delivery insert refused'))).toBe(true);

      await allowInserts();
      expect(await settled(db, ids, 30_000)).toBe(0);
      await expect.poll(() => receiver.received.length, { timeout: 30_000 }).toBe(40);
      await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would come now
      expect(receiver.received.map((r) => r.taskId).sort()).toEqual([...ids].sort());
      expect(new Set(receiver.received.map((r) => r.webhookId)).size).toBe(40);
      const rows = await db.selectFrom('webhook_deliveries').select(['task_id', 'status']).execute();
      expect(rows).toHaveLength(40);
      expect(rows.every((r) => r.status === 'delivered')).toBe(true);
      expect(upstream.sim.requests).toHaveLength(40);
    },
    180_000,
  );

  it('a periodic sweep, not only the one at start, writes a delivery an ended task is missing', async () => {
    const receiver = await callbackReceiver();
    const logs: string[] = [];
    const gw = await gatewayWith([], { IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', IMAGEGATE_TASK_LEASE: '1s' }, logs);
    const { db } = gw.app.database;
    // A task ended without its row, after the gateway started (as a version that wrote the two apart left it).
    const taskId = 'task_ended_without_delivery';
    await insertEndedTask(db, {
      id: taskId,
      dialect: 'newapi',
      request: JSON.stringify({ prompt: 'p' }),
      status: 'failed',
      fail_code: 'upstream_error',
      fail_reason: 'the upstream failed',
      callback_url: receiver.url,
    });
    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(1);
    expect(receiver.received[0]).toEqual({ taskId, webhookId: deliveryIdFor(taskId) });
    expect(logs.some((line) => line.includes('an ended task had no webhook delivery') && line.includes(taskId))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // two more sweeps: nothing written twice
    expect(receiver.received).toHaveLength(1);
    expect(await db.selectFrom('webhook_deliveries').select('id').where('task_id', '=', taskId).execute()).toHaveLength(1);
  }, 30_000);
});

describe('async upstream tasks longer than the channel timeout', () => {
  const upstreams = [
    [
      'newapi-async',
      async () => {
        const running = later(await startNewApiAsyncSimulator({ apiKey: 'up-key', taskDurationMs: 6_000 }));
        return { sim: running.sim, channel: { name: 'na', kind: 'newapi-async', base_url: running.baseURL } };
      },
    ],
    [
      'task-api',
      async () => {
        const running = later(await startTaskApiSimulator({ apiKey: 'up-key', taskDurationMs: 6_000 }));
        return { sim: running.sim, channel: { name: 'ta', kind: 'task-api', base_url: running.origin } };
      },
    ],
  ] as const;

  it.each(upstreams)(
    '%s: 6 s tasks behind a 2 s channel timeout are polled to the end through poll errors, each submitted once',
    async (_kind, start) => {
      const { sim, channel } = await start();
      const gw = await gatewayWith([{ ...channel, api_key: 'up-key', timeout: 2, poll_interval: 0.5 }], { IMAGEGATE_TASK_WORKERS: '20' });
      sim.failPolls(6, 503);
      const started = Date.now();
      const [ids, sync] = await Promise.all([submitTasks(gw, 10), postJson(gw, '/v1/images/generations', { prompt: 'sync, waiting', size: '1024x1024' })]);
      expect(sync.status).toBe(200);
      expect(await settled(gw.app.database.db, ids, 30_000)).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(6_000);
      expect(sim.submits).toBe(11);
      expect(sim.taskCount).toBe(11);
    },
    60_000,
  );
});

describe('retries that fit the deadline', () => {
  it('one channel failing 30% with 500, the other answering 429 + Retry-After: 80 tasks, none failed; sync requests keep 3 attempts', async () => {
    const flaky = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const limited = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const random = seededRandom(42).next;
    // `delay 0` is an ordinary answer: the script is 30% 500s among them.
    flaky.sim.enqueueFault(...Array.from({ length: 2_000 }, (): SimFault => (random() < 0.3 ? { kind: 'status', status: 500 } : { kind: 'delay', ms: 0 })));
    limited.sim.enqueueFault(...Array.from({ length: 2_000 }, (): SimFault => ({ kind: 'status', status: 429, retryAfterSeconds: 3 })));
    // Five 500s in a row happen at 30%, and open the flaky channel's circuit: a short cooldown keeps the test short.
    const gw = await gatewayWith([relay('flaky', flaky), relay('limited', limited)], { IMAGEGATE_TASK_WORKERS: '20', IMAGEGATE_BREAKER_COOLDOWN: '2s' });
    const ids = await submitTasks(gw, 80);
    const { db } = gw.app.database;
    expect(await settled(db, ids, 80_000)).toBe(0);

    const syncIds = Array.from({ length: 10 }, (_, i) => `sync-mix-${i}`);
    await Promise.all(syncIds.map((id) => postJson(gw, '/v1/images/generations', { prompt: id, size: '1024x1024' }, { 'x-request-id': id })));
    await expect.poll(async () => (await db.selectFrom('request_log').select('id').where('id', 'in', syncIds).execute()).length).toBe(10);
    const logged = await db.selectFrom('request_log').select('attempts').where('id', 'in', syncIds).execute();
    for (const row of logged) expect((JSON.parse(row.attempts ?? '[]') as unknown[]).length).toBeLessThanOrEqual(3);
  }, 120_000);
});
