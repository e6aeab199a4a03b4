/**
 * The tasks table: create (idempotently), read, claim with a lease, record the upstream task and the
 * final state. Claims are conditional updates, so two workers (or instances) never run one
 * task at once, and a crashed worker's task is taken over when its lease runs out. Ending a task
 * commits, in the same transaction, what its ending owes (its webhook delivery).
 */
import { randomBytes } from 'node:crypto';
import type { ExpressionBuilder } from 'kysely';
import type { Db } from '../db/database.js';
import { newestFirst, type ListWindow } from '../db/row-cursor.js';
import type { Tables, TaskRow, TaskStatus, TasksTable } from '../db/schema.js';
import type { TaskCounts, TaskMetricsSink } from '../core/metrics-sink.js';

export interface NewTask {
  keyId: string | null;
  dialect: TasksTable['dialect'];
  action: TasksTable['action'];
  model: string;
  request: string;
  callbackUrl: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  deadlineAt: number;
}

/** The stored outcome of a task that succeeded. */
export interface StoredTaskResult {
  images: { name: string; revisedPrompt?: string }[];
  usage?: unknown;
}

export type TaskOutcome = { status: 'succeeded'; result: StoredTaskResult } | { status: 'failed'; code: string; reason: string };

/** Writes, inside the transaction that ends the task, what the ending owes; a throw undoes the ending. */
export type OnTaskEnded = (trx: Db, ended: TaskRow) => Promise<unknown>;

export interface TaskFilter {
  status?: TaskStatus;
  keyId?: string;
  model?: string;
  from?: number;
  to?: number;
}

