/**
 * The parts that make database faults survivable, one by one: which errors mean "the database is
 * away" (and become 503 with Retry-After), the outage log (once per outage, not per error), the
 * start-up wait, settlements retried until they land, and probes that answer within their bound.
 * The whole, against a real PostgreSQL being killed and stopped, is database-faults.e2e.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiKeyService } from '../src/billing/api-keys.js';
import { Credits } from '../src/billing/credits.js';
import { SettlementRetry } from '../src/billing/settlement-retry.js';
import { ConnectionWatch } from '../src/db/connection-watch.js';
import { openDatabase } from '../src/db/database.js';
import { waitForDatabase } from '../src/db/startup-wait.js';
import {
  asDatabaseError,
  CommitOutcomeUnknownError,
  databaseFault,
  DatabaseConnectionError,
  isCommitOutcomeUnknown,
  isDatabaseUnavailable,
} from '../src/db/unavailable.js';
import { envelope, toGatewayError } from '../src/http/errors.js';
import { registerHealthRoutes } from '../src/http/health.js';
import { ReadinessChecks } from '../src/http/readiness.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';

const runPostgres = await postgresAvailable();

const coded = (code: string, message = `failed (${code})`) => Object.assign(new Error(message), { code });

afterEach(() => {
  vi.useRealTimers();
});

describe('which errors mean the database is away', () => {
  it.each([
    ['57P01 admin_shutdown', coded('57P01', 'terminating connection due to administrator command'), 'lost'],
    ['57P02 crash_shutdown', coded('57P02'), 'lost'],
    ['57P03 cannot_connect_now', coded('57P03', 'the database system is starting up'), 'lost'],
    ['08006 connection_failure', coded('08006'), 'lost'],
    ['57014 statement timeout', coded('57014', 'canceling statement due to statement timeout'), 'timeout'],
    ['53300 too_many_connections', coded('53300'), 'busy'],
    ['SQLITE_BUSY after busy_timeout', coded('SQLITE_BUSY', 'database is locked'), 'busy'],
    ['a dropped connection', new Error('Connection terminated unexpectedly'), 'lost'],
    ['a client already dead', new Error('Client has encountered a connection error and is not queryable'), 'lost'],
    ['the pool waiting too long', new Error('timeout exceeded when trying to connect'), 'timeout'],
    ['a connect that timed out', new Error('Connection terminated due to connection timeout'), 'timeout'],
    ['a stalled statement', new Error('Query read timeout'), 'timeout'],
    ['ECONNREFUSED met by the pool', asDatabaseError(coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')), 'lost'],
    ['ETIMEDOUT met by the pool', asDatabaseError(coded('ETIMEDOUT')), 'timeout'],
    ['a wrapped one (a failed migration)', new Error('database migration failed', { cause: coded('57P01') }), 'lost'],
  ])('%s: %s', (_name, err, fault) => {
    expect(databaseFault(err)).toBe(fault);
  });

  it.each([
    ['a unique violation', coded('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error', coded('42601')],
    ['a wrong password (waiting would not help)', coded('28P01')],
    ['ECONNREFUSED from an upstream or a bucket (not the pool)', coded('ECONNREFUSED')],
    ['a plain error', new Error('boom')],
    ['not an error at all', 'Connection terminated'],
  ])('not: %s', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it('socket errors are wrapped where the pool meets them, and only those', () => {
    const wrapped = asDatabaseError(coded('ECONNRESET', 'read ECONNRESET'));
    expect(wrapped).toBeInstanceOf(DatabaseConnectionError);
    expect((wrapped as Error).message).toBe('database connection failed: read ECONNRESET');
    const sqlError = coded('57P01');
    expect(asDatabaseError(sqlError)).toBe(sqlError);
  });

  it('a commit whose answer was lost is told apart (its transaction may have been applied), and is still the fault it wraps', () => {
    const unknown = new Error('rolled back', { cause: new CommitOutcomeUnknownError(new Error('Connection terminated unexpectedly')) });
    expect(isCommitOutcomeUnknown(unknown)).toBe(true);
    expect(databaseFault(unknown)).toBe('lost');
    expect(isCommitOutcomeUnknown(coded('57P01'))).toBe(false);
  });

  it('becomes a 503 server_error with Retry-After, in the caller dialect', () => {
    const gateway = toGatewayError(coded('57P01'));
    expect(gateway?.status).toBe(503);
    expect(gateway?.headers).toEqual({ 'retry-after': '2' });
    expect(gateway?.toEnvelope().error).toMatchObject({ type: 'server_error', code: 'service_unavailable' });
    expect(gateway && envelope('task-api', gateway)).toMatchObject({ code: 503, data: null });
    expect(toGatewayError(coded('SQLITE_BUSY'))?.status).toBe(503);
    expect(toGatewayError(new Error('boom'))).toBeNull();
  });
});

describe('the outage log', () => {
  function watch() {
    const lines: string[] = [];
    const log = {
      warn: (_f: Record<string, unknown>, m: string) => void lines.push(`warn ${m}`),
      info: (_f: Record<string, unknown>, m: string) => void lines.push(`info ${m}`),
    };
    vi.useFakeTimers();
    return { lines, watch: new ConnectionWatch(log, { graceMs: 1_000, blipReportMs: 60_000, now: () => Date.now() }) };
  }

  it('an outage is logged once when it starts and once when it ends, however many statements fail', () => {
    const { lines, watch: w } = watch();
    for (let i = 0; i < 50; i++) w.failed(coded('57P01'));
    vi.advanceTimersByTime(1_500);
    for (let i = 0; i < 50; i++) w.failed(asDatabaseError(coded('ECONNREFUSED')));
    w.answered();
    w.answered();
    expect(lines).toEqual(['warn database unavailable: answering 503 until it is back', 'info database available again']);
  });

  it('a blip (a killed session made again at once) is no outage; blips are summed up at most once a minute', () => {
    const { lines, watch: w } = watch();
    for (let i = 0; i < 3; i++) {
      w.failed(coded('57P01'));
      vi.advanceTimersByTime(100);
      w.answered();
    }
    expect(lines).toEqual(['info database connections were lost and made again']);
    vi.advanceTimersByTime(61_000);
    w.failed(coded('57P01'));
    w.answered();
    expect(lines).toHaveLength(2);
  });

  it('errors that are not faults of the database say nothing about it', () => {
    const { lines, watch: w } = watch();
    w.failed(coded('23505'));
    vi.advanceTimersByTime(5_000);
    expect(w.isDown).toBe(false);
    expect(lines).toEqual([]);
  });
});

describe('start-up waits for the database', () => {
  function clock() {
    let now = 0;
    const waits: number[] = [];
    const sleep = async (ms: number): Promise<void> => {
      waits.push(ms);
      now += ms;
    };
    return { waits, now: () => now, sleep };
  }

  it('tries again with backoff (0.5 s doubling to 10 s) while it is unavailable, telling each wait once', async () => {
    const c = clock();
    const told: string[] = [];
    let attempts = 0;
    const result = await waitForDatabase(
      async () => {
        if (++attempts < 8) throw asDatabaseError(coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'));
        return 'migrated';
      },
      { maxWaitMs: 300_000, onWait: (reason, delayMs) => told.push(`${delayMs} ${reason}`), sleep: c.sleep, now: c.now },
    );
    expect(result).toBe('migrated');
    expect(c.waits).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(told[0]).toBe('500 database connection failed: connect ECONNREFUSED 127.0.0.1:5432');
  });

  it('gives up at its bound with the last reason; 0 fails at once', async () => {
    const c = clock();
    const down = () => Promise.reject(coded('57P03', 'the database system is starting up'));
    await expect(waitForDatabase(down, { maxWaitMs: 3_000, onWait: () => {}, sleep: c.sleep, now: c.now })).rejects.toThrow(
      'the database is unavailable within 3s: the database system is starting up (57P03)',
    );
    expect(c.waits).toEqual([500, 1_000, 1_500]);
    await expect(waitForDatabase(down, { maxWaitMs: 0, onWait: () => {}, sleep: c.sleep, now: c.now })).rejects.toThrow(
      'the database is unavailable: the database system',
    );
  });

  it('any other error ends the start at once (waiting would not fix a wrong password)', async () => {
    const c = clock();
    await expect(
      waitForDatabase(() => Promise.reject(coded('28P01', 'password authentication failed')), {
        maxWaitMs: 60_000,
        onWait: () => {},
        sleep: c.sleep,
        now: c.now,
      }),
    ).rejects.toThrow('password authentication failed');
    expect(c.waits).toEqual([]);
  });
});

describe('settlements the database refused', () => {
  it('are tried again until they land', async () => {
    const retry = new SettlementRetry({ onGiveUp: () => expect.unreachable(), firstDelayMs: 5, maxDelayMs: 20 });
    let tries = 0;
    retry.schedule('req_1', async () => {
      if (++tries < 4) throw new Error('Connection terminated unexpectedly');
    });
    retry.schedule('req_1', () => expect.unreachable('a request keeps its first settlement'));
    await vi.waitFor(() => expect(retry.size).toBe(0));
    expect(tries).toBe(4);
  });

  it('give up on an error that is not an outage, and at shutdown name what is still pending', async () => {
    const given: string[] = [];
    const retry = new SettlementRetry({ onGiveUp: (err, requestId) => void given.push(`${requestId}: ${(err as Error).message}`), firstDelayMs: 5 });
    retry.schedule('req_bug', () => Promise.reject(new Error('boom')));
    await vi.waitFor(() => expect(given).toEqual(['req_bug: boom']));
    retry.schedule('req_down', () => Promise.reject(coded('57P03')));
    await retry.close(100);
    expect(given).toEqual(['req_bug: boom', 'req_down: failed (57P03)']);
  });

  it('a reservation whose outcome is unknown is released only if it was made, and only once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-settle-'));
    const database = await openDatabase({ kind: 'sqlite', file: join(dir, 'db.sqlite') });
    try {
      const credits = new Credits(database.db);
      const key = await new ApiKeyService(database.db, []).create({ name: 'metered', creditsMicros: 1 });
      await credits.grant(key.id, 100_000, null);
      await credits.reserve(key.id, 'req_made', 16_000);
      await credits.releaseIfReserved('req_made');
      await credits.releaseIfReserved('req_made');
      await credits.releaseIfReserved('req_never_made');
      const ledger = await credits.ledger(key.id);
      expect(ledger.map((e) => `${e.kind} ${e.amount_micros} ${e.request_id ?? ''}`).sort()).toEqual([
        'grant 100000 ',
        'refund 16000 req_made',
        'reserve -16000 req_made',
      ]);
      expect((await new ApiKeyService(database.db, []).get(key.id))?.balanceMicros).toBe(100_000);
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('probes answer within their bound', () => {
  async function probes(checks: ReadinessChecks) {
    const app = Fastify();
    registerHealthRoutes(app, checks);
    await app.ready();
    return app;
  }

  it('a stalled database: /readyz says 503 within the bound; /healthz and /livez (liveness) say 200', async () => {
    const stalled = new ReadinessChecks(200).add('database', () => new Promise(() => {}));
    const app = await probes(stalled);
    const started = Date.now();
    const readyz = await app.inject({ method: 'GET', url: '/readyz' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect([readyz.statusCode, readyz.json()]).toEqual([503, { status: 'unavailable' }]);
    for (const url of ['/healthz', '/livez']) {
      const alive = await app.inject({ method: 'GET', url });
      expect([alive.statusCode, alive.json()], url).toEqual([200, { status: 'ok' }]);
    }
    await app.close();
  });

  it('named checks: each is ok or failed with its latency and reason; any failure is not ready', async () => {
    const checks = new ReadinessChecks(200)
      .add('database', async () => {})
      .add('redis', () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6390\n    at stack')))
      .add('image_store', () => new Promise(() => {}));
    const run = await checks.run();
    expect(run).toMatchObject({
      ready: false,
      checks: {
        database: { status: 'ok' },
        redis: { status: 'failed', reason: 'connect ECONNREFUSED 127.0.0.1:6390' },
        image_store: { status: 'failed', reason: 'no answer within 200 ms' },
      },
      failing: ['redis', 'image_store'],
    });
    expect(run.checks.image_store?.latencyMs).toBeGreaterThanOrEqual(190);
    expect(() => checks.add('database', async () => {})).toThrow(/twice/);
    const app = await probes(checks);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    await app.close();
  });
});

describe.skipIf(!runPostgres)('a session killed under a statement (postgres)', () => {
  async function killSessionsSoon(url: string, afterMs: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    await admin.end();
  }

  it('a read is sent again on a fresh connection; a write is not (it may have been applied), and is a database fault', async () => {
    const test = await createTestDatabase();
    const database = await openDatabase({ kind: 'postgres', url: test.url });
    try {
      await database.ping(1_000); // a pooled connection, so the statements below start at once
      const started = Date.now();
      const [read] = await Promise.all([sql<{ slept: string }>`select pg_sleep(0.4)::text as slept`.execute(database.db), killSessionsSoon(test.url, 150)]);
      expect(read.rows).toEqual([{ slept: '' }]);
      expect(Date.now() - started, 'it ran a second time, after the kill').toBeGreaterThanOrEqual(540);
      await database.ping(1_000);
      const write = sql`insert into settings (key, value) select 'slow', pg_sleep(0.4)::text`.execute(database.db);
      const [outcome] = await Promise.all([
        write.then(
          () => 'applied',
          (err: unknown) => err,
        ),
        killSessionsSoon(test.url, 150),
      ]);
      expect(databaseFault(outcome)).toBe('lost');
      expect(toGatewayError(outcome)?.status).toBe(503);
      // The pool made new connections by itself: the next statements work.
      await database.ping(1_000);
      expect(await database.db.selectFrom('settings').select('key').where('key', '=', 'slow').execute()).toEqual([]);
    } finally {
      await database.close();
      await test.drop();
    }
  });
});
