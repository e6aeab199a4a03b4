/** Opens the configured database (SQLite embedded, PostgreSQL at scale) and migrates it. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config.js';
import * as initial from './migrations/0001_initial.js';
import * as accounts from './migrations/0002_accounts.js';
import * as tasks from './migrations/0003_tasks.js';
import type { Tables } from './schema.js';

export type Db = Kysely<Tables>;

export interface Database {
  db: Db;
  kind: DatabaseConfig['kind'];
  close(): Promise<void>;
}

/** Plain ordered list: works the same from source (tsx) and from a bundle. */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_accounts': accounts,
  '0003_tasks': tasks,
};

const provider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  const db = config.kind === 'postgres' ? openPostgres(config.url) : openSqlite(config.file);
  const kind = config.kind;
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, kind, close: () => db.destroy() };
}

function openSqlite(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
}

// int8 columns (our epoch-ms times) come back as strings by default; they fit a double.
const INT8_OID = 20;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => Number(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  },
};

function openPostgres(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, max: 10, types: pgTypes });
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * Instances starting together may race to create the migrator's own tables (PostgreSQL can fail
 * a concurrent CREATE TABLE IF NOT EXISTS); the migrations themselves run under its lock. So a
 * failed attempt is retried a few times before it counts.
 */
async function migrate(db: Db): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(db);
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 100));
    }
  }
}

async function migrateOnce(db: Db): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const what = failed ? ` (${failed.migrationName})` : '';
    throw new Error(`database migration failed${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
