/**
 * Database faults, survived, against a PostgreSQL cluster of the test's own: its sessions killed
 * again and again under load, the server stopped during load and started again, and the server
 * starting only after the gateway. The gateway process stays up; every request succeeds or gets
 * 503 with Retry-After (never a 500, never a hang); every accepted task finishes; the ledger is
 * exact. Measurements are printed for docs/deploy.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { spawnGateway, type ChildGateway } from './helpers/child-gateway.js';
import { closeAfterEach, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { createPgCluster, pgClusterAvailable, withPgClient, type PgCluster } from './helpers/pg-cluster.js';

closeAfterEach();
const runCluster = await pgClusterAvailable();

/** dall-e-2 256x256 list price: $0.016. */
const PRICE = 16_000;
const GRANT_USD = 1_000;
const ASYNC = { 'x-new-api-async-task': 'true' };
const png256 = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#246' } })
  .png()
  .toBuffer();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  kind: 'sync' | 'task';
  /** HTTP status; 0: no answer (the client timed out or the connection was cut). */
  status: number;
  retryAfter: string | null;
  started: number;
  ms: number;
  error?: string;
}

interface Tenant {
  gateway: ChildGateway;
  keyId: string;
  client: OpenAI;
}

describe.skipIf(!runCluster)('database faults (a throwaway PostgreSQL cluster)', () => {
  let cluster: PgCluster;
  let upstream: RunningSimulator;
  let configFile: string;

  beforeAll(async () => {
    cluster = await createPgCluster();
    upstream = await startOpenAISimulator({ fixedImage: png256, latencyMs: 100 });
    configFile = await writeConfigFile({
      channels: [{ name: 'sim', kind: 'openai-compatible', base_url: upstream.baseURL, api_key: 'sk-sim', models: ['dall-e-2'] }],
    });
  }, 60_000);

  afterAll(async () => {
    await upstream?.close();
    await cluster?.remove();
  });

  async function gateway(databaseUrl: string, env: Record<string, string> = {}, onOutput?: (chunk: string) => void): Promise<ChildGateway> {
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-dbfaults-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const started = spawnGateway(
      {
        DATABASE_URL: databaseUrl,
        IMAGEGATE_DATA_DIR: dataDir,
        IMAGEGATE_CONFIG: configFile,
        IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
        IMAGEGATE_URL_SECRET: randomBytes(32).toString('base64url'),
        IMAGEGATE_TASK_WORKERS: '4',
        // A task whose worker lost the database mid-run is taken over soon after it is back.
        IMAGEGATE_TASK_LEASE: '2s',
        IMAGEGATE_TASK_POLL: '200ms',
        ...env,
      },
      onOutput,
    );
    const gw = await started;
    onCleanup(() => gw.stop());
    return gw;
  }

  async function tenant(gw: ChildGateway): Promise<Tenant> {
    const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'metered', credits: GRANT_USD });
    return {
      gateway: gw,
      keyId: String(created.id),
      client: new OpenAI({ apiKey: String(created.key), baseURL: `${gw.origin}/v1`, maxRetries: 0, timeout: 20_000 }),
    };
  }

  it('sessions killed again and again under load: the process stays up, answers are 200 or 503, the ledger is exact', async () => {
    const url = await cluster.createDatabase('faults_kill');
    const t = await tenant(await gateway(url));
    let loading = true;
    const load = runLoad(t.client, () => loading, 6);
    let kills = 0;
    let rounds = 0;
    const killer = (async () => {
      await sleep(500);
      while (loading) {
        kills += await cluster.terminateSessions(url);
        rounds++;
        await sleep(300 + Math.random() * 400);
      }
    })();
    await sleep(8_000);
    loading = false;
    const outcomes = await load;
    await killer;

    expectOnlySuccessOr503(outcomes);
    expect(processAlive(t.gateway), t.gateway.output()).toBe(true);
    expect(t.gateway.output()).not.toMatch(/Unhandled 'error' event|uncaught/i);
    // Killed sessions are summed up in the log, not told once per failed statement.
    expect(t.gateway.output()).not.toMatch(/request failed|background work failed|task worker failed/);
    expect(kills, 'the killer ended live sessions').toBeGreaterThan(rounds);
    const sync200 = outcomes.filter((o) => o.kind === 'sync' && o.status === 200).length;
    expect(sync200, 'generations go through between the kills').toBeGreaterThan(5);
    const tasks = await tasksFinished(url, t.keyId, 30_000);
    const ledger = await exactLedger(url, t.keyId, sync200 + tasks.tasksSucceeded);
    report('kill', {
      rounds,
      sessionsKilled: kills,
      requests: outcomes.length,
      ...statusCounts(outcomes),
      tasksAccepted: outcomes.filter((o) => o.kind === 'task' && o.status === 200).length,
      ...tasks,
      slowest503Ms: Math.max(0, ...outcomes.filter((o) => o.status === 503).map((o) => o.ms)),
      spentMicros: ledger.spent,
    });
  }, 60_000);

  it('the server stopped during load: 503 at once, probes answer within a second, it recovers without a restart', async () => {
    const url = await cluster.createDatabase('faults_stop');
    const t = await tenant(await gateway(url));
    let loading = true;
    const load = runLoad(t.client, () => loading, 4);
    await sleep(1_500);

    const stopAt = Date.now();
    await cluster.stop('fast');
    const stopMs = Date.now() - stopAt;
    await sleep(300);
    const probes: { path: string; status: number; ms: number }[] = [];
    for (let round = 0; round < 3; round++) {
      for (const path of ['/healthz', '/readyz', '/livez']) probes.push(await probe(t.gateway.origin, path));
      await sleep(500);
    }
    const downFor = Date.now() - stopAt;
    if (downFor < 3_000) await sleep(3_000 - downFor);

    const startAt = Date.now();
    await cluster.start();
    const startMs = Date.now() - startAt;
    const recovered = await firstSuccessAfter(t.client, 20_000);
    const readyAgain = await probe(t.gateway.origin, '/readyz');
    await sleep(1_000);
    loading = false;
    const outcomes = await load;

    expectOnlySuccessOr503(outcomes);
    expect(processAlive(t.gateway), t.gateway.output()).toBe(true);
    const during = outcomes.filter((o) => o.started >= stopAt + stopMs && o.started + o.ms < startAt);
    expect(during.length, 'requests were sent while the server was down').toBeGreaterThan(0);
    expect(
      during.every((o) => o.status === 503),
      JSON.stringify(during.filter((o) => o.status !== 503)),
    ).toBe(true);
    const slowest503 = Math.max(...outcomes.filter((o) => o.status === 503).map((o) => o.ms));
    expect(slowest503, 'a refused request is refused quickly, not held').toBeLessThan(10_000);
    for (const p of probes) {
      expect(p.ms, `${p.path} answered in ${p.ms} ms`).toBeLessThan(1_500);
      // Liveness (/healthz, /livez) never fails on a dependency outage; readiness does.
      expect(p.status, p.path).toBe(p.path === '/readyz' ? 503 : 200);
    }
    expect(readyAgain.status).toBe(200);
    // The outage is logged when it starts and when it ends, not once per refused request.
    const logged = t.gateway.output();
    expect(logged.match(/database unavailable: answering 503/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
    expect(logged.match(/database unavailable: answering 503/g)?.length ?? 0).toBeLessThanOrEqual(2);
    expect(logged).not.toMatch(/request failed|background work failed|task worker failed/);
    const tasks = await tasksFinished(url, t.keyId, 30_000);
    const sync200 = outcomes.filter((o) => o.kind === 'sync' && o.status === 200).length + 1; // + the recovery probe
    const ledger = await exactLedger(url, t.keyId, sync200 + tasks.tasksSucceeded);
    report('stop', {
      pgStopMs: stopMs,
      pgStartMs: startMs,
      requests: outcomes.length,
      ...statusCounts(outcomes),
      refusedWhileDown: during.length,
      slowest503Ms: slowest503,
      slowestProbeMs: Math.max(...probes.map((p) => p.ms)),
      firstSuccessAfterStartMs: recovered,
      ...tasks,
      spentMicros: ledger.spent,
    });
  }, 60_000);

  it('started before its database: it waits, and comes up when the database does', async () => {
    const url = await cluster.createDatabase('faults_late');
    await cluster.stop('fast');
    let printed = '';
    let firstWait: () => void = () => {};
    const waiting = new Promise<void>((resolve) => (firstWait = resolve));
    const starting = gateway(url, { IMAGEGATE_DB_STARTUP_WAIT: '60s' }, (chunk) => {
      printed += chunk;
      if (printed.includes('database unavailable at start')) firstWait();
    });
    starting.catch(() => firstWait());
    // Measured from its first wait: a busy machine may take seconds just to load the gateway.
    await waiting;
    const waitingAt = Date.now();
    await sleep(3_000);
    const startAt = Date.now();
    await cluster.start();
    const gw = await starting;
    const upAfterMs = Date.now() - startAt;
    const t = await tenant(gw);
    const image = await t.client.images.generate({ model: 'dall-e-2', prompt: 'after the wait', size: '256x256' });
    expect(image.data?.[0]?.url).toContain('/files/');
    report('late start', {
      gatewayWaitingBeforeDbMs: startAt - waitingAt,
      listeningAfterDbStartMs: upAfterMs,
      waits: (gw.output().match(/database unavailable at start/g) ?? []).length,
    });
  }, 60_000);
});

