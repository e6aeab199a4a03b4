/**
 * Durable async tasks (both task dialects: new-api's async mode and the task API), their webhook deliveries, and each key's webhook
 * signing secret. A task row is committed before the client hears its id.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tasks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text')
    // newapi (new-api's async dialect) or task_api (the task API dialect): how the task is shown and its webhook is shaped.
    .addColumn('dialect', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    // The accepted request: endpoint, body fields and stored input image names, JSON.
    .addColumn('request', 'text', (c) => c.notNull())
    // queued, running, succeeded, failed
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    // An async upstream's task id and channel, stored before polling: a restart resumes polling, never resubmits.
    .addColumn('upstream_task_id', 'text')
    .addColumn('upstream_channel_id', 'text')
    // JSON: the delivered images ({url, name}[]) and usage.
    .addColumn('result', 'text')
    .addColumn('fail_code', 'text')
    .addColumn('fail_reason', 'text')
    .addColumn('callback_url', 'text')
    .addColumn('idempotency_key', 'text')
    .addColumn('request_hash', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('finished_at', 'bigint')
    .addColumn('deadline_at', 'bigint', (c) => c.notNull())
    // A worker owns a running task until this time; a crashed worker's tasks are taken over after it.
    .addColumn('lease_until', 'bigint')
    .execute();
  await db.schema.createIndex('tasks_status').on('tasks').columns(['status', 'created_at']).execute();
  await db.schema.createIndex('tasks_key').on('tasks').columns(['key_id', 'created_at']).execute();
  await db.schema.createIndex('tasks_idempotency').on('tasks').columns(['key_id', 'idempotency_key']).unique().execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    // pending, delivered, failed (gave up)
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('first_attempt_at', 'bigint')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('lease_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .execute();
  await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('webhook_deliveries_task').on('webhook_deliveries').column('task_id').execute();

  await db.schema.alterTable('api_keys').addColumn('webhook_secret', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('webhook_deliveries').ifExists().execute();
  await db.schema.dropTable('tasks').ifExists().execute();
}
