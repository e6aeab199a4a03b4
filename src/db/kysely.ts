/**
 * Kysely's runtime, from its CommonJS build: its ES module build is ~260 files that Node 20's
 * ESM loader resolves and links one by one, ~0.1 s of a start; require() loads the same code in
 * about half the time. Import Kysely's values from here and its types from 'kysely' (erased).
 */
import { createRequire } from 'node:module';
import type * as KyselyModule from 'kysely';

const kysely = createRequire(import.meta.url)('kysely') as typeof KyselyModule;

export const { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } = kysely;
export type Kysely<DB> = KyselyModule.Kysely<DB>;
