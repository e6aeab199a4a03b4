/**
 * Accepting a task: idempotency, the key's model list, the callback URL, credits reserved under
 * the task's id, and the row committed before the caller hears the id. Reading a task: only its
 * own key may.
 */
import { createHash } from 'node:crypto';
import { checkModelAllowed } from '../billing/access.js';
import type { KeyIdentity } from '../billing/api-keys.js';
import type { Settlement } from '../billing/settlement.js';
import { gatewayError } from '../core/errors.js';
import type { ImageJob } from '../core/job.js';
import type { TaskRow, TasksTable } from '../db/schema.js';
import type { CallbackUrlCheck } from './callback-url.js';
import { storeJob } from './stored-job.js';
import type { TaskStore } from './task-store.js';

export interface SubmitTask {
  job: ImageJob;
  key: KeyIdentity | null;
  dialect: TasksTable['dialect'];
  /** The body's `callback_url` as the client sent it (any type): checked here, before anything is reserved. */
  callbackUrl?: unknown;
  idempotencyKey?: string | null;
  /** What identifies "the same body" for the idempotency key (the raw request, canonical). */
  requestFingerprint: string;
  /** The body as the caller sent it, kept with the task (the task API dialect's callback repeats it). */
  sentBody?: Readonly<Record<string, unknown>>;
  /** The submitting request's span (tracing on), kept so that each run's span links to it. */
  traceparent?: string | undefined;
}

const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

export class TaskService {
  constructor(
    private readonly deps: {
      store: TaskStore;
      /** Reserves the task's credits at submission; a stored task keeps them for the run that settles them. */
      settlement: Settlement;
      deadlineMs: number;
      checkCallbackUrl: CallbackUrlCheck;
      /** Hands the new task to the workers (they also poll, for what a dispatcher lost). */
      wake: (taskId: string) => void;
      /** The prompt against the content policy's blocklists (throws 400 content_policy_violation), before anything is reserved. */
      screenPrompt?: (job: ImageJob, key: KeyIdentity | null) => void;
      now?: () => number;
    },
  ) {}

  /** The task (new, or the earlier one for a replayed Idempotency-Key) and whether it was a replay. */
  async submit(req: SubmitTask): Promise<{ task: TaskRow; replay: boolean }> {
    const now = this.deps.now?.() ?? Date.now();
    const hash = createHash('sha256').update(req.requestFingerprint).digest('hex');
    const earlier = await this.replay(req, hash, now);
    if (earlier) return { task: earlier, replay: true };
    if (req.key) checkModelAllowed(req.key.policy, req.job.model.id);
    this.deps.screenPrompt?.(req.job, req.key);
    const callbackUrl = await this.deps.checkCallbackUrl(req.callbackUrl);
    const { store, settlement } = this.deps;
    const id = store.newId();
    // Task results are links (the task API hands out URLs); the worker stores every image.
    const job: ImageJob = { ...req.job, id, responseFormat: 'url' };
    const hold = await settlement.reserve(req.key, job);
    let task: TaskRow;
    try {
      task = await store.create(id, {
        keyId: req.key?.id ?? null,
        dialect: req.dialect,
        action: job.operation === 'edit' ? 'edits' : 'generations',
        model: job.model.id,
        request: storeJob(job, req.sentBody, req.traceparent),
        callbackUrl,
        idempotencyKey: req.key && req.idempotencyKey ? req.idempotencyKey : null,
        requestHash: hash,
        deadlineAt: now + this.deps.deadlineMs,
      });
    } catch (err) {
      await hold.refund('task not stored');
      // Two submissions with one Idempotency-Key raced: the other one won.
      const raced = await this.replay(req, hash, now);
      if (raced) return { task: raced, replay: true };
      throw err;
    }
    // Stored: the reservation is the task's now, settled by the run that ends it (task-worker.ts).
    hold.keep();
    this.deps.wake(id);
    return { task, replay: false };
  }

  /** The task, if it exists and belongs to this key (another key's task is "not found"). */
  async get(id: string, key: KeyIdentity | null): Promise<TaskRow | null> {
    const task = await this.deps.store.get(id);
    if (!task || (task.key_id ?? null) !== (key?.id ?? null)) return null;
    return task;
  }

  private async replay(req: SubmitTask, hash: string, now: number): Promise<TaskRow | null> {
    if (!req.key || !req.idempotencyKey) return null;
    const earlier = await this.deps.store.byIdempotencyKey(req.key.id, req.idempotencyKey);
    if (!earlier) return null;
    if (now - earlier.created_at > IDEMPOTENCY_WINDOW_MS) {
      await this.deps.store.forgetIdempotencyKey(earlier.id);
      return null;
    }
    if (earlier.request_hash !== hash) {
      throw gatewayError('idempotency_key_reused', 'This Idempotency-Key was used with a different request body in the last 24 hours.');
    }
    return earlier;
  }
}
