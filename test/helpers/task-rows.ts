/** A task row written straight into the table: an ended task, as an earlier version or a crash left it. */
import type { Insertable } from 'kysely';
import type { Db } from '../../src/db/database.js';
import type { TasksTable } from '../../src/db/schema.js';

type TaskRowValues = Insertable<TasksTable>;

/** Inserts an ended task (succeeded unless told otherwise) with `fields` over the defaults. */
export async function insertEndedTask(db: Db, fields: Partial<TaskRowValues> & { id: string }): Promise<void> {
  const now = Date.now();
  const row: TaskRowValues = {
    key_id: null,
    dialect: 'task_api',
    action: 'generations',
    model: 'gpt-image-1',
    request: '{}',
    status: 'succeeded',
    attempts: 1,
    upstream_task_id: null,
    upstream_channel_id: null,
    result: null,
    fail_code: null,
    fail_reason: null,
    callback_url: null,
    idempotency_key: null,
    request_hash: null,
    created_at: now,
    started_at: now,
    finished_at: now,
    deadline_at: now + 60_000,
    lease_until: null,
    ...fields,
  };
  await db.insertInto('tasks').values(row).execute();
}
