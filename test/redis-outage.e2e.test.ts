/**
 * Redis loss, end to end, on a Redis of the test's own. An instance (SQLite, REDIS_URL set, 4 task
 * workers, the demo channel taking 1 s per image) keeps its whole task capacity from the database
 * while Redis is down; keys with rate limits are served (open policy) or refused with 503 and
 * Retry-After (closed policy), never 500; the outage is logged once; and once Redis is back the
 * instance dispatches through BullMQ again. The measurements are printed (docs/deploy.md quotes them).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { postJson, type TestGateway } from './helpers/gateway.js';
import { redisServerAvailable, startRedisServer } from './helpers/redis-server.js';

closeAfterEach();
const runRedis = redisServerAvailable();
const ASYNC = { 'x-new-api-async-task': 'true' };
const IMAGE = { model: 'dall-e-2', size: '256x256' };
const ADMIN_KEY = 'outage-admin-key';

interface LogLine {
  level: number;
  msg: string;
  time: number;
}

interface Instance {
  app: App;
  origin: string;
  logs: LogLine[];
  close(): Promise<void>;
}

/** A gateway in this process whose log lines the test reads. */
async function instance(env: Record<string, string>): Promise<Instance> {
  const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-test-'));
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const app = await createApp(loadConfig({ PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_ADMIN_KEY: ADMIN_KEY, ...env }), { logger });
  const origin = await app.listen();
  return later({
    app,
    origin,
    logs,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}

const as = (gw: Instance, key: string) => ({ origin: gw.origin, apiKey: key }) as TestGateway;

/** /readyz with the admin key: its status and each check's outcome (ok or failed). */
async function readiness(gw: Instance): Promise<{ httpStatus: number; status: string; checks: Record<string, string> }> {
  const res = await fetch(`${gw.origin}/readyz`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
  return { httpStatus: res.status, status: body.status, checks: Object.fromEntries(Object.entries(body.checks).map(([name, c]) => [name, c.status])) };
}

/** Milliseconds until the readiness probe reports Redis as `state`. */
async function untilRedisIs(gw: Instance, state: 'ok' | 'failed', since: number): Promise<number> {
  await expect.poll(async () => (await readiness(gw)).checks.redis, { timeout: 10_000, interval: 20 }).toBe(state);
  return Date.now() - since;
}

/** Submits `n` tasks at once; their ids. */
async function submitTasks(gw: Instance, key: string, n: number): Promise<string[]> {
  const submitted = await Promise.all(
    Array.from({ length: n }, (_, i) => postJson(as(gw, key), '/v1/images/generations', { ...IMAGE, prompt: `task ${i}` }, ASYNC)),
  );
  expect(submitted.map((s) => s.status)).toEqual(submitted.map(() => 200));
  return submitted.map((s) => String((s.json?.data as { task_id: string }).task_id));
}

/** Waits until every task has succeeded: how long since `since`, and how many ran at once at most. */
async function tasksDone(gw: Instance, key: string, ids: string[], since: number): Promise<{ elapsedMs: number; peakRunning: number }> {
  let peakRunning = 0;
  for (;;) {
    const states = await Promise.all(
      ids.map(async (id) => {
        const res = await fetch(`${gw.origin}/v1/images/tasks/${id}`, { headers: { authorization: `Bearer ${key}` } });
        return ((await res.json()) as { data: { status: string } }).data.status;
      }),
    );
    peakRunning = Math.max(peakRunning, states.filter((s) => s === 'in_progress').length);
    expect(states.filter((s) => !['queued', 'in_progress', 'succeeded'].includes(s))).toEqual([]);
    if (states.every((s) => s === 'succeeded')) return { elapsedMs: Date.now() - since, peakRunning };
    if (Date.now() - since > 30_000) throw new Error(`tasks still not done: ${states.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function runTasks(gw: Instance, key: string, n: number): Promise<{ ids: string[]; elapsedMs: number; peakRunning: number }> {
  const started = Date.now();
  const ids = await submitTasks(gw, key, n);
  return { ids, ...(await tasksDone(gw, key, ids, started)) };
}

/**
 * The most of these tasks that ran at once, by the start and end each task row records (of those
 * started at `since` or later): how many workers took them, however slowly this machine ran them.
 */
async function mostAtOnce(gw: Instance, ids: string[], since = 0): Promise<number> {
  const rows = await gw.app.database.db.selectFrom('tasks').select(['started_at', 'finished_at']).where('id', 'in', ids).execute();
  const edges = rows
    .filter((r) => r.started_at !== null && r.finished_at !== null && r.started_at >= since)
    .flatMap((r) => [
      { at: r.started_at ?? 0, step: 1 },
      { at: r.finished_at ?? 0, step: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.step - b.step);
  let running = 0;
  let most = 0;
  for (const edge of edges) {
    running += edge.step;
    most = Math.max(most, running);
  }
  return most;
}

describe.skipIf(!runRedis)('Redis loss', () => {
  it('tasks keep full capacity, rate-limited keys get 200 (open) or 503 (closed), never 500; Redis back: BullMQ at once', async () => {
    const redisServer = later(await startRedisServer());
    const prefix = `outage-${randomBytes(4).toString('hex')}`;
    const env = { REDIS_URL: redisServer.url, IMAGEGATE_REDIS_PREFIX: prefix, IMAGEGATE_TASK_WORKERS: '4' };
    const gw = await instance({ ...env, IMAGEGATE_DEMO_DELAY: '1s' });
    const limited = await gw.app.keys.create({ name: 'limited', rpm: 600, maxConcurrent: 50 });
    const inspect = new Redis(redisServer.url, { maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    inspect.on('error', () => undefined); // it loses its server on purpose
    later({ close: async () => inspect.disconnect() });
    /** Whether a request of a fresh key with 1 RPM (whose state then lives a minute) is counted in Redis. */
    const countedInRedis = async () => {
      const probe = await gw.app.keys.create({ name: 'probe', rpm: 1 });
      expect((await postJson(as(gw, probe.key), '/v1/images/generations', { ...IMAGE, prompt: 'probe' })).status).toBe(200);
      return (await inspect.exists(`${prefix}:rl:{${probe.id}}:rpm`)) === 1;
    };

    // Redis up: the limits are kept in Redis.
    expect(await readiness(gw)).toEqual({ httpStatus: 200, status: 'ok', checks: { database: 'ok', redis: 'ok', image_store: 'ok', channels: 'ok' } });
    expect(await countedInRedis()).toBe(true);

    // Redis down.
    const downAt = Date.now();
    await redisServer.stop();
    const noticedDownMs = await untilRedisIs(gw, 'failed', downAt);
    // Not ready (a readiness probe takes it out of rotation), though it serves on without Redis; alive all along.
    const without = await readiness(gw);
    expect(without).toEqual({ httpStatus: 503, status: 'unavailable', checks: { database: 'ok', redis: 'failed', image_store: 'ok', channels: 'ok' } });
    expect((await fetch(`${gw.origin}/healthz`)).status).toBe(200);

    // 8 one-second tasks on 4 workers: about 2 s from the database loops (one loop alone: 8 s).
    const syncStarted = Date.now();
    let syncMs = 0;
    const [outage, sync] = await Promise.all([
      runTasks(gw, limited.key, 8),
      Promise.all(Array.from({ length: 4 }, (_, i) => postJson(as(gw, limited.key), '/v1/images/generations', { ...IMAGE, prompt: `sync ${i}` }))).finally(
        () => {
          syncMs = Date.now() - syncStarted;
        },
      ),
    ]);
    expect(sync.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(sync[0]?.headers.get('x-ratelimit-limit-requests')).toBe('600'); // limited per instance meanwhile
    expect(outage.peakRunning).toBeGreaterThanOrEqual(3);
    // The database loops took them several at once (one loop alone would have run them one by one).
    expect(await mostAtOnce(gw, outage.ids)).toBeGreaterThanOrEqual(3);

    // The closed policy, on an instance that starts while Redis is down: 503 + Retry-After, at once.
    const closed = await instance({ ...env, IMAGEGATE_DEMO_DELAY: '0', IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN: 'closed' });
    const closedLimited = await closed.app.keys.create({ name: 'limited', rpm: 600 });
    const closedFree = await closed.app.keys.create('unlimited');
    const refusedAt = Date.now();
    const refused = await postJson(as(closed, closedLimited.key), '/v1/images/generations', { ...IMAGE, prompt: 'refused' });
    const refusedMs = Date.now() - refusedAt;
    expect(refused.status).toBe(503);
    expect(refused.json?.error).toMatchObject({ type: 'server_error', code: 'service_unavailable' });
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refusedMs).toBeLessThan(1_000);
    expect((await postJson(as(closed, closedFree.key), '/v1/images/generations', { ...IMAGE, prompt: 'free' })).status).toBe(200);
    const closingAt = Date.now();
    await closed.close(); // shutting down while Redis is away must not hang
    const closeMs = Date.now() - closingAt;

    // Redis back after 12 s away (long enough for a growing reconnection backoff to show: BullMQ's
    // default reaches 8 s, then 20 s, between attempts). The link notices within a second, and
    // BullMQ dispatches again: the database loop is back to one, so 8 tasks in about 2 s need
    // BullMQ's 4 workers.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, downAt + 12_000 - Date.now())));
    // 12 tasks accepted just before: 4 start from the database, 8 still wait when Redis is back
    // and get BullMQ jobs then (the one database loop left would take 8 s over them).
    const backlogAt = Date.now();
    const backlog = await submitTasks(gw, limited.key, 12);
    const upAt = Date.now();
    await redisServer.start();
    const noticedUpMs = await untilRedisIs(gw, 'ok', upAt);
    const drained = await tasksDone(gw, limited.key, backlog, backlogAt);
    expect(noticedUpMs).toBeLessThan(3_000);
    // The backlog's tasks that waited for Redis to come back ran several at once, as BullMQ's
    // workers run them (the one database loop left would have run them one by one). Counted from
    // the task rows, not by the clock: a busy machine takes several seconds over a one-second task.
    const waited = await gw.app.database.db.selectFrom('tasks').select('id').where('id', 'in', backlog).where('started_at', '>=', upAt).execute();
    expect(waited.length).toBeGreaterThanOrEqual(4);
    expect(await mostAtOnce(gw, backlog, upAt)).toBeGreaterThanOrEqual(3);
    const recovered = await runTasks(gw, limited.key, 8);
    expect(await mostAtOnce(gw, recovered.ids)).toBeGreaterThanOrEqual(3);
    expect(await countedInRedis()).toBe(true); // shared again

    // One line per change, and nothing else at error level.
    const said = (pattern: RegExp) => gw.logs.filter((l) => pattern.test(l.msg)).length;
    expect(said(/Redis is unreachable/)).toBe(1);
    expect(said(/Redis is reachable again/)).toBe(1);
    expect(gw.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    expect(closed.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);

    console.log(
      [
        '[redis outage] measured:',
        `  Redis stopped -> readiness reports it down: ${noticedDownMs} ms`,
        `  during the outage: 8 one-second tasks on 4 workers done in ${outage.elapsedMs} ms (at most ${outage.peakRunning} running at once); 4 rate-limited sync requests all 200 in ${syncMs} ms`,
        `  closed policy: 503 + Retry-After in ${refusedMs} ms; shutdown during the outage took ${closeMs} ms`,
        `  Redis restarted after ${upAt - downAt} ms away -> readiness reports it up: ${noticedUpMs} ms`,
        `  12 tasks accepted just before the restart done in ${drained.elapsedMs} ms (at most ${drained.peakRunning} at once); 8 tasks submitted after it done in ${recovered.elapsedMs} ms (at most ${recovered.peakRunning} at once)`,
      ].join('\n'),
    );
  }, 60_000);
});

/**
 * A Redis that resets every connection until silence(), then accepts and never answers: every
 * Redis client of the instance has seen an error and is mid-handshake when the instance stops,
 * the moment BullMQ's connection close turned into an unhandled rejection (which ends a node
 * process).
 */
async function resettingThenSilentRedis(): Promise<{ url: string; silence(): void; close(): Promise<void> }> {
  const held = new Set<Socket>();
  let silent = false;
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    if (!silent) return void socket.resetAndDestroy();
    held.add(socket); // the client waits for its ready check's answer
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    silence() {
      silent = true;
    },
    async close() {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Redis unreachable at start', () => {
  it('an instance that never reached Redis stops without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const redis = await resettingThenSilentRedis();
      const gw = await instance({ REDIS_URL: redis.url, IMAGEGATE_REDIS_PREFIX: `unreachable-${randomBytes(4).toString('hex')}` });
      expect((await fetch(`${gw.origin}/healthz`)).status).toBe(200);
      // Each client (the link, the rate limiter, BullMQ's queues and workers) is refused at least
      // once (reconnecting within a second), then connects and waits on a server that never answers.
      await pause(1_500);
      redis.silence();
      await pause(1_500);
      await gw.close();
      // The stopped clients' sockets close when the server lets go of them; BullMQ's rejection
      // came a tick after that.
      await redis.close();
      await pause(200);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});
