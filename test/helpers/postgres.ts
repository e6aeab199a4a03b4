/**
 * A throwaway PostgreSQL database per test file. Under CI=true PostgreSQL must be there (the
 * suite fails otherwise); on a developer machine without it, the suite is skipped with a message.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestPostgres {
  url: string;
  drop(): Promise<void>;
}

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when the PostgreSQL suites should run; throws under CI when the server is missing. */
export async function postgresAvailable(): Promise<boolean> {
  if (await reachable()) return true;
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI=true but ${ADMIN_URL} is not reachable`);
  console.warn(`[imagegate tests] skipping PostgreSQL suites: ${ADMIN_URL} is not reachable (set TEST_POSTGRES_URL)`);
  return false;
}

export async function createTestDatabase(): Promise<TestPostgres> {
  const name = `imagegate_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
