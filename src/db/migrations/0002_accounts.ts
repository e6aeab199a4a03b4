/**
 * Accounts: key limits and credits, the append-only credit ledger, and the usage columns of the
 * request log. Money is integer micro-dollars (1 USD = 1,000,000), so sums are exact.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const keyColumns: [string, 'text' | 'bigint' | 'integer', boolean][] = [
    ['owner', 'text', false],
    // null: unlimited (no credit checks).
    ['balance_micros', 'bigint', false],
    ['expires_at', 'bigint', false],
    ['allowed_models', 'text', false],
    ['allowed_ips', 'text', false],
    ['rpm', 'integer', false],
    ['max_concurrent', 'integer', false],
  ];
  for (const [name, type] of keyColumns) await db.schema.alterTable('api_keys').addColumn(name, type).execute();
  await db.schema
    .alterTable('api_keys')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();

  await db.schema
    .createTable('credit_ledger')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull())
    // grant (operator), reserve (on accept), release (unused part, at settle), refund (failure)
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount_micros', 'bigint', (c) => c.notNull())
    .addColumn('request_id', 'text')
    // `<request id>:reserve` or `<request id>:settle`; unique, so a request settles once. null for grants.
    .addColumn('entry_key', 'text', (c) => c.unique())
    .addColumn('note', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('credit_ledger_key').on('credit_ledger').columns(['key_id', 'created_at']).execute();

  const usageColumns: [string, 'text' | 'bigint'][] = [
    ['size', 'text'],
    ['quality', 'text'],
    ['price_micros', 'bigint'],
    ['cost_micros', 'bigint'],
  ];
  for (const [name, type] of usageColumns) await db.schema.alterTable('request_log').addColumn(name, type).execute();
  await db.schema.createIndex('request_log_key_created').on('request_log').columns(['key_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('credit_ledger').ifExists().execute();
}
