/**
 * Every attempt of a webhook delivery, for a task's timeline: when it was sent, what the receiver
 * answered (or why it was not reached) and how long it took. Bounded per delivery (the outbox
 * keeps the latest WEBHOOK_ATTEMPTS_KEPT); a delivery row still counts all of them.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhook_attempts')
    .addColumn('delivery_id', 'text', (c) => c.notNull())
    // 1-based, the delivery's attempt count after this one.
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('attempted_at', 'bigint', (c) => c.notNull())
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    // delivered, http_error, unreachable, refused (as the webhook metrics name them)
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('http_status', 'integer')
    .addColumn('error', 'text')
    .addPrimaryKeyConstraint('webhook_attempts_pk', ['delivery_id', 'attempt'])
    .execute();
  await db.schema.createIndex('webhook_attempts_task').on('webhook_attempts').columns(['task_id', 'attempted_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('webhook_attempts').ifExists().execute();
}