/** `workers` loops alternating sync generations and async task submissions until `running()` says stop. */
async function runLoad(client: OpenAI, running: () => boolean, workers: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (running()) {
        const i = next++;
        const outcome = await send(client, i % 2 === 0 ? 'sync' : 'task', i);
        outcomes.push(outcome);
        // A refused client backs off a little (less than Retry-After, to keep the pressure on).
        if (outcome.status !== 200) await sleep(100);
      }
    }),
  );
  return outcomes;
}

async function send(client: OpenAI, kind: Outcome['kind'], i: number): Promise<Outcome> {
  const started = Date.now();
  try {
    await client.images.generate({ model: 'dall-e-2', prompt: `load ${i}`, size: '256x256' }, kind === 'task' ? { headers: ASYNC } : {});
    return { kind, status: 200, retryAfter: null, started, ms: Date.now() - started };
  } catch (err) {
    const ms = Date.now() - started;
    if (err instanceof OpenAI.APIConnectionError) return { kind, status: 0, retryAfter: null, started, ms, error: err.message };
    if (err instanceof OpenAI.APIError)
      return { kind, status: err.status ?? 0, retryAfter: err.headers?.get('retry-after') ?? null, started, ms, error: err.message };
    throw err;
  }
}

function expectOnlySuccessOr503(outcomes: readonly Outcome[]): void {
  const wrong = outcomes.filter((o) => o.status !== 200 && !(o.status === 503 && o.retryAfter !== null));
  expect(
    wrong.map((o) => `${o.kind} ${o.status} after ${o.ms} ms: ${o.error ?? ''}`),
    'every answer is a success or a 503 with Retry-After',
  ).toEqual([]);
}

