/**
 * The worker pool: claims tasks (with a lease renewed while it works), runs each through the
 * same pipeline as a sync request with the credits reserved at submission, resumes an async
 * upstream's task by its stored id instead of submitting again, and ends the task once, with
 * its webhook. A task past its deadline fails and is refunded.
 */
import type { Credits } from '../billing/credits.js';
import { GatewayError } from '../core/errors.js';
import type { ModelCatalogue } from '../core/models.js';
import type { TaskRow } from '../db/schema.js';
import type { ImagePipeline } from '../pipeline.js';
import { loadJob } from './stored-job.js';
import type { TaskStore } from './task-store.js';
import { webhookPayload } from './task-views.js';

export interface TaskOutbox {
  enqueue(taskId: string, keyId: string | null, url: string, payload: unknown): Promise<unknown>;
}

export interface TaskWorkerDeps {
  store: TaskStore;
  pipeline: ImagePipeline;
  credits: Credits;
  catalogue: ModelCatalogue;
  outbox: TaskOutbox;
  sign: (name: string) => string;
  /** Polling loops, each running one task at a time (with a dispatcher, a small safety net). */
  concurrency: number;
  /** How long a claim holds without renewal; a crashed worker's task is retried after it. */
  leaseMs: number;
  /** How often idle workers look for tasks (other instances' submissions, expired leases). */
  pollMs: number;
  onError: (err: unknown, taskId?: string) => void;
  now?: () => number;
}

const SHUTDOWN = new Error('imagegate is shutting down');

export class TaskWorker {
  private readonly shutdown = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private waiting: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly deps: TaskWorkerDeps) {}

  start(): void {
    void this.recoverWebhooks();
    for (let i = 0; i < this.deps.concurrency; i++) this.loops.push(this.loop());
  }

  /**
   * Runs one task now (a dispatcher handed it over): `ran`, `done` (already final) or `busy`
   * (another worker holds its lease: try again later).
   */
  async runById(taskId: string): Promise<'ran' | 'done' | 'busy'> {
    if (this.stopped) return 'busy';
    const task = await this.deps.store.claimById(taskId, this.deps.leaseMs);
    if (task) {
      await this.run(task);
      // Stopped mid-run: the task went back to the queue; its dispatcher should hand it out again.
      return this.stopped ? 'busy' : 'ran';
    }
    const current = await this.deps.store.get(taskId);
    return !current || current.status === 'succeeded' || current.status === 'failed' ? 'done' : 'busy';
  }

  /** New work: idle loops look at once instead of at their next poll. */
  wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** Stops claiming; running tasks stop too and go back to the queue (their upstream work resumes later). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.shutdown.abort(SHUTDOWN);
    this.wake();
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let task: TaskRow | null = null;
      try {
        task = await this.deps.store.claim(this.deps.leaseMs);
        if (task) await this.run(task);
      } catch (err) {
        this.deps.onError(err, task?.id);
      }
      if (!task && !this.stopped) await this.idle();
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.deps.pollMs);
      timer.unref();
      this.waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async run(task: TaskRow): Promise<void> {
    const { store, credits, catalogue } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    const loaded = loadJob(task.request, catalogue);
    // Each run logs its own request_log row: a rerun after a restart is `<task id>.<attempt>`.
    const job = loaded && task.attempts > 1 ? { ...loaded, id: `${task.id}.${task.attempts}` } : loaded;
    if (!job) return this.fail(task, 'model_not_found', `The model '${task.model}' is no longer served.`);
    if (now >= task.deadline_at) return this.fail(task, 'deadline_exceeded', 'The task did not finish before its deadline.');
    const deadline = AbortSignal.timeout(task.deadline_at - now);
    const signal = AbortSignal.any([deadline, this.shutdown.signal]);
    const renew = setInterval(() => void store.renewLease(task.id, this.deps.leaseMs).catch((err: unknown) => this.deps.onError(err, task.id)), this.deps.leaseMs / 3);
    renew.unref();
    try {
      const result = await this.deps.pipeline.run(job, {
        key: null, // the key's model list was checked when the task was accepted
        keyId: task.key_id,
        signal,
        reservation: await credits.reservationOf(task.id),
        keepReservationOn: SHUTDOWN,
        ...(task.upstream_task_id && task.upstream_channel_id ? { resume: { channelId: task.upstream_channel_id, upstreamTaskId: task.upstream_task_id } } : {}),
        onSubmitted: (channelId, upstreamTaskId) => store.saveUpstream(task.id, channelId, upstreamTaskId),
      });
      const images = result.data.flatMap((image) => (image.name ? [{ name: image.name, ...(image.revised_prompt ? { revisedPrompt: image.revised_prompt } : {}) }] : []));
      if (await store.finish(task.id, { status: 'succeeded', result: { images, ...(result.usage ? { usage: result.usage } : {}) } })) await this.notify(task.id);
    } catch (err) {
      if (this.shutdown.signal.aborted) {
        // Back to the queue at once: the next start (here or on another instance) picks it up.
        await store.renewLease(task.id, 0);
        return;
      }
      if (deadline.aborted) return this.fail(task, 'deadline_exceeded', 'The task did not finish before its deadline.');
      const known = err instanceof GatewayError ? err : null;
      await this.fail(task, known?.code ?? 'internal_error', known?.message ?? 'The task failed.', false);
    } finally {
      clearInterval(renew);
    }
  }

  /** Ends the task as failed; `refund` when the pipeline did not already refund it. */
  private async fail(task: TaskRow, code: string, reason: string, refund = true): Promise<void> {
    if (refund) {
      const reservation = await this.deps.credits.reservationOf(task.id);
      if (reservation) await this.deps.credits.refund(reservation, code);
    }
    if (await this.deps.store.finish(task.id, { status: 'failed', code, reason })) await this.notify(task.id);
  }

  private async notify(taskId: string): Promise<void> {
    const task = await this.deps.store.get(taskId);
    if (!task?.callback_url) return;
    await this.deps.outbox.enqueue(task.id, task.key_id, task.callback_url, webhookPayload(task, this.deps.sign, this.deps.now?.() ?? Date.now()));
  }

  /** A crash between ending a task and storing its webhook: store the webhook now. */
  private async recoverWebhooks(): Promise<void> {
    try {
      for (const task of await this.deps.store.endedWithoutDelivery()) await this.notify(task.id);
    } catch (err) {
      this.deps.onError(err);
    }
  }
}
