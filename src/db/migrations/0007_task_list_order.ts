/**
 * The task list's order as an index: newest first by created_at, then id. The admin list of every
 * task (no state or key filter) sorted the whole table for each page; by cursor or by offset it
 * now reads the index from where the page starts (images had theirs since 0004, usage rows by
 * created_at since 0001).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('tasks_created_at').on('tasks').columns(['created_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('tasks_created_at').ifExists().execute();
}