export class TaskStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
    /** Hears each task that ends (src/metrics/). */
    private readonly metrics?: TaskMetricsSink,
  ) {}

  newId(): string {
    return `task_${randomBytes(16).toString('base64url')}`;
  }

  async create(id: string, task: NewTask): Promise<TaskRow> {
    const row: TaskRow = {
      id,
      key_id: task.keyId,
      dialect: task.dialect,
      action: task.action,
      model: task.model,
      request: task.request,
      status: 'queued',
      attempts: 0,
      upstream_task_id: null,
      upstream_channel_id: null,
      result: null,
      fail_code: null,
      fail_reason: null,
      callback_url: task.callbackUrl,
      idempotency_key: task.idempotencyKey,
      request_hash: task.requestHash,
      created_at: this.now(),
      started_at: null,
      finished_at: null,
      deadline_at: task.deadlineAt,
      lease_until: null,
    };
    await this.db.insertInto('tasks').values(row).execute();
    return row;
  }

  async get(id: string): Promise<TaskRow | null> {
    return (await this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
  }

  async byIdempotencyKey(keyId: string, idempotencyKey: string): Promise<TaskRow | null> {
    return (await this.db.selectFrom('tasks').selectAll().where('key_id', '=', keyId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst()) ?? null;
  }

  /** An Idempotency-Key older than its 24 h window is free again. */
  async forgetIdempotencyKey(id: string): Promise<void> {
    await this.db.updateTable('tasks').set({ idempotency_key: null }).where('id', '=', id).execute();
  }

  /**
   * The oldest task waiting (or whose worker's lease ran out), now leased to the caller; never one
   * of `running` (the caller's own runs, whose lease may have lapsed while they went on).
   */
  async claim(leaseMs: number, running: readonly string[] = []): Promise<TaskRow | null> {
    for (let tries = 0; tries < 5; tries++) {
      let query = this.db
        .selectFrom('tasks')
        .select('id')
        .where((eb) => claimable(eb, this.now()));
      if (running.length > 0) query = query.where('id', 'not in', running);
      const candidate = await query.orderBy('created_at').limit(1).executeTakeFirst();
      if (!candidate) return null;
      const claimed = await this.claimById(candidate.id, leaseMs);
      if (claimed) return claimed;
      // Another worker took it between the read and the update: look again.
    }
    return null;
  }

  /** This task, leased to the caller, when it is waiting or its worker's lease ran out; else null. */
  async claimById(id: string, leaseMs: number): Promise<TaskRow | null> {
    const now = this.now();
    const claimed = await this.db
      .updateTable('tasks')
      .set((eb) => ({ status: 'running', lease_until: now + leaseMs, attempts: eb('attempts', '+', 1), started_at: eb.fn.coalesce('started_at', eb.val(now)) }))
      .where('id', '=', id)
      .where((eb) => claimable(eb, now))
      .returningAll()
      .executeTakeFirst();
    return claimed ?? null;
  }

  async renewLease(id: string, leaseMs: number): Promise<void> {
    await this.db
      .updateTable('tasks')
      .set({ lease_until: this.now() + leaseMs })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .execute();
  }

  async saveUpstream(id: string, channelId: string, upstreamTaskId: string): Promise<void> {
    await this.db.updateTable('tasks').set({ upstream_channel_id: channelId, upstream_task_id: upstreamTaskId }).where('id', '=', id).execute();
  }

  /**
   * Ends a task once: only a task not yet final changes. `onEnded` runs in the same transaction
   * with the ended row, so the ending and what it writes commit together or not at all.
   * Returns the ended row, or null when the task was already final.
   */
  async finish(id: string, outcome: TaskOutcome, onEnded?: OnTaskEnded): Promise<TaskRow | null> {
    const final =
      outcome.status === 'succeeded'
        ? { status: 'succeeded' as const, result: JSON.stringify(outcome.result) }
        : { status: 'failed' as const, fail_code: outcome.code, fail_reason: outcome.reason };
    const finished = await this.db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('tasks')
        .set({ ...final, finished_at: this.now(), lease_until: null })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'running'])
        .returningAll()
        .executeTakeFirst();
      if (!ended) return null;
      await onEnded?.(trx, ended);
      return ended;
    });
    if (finished) this.metrics?.taskEnded(final.status, ((finished.finished_at ?? this.now()) - finished.created_at) / 1000);
    return finished;
  }

  /** The queue now, for the metrics: two counts over the status index, never a scan of ended tasks. */
  async counts(): Promise<TaskCounts> {
    const now = this.now();
    const [byStatus, lapsed] = await Promise.all([
      this.db
        .selectFrom('tasks')
        .select(['status', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('status', 'in', ['queued', 'running'])
        .groupBy('status')
        .execute(),
      this.db
        .selectFrom('tasks')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('status', '=', 'running')
        .where('lease_until', '<', now)
        .executeTakeFirst(),
    ]);
    const of = (status: TaskStatus) => Number(byStatus.find((row) => row.status === status)?.n ?? 0);
    return { queued: of('queued'), running: of('running'), waiting: of('queued') + Number(lapsed?.n ?? 0) };
  }

  /** Newest first, past `after` and `offset` rows skipped. */
  async list(filter: TaskFilter, page: ListWindow): Promise<TaskRow[]> {
    let query = this.db.selectFrom('tasks').selectAll();
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.keyId) query = query.where('key_id', '=', filter.keyId);
    if (filter.model) query = query.where('model', '=', filter.model);
    if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('created_at', '<', filter.to);
    return newestFirst(query, page).execute();
  }

  /** The request log rows of a task's runs (`<id>`, then `<id>.<attempt>` for reruns). */
  async runs(id: string) {
    return this.db
      .selectFrom('request_log')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', id), eb('id', 'like', `${id}.%`)]))
      .orderBy('created_at')
      .execute();
  }

  /**
   * Tasks that ended with a callback but have no webhook row (ended by a version that wrote the
   * two separately, or restored without it); `createdSince` narrows the look to recent tasks.
   */
  async endedWithoutDelivery(createdSince?: number): Promise<TaskRow[]> {
    let query = this.db.selectFrom('tasks').selectAll().where('status', 'in', ['succeeded', 'failed']);
    if (createdSince !== undefined) query = query.where('created_at', '>=', createdSince);
    return query
      .where('callback_url', 'is not', null)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('webhook_deliveries').select('id').whereRef('webhook_deliveries.task_id', '=', 'tasks.id'))),
      )
      .limit(1000)
      .execute();
  }
}

/** Waiting, or running under a lease that ran out (its worker died). */
function claimable(eb: ExpressionBuilder<Tables, 'tasks'>, now: number) {
  return eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)])]);
}