function statusCounts(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[`${o.kind}${o.status}`] = (counts[`${o.kind}${o.status}`] ?? 0) + 1;
  return counts;
}

function processAlive(gw: ChildGateway): boolean {
  return gw.child.exitCode === null && gw.child.signalCode === null;
}

async function probe(origin: string, path: string): Promise<{ path: string; status: number; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${origin}${path}`, { signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return { path, status: res.status, ms: Date.now() - started };
}

/** Sends generations until one succeeds; answers how long that took. */
async function firstSuccessAfter(client: OpenAI, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const outcome = await send(client, 'sync', -1);
    if (outcome.status === 200) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`no generation succeeded within ${timeoutMs} ms of the database starting`);
}

/** Waits until every task of the key (including any whose acceptance the client never heard) is final. */
async function tasksFinished(url: string, keyId: string, timeoutMs: number): Promise<{ tasksStored: number; tasksSucceeded: number; tasksFailed: number }> {
  const count = () =>
    withPgClient(url, async (c) => {
      const rows = (await c.query<{ status: string; n: string }>('select status, count(*) as n from tasks where key_id = $1 group by status', [keyId])).rows;
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    });
  await expect
    .poll(
      async () => {
        const by = await count();
        return (by.queued ?? 0) + (by.running ?? 0);
      },
      { timeout: timeoutMs, interval: 250 },
    )
    .toBe(0);
  const by = await count();
  const succeeded = by.succeeded ?? 0;
  const failed = by.failed ?? 0;
  return { tasksStored: succeeded + failed, tasksSucceeded: succeeded, tasksFailed: failed };
}

/**
 * Exact: the ledger sums to the balance; every reservation is settled exactly once and every
 * settlement has its reservation; and what the key spent is the price of what it got
 * (`delivered` images). Settlements delayed by the fault are waited for.
 */
async function exactLedger(url: string, keyId: string, delivered: number): Promise<{ spent: number }> {
  const read = () =>
    withPgClient(url, async (c) => {
      const balance = Number((await c.query<{ b: string }>('select balance_micros as b from api_keys where id = $1', [keyId])).rows[0]?.b);
      const sum = Number(
        (await c.query<{ s: string }>('select coalesce(sum(amount_micros), 0) as s from credit_ledger where key_id = $1', [keyId])).rows[0]?.s,
      );
      const open = (
        await c.query<{ request_id: string }>(
          "select request_id from credit_ledger r where key_id = $1 and kind = 'reserve' and not exists (select 1 from credit_ledger s where s.entry_key = r.request_id || ':settle')",
          [keyId],
        )
      ).rows.map((r) => r.request_id);
      const unreserved = (
        await c.query<{ request_id: string }>(
          "select request_id from credit_ledger s where key_id = $1 and entry_key like '%:settle' and not exists (select 1 from credit_ledger r where r.entry_key = s.request_id || ':reserve')",
          [keyId],
        )
      ).rows.map((r) => r.request_id);
      return { balance, sum, open, unreserved };
    });
  await expect.poll(async () => (await read()).open, { timeout: 20_000, interval: 250, message: 'every reservation is settled' }).toEqual([]);
  const ledger = await read();
  expect(ledger.sum, 'the ledger sums to the balance').toBe(ledger.balance);
  expect(ledger.unreserved, 'no settlement without its reservation').toEqual([]);
  const spent = GRANT_USD * 1_000_000 - ledger.balance;
  expect(spent, 'the key paid for exactly what it got').toBe(delivered * PRICE);
  return { spent };
}

function report(scenario: string, figures: Record<string, number>): void {
  console.log(
    `[database faults] ${scenario}: ${Object.entries(figures)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
}
