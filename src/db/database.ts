/** Opens the configured database (SQLite embedded, PostgreSQL at scale) and migrates it. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { KyselyConfig, Migration, MigrationProvider } from 'kysely';
import type { DatabaseConfig, DatabaseTimeouts } from '../config.js';
import { ConnectionWatch, type WatchLog } from './connection-watch.js';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from './kysely.js';
import * as initial from './migrations/0001_initial.js';
import * as accounts from './migrations/0002_accounts.js';
import * as tasks from './migrations/0003_tasks.js';
import * as gallery from './migrations/0004_gallery.js';
import * as webhookAttempts from './migrations/0005_webhook_attempts.js';
import * as contentSafety from './migrations/0006_content_safety.js';
import * as taskListOrder from './migrations/0007_task_list_order.js';
import type { Tables } from './schema.js';
import { withStatementCache } from './statement-cache.js';
import { waitForDatabase } from './startup-wait.js';
import { isDatabaseUnavailable } from './unavailable.js';

export type Db = Kysely<Tables>;

export interface Database {
  db: Db;
  kind: DatabaseConfig['kind'];
  /** Resolves when the database answers a trivial query within `timeoutMs`; rejects otherwise. */
  ping(timeoutMs: number): Promise<void>;
  /**
   * `onError` for what uses the database in the background, without the errors an outage
   * causes: the pool says once that the database is unavailable, and when it is back.
   */
  quietDuringOutage<A extends unknown[]>(onError: (err: unknown, ...rest: A) => void): (err: unknown, ...rest: A) => void;
  close(): Promise<void>;
}

/** For the CLI's one-off commands: the same bounds, and no waiting at start. */
export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { connectMs: 5_000, statementMs: 30_000, startupWaitMs: 0 };

export interface OpenOptions {
  timeouts?: DatabaseTimeouts;
  log?: WatchLog;
  /** Sees the SQL of every statement run (tests count them). */
  onQuery?: (sql: string) => void;
}

/** Plain ordered list: works the same from source (tsx) and from a bundle. */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_accounts': accounts,
  '0003_tasks': tasks,
  '0004_gallery': gallery,
  '0005_webhook_attempts': webhookAttempts,
  '0006_content_safety': contentSafety,
  '0007_task_list_order': taskListOrder,
};

const provider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

const SILENT: WatchLog = { warn: () => {}, info: () => {} };

export async function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Promise<Database> {
  const timeouts = options.timeouts ?? DEFAULT_DATABASE_TIMEOUTS;
  const log = options.log ?? SILENT;
  if (config.kind === 'sqlite') {
    const db = openSqlite(config.file, queryLog(options));
    try {
      await migrate(db);
    } catch (err) {
      await db.destroy();
      throw err;
    }
    // In-process: nothing to wait for, and a busy file is worth a line each time.
    return { db, kind: 'sqlite', ping: async () => void (await sql`select 1`.execute(db)), quietDuringOutage: (onError) => onError, close: () => db.destroy() };
  }
  await waitForDatabase(() => migratePostgres(config.url, timeouts), {
    maxWaitMs: timeouts.startupWaitMs,
    onWait: (reason, delayMs, waitedMs) => log.warn({ reason, delayMs, waitedMs }, `database unavailable at start: trying again in ${delayMs} ms`),
  });
  // pg is loaded only for PostgreSQL: an embedded start does without it.
  const { createPostgresPool } = await import('./postgres-pool.js');
  const pool = createPostgresPool(config.url, timeouts, new ConnectionWatch(log));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), ...queryLog(options) });
  return {
    db,
    kind: 'postgres',
    ping: (timeoutMs) => pool.ping(timeoutMs),
    quietDuringOutage:
      (onError) =>
      (err, ...rest) => {
        if (!isDatabaseUnavailable(err)) onError(err, ...rest);
      },
    close: () => db.destroy(),
  };
}

function queryLog(options: OpenOptions): Pick<KyselyConfig, 'log'> {
  const { onQuery } = options;
  return onQuery ? { log: (event) => onQuery(event.query.sql) } : {};
}

function openSqlite(file: string, log: Pick<KyselyConfig, 'log'>): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }), ...log });
}

/**
 * Migrations get a connection of their own without the statement bound: a future migration
 * building an index on a large table may rightly take longer than any request should.
 */
async function migratePostgres(url: string, timeouts: DatabaseTimeouts): Promise<void> {
  const { createPostgresPool } = await import('./postgres-pool.js');
  const pool = createPostgresPool(url, { connectMs: timeouts.connectMs, statementMs: 0 }, new ConnectionWatch(SILENT));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrate(db);
  } finally {
    await db.destroy();
  }
}

/**
 * Instances starting together may race to create the migrator's own tables (PostgreSQL can fail
 * a concurrent CREATE TABLE IF NOT EXISTS); the migrations themselves run under its lock. So a
 * failed attempt is retried a few times before it counts. An unavailable database is not retried
 * here: start-up waits for it with a longer backoff.
 */
async function migrate(db: Db): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(db);
    } catch (err) {
      if (attempt >= 5 || isDatabaseUnavailable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 100));
    }
  }
}

async function migrateOnce(db: Db): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const what = failed ? ` (${failed.migrationName})` : '';
    throw new Error(`database migration failed${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
