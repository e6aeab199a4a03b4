/**
 * The worker pool: claims tasks (with a lease renewed while it works), runs each through the
 * same pipeline as a sync request, in task mode (retries within the task's deadline), with the
 * credits reserved at submission (the pipeline settles them, or keeps them when the run is cut
 * short and the task runs again); resumes an async upstream's task by its stored id instead of
 * submitting again; and ends the task once, in one transaction with its webhook. A task past its
 * deadline fails and is refunded; one the worker will not run (its model gone, its deadline
 * past) is refunded here, the only settlement the worker makes.
 */
import { setMaxListeners } from 'node:events';
import type { Settlement } from '../billing/settlement.js';
import { GatewayError } from '../core/errors.js';
import type { ModelCatalogue } from '../core/models.js';
import { GatewayShutdown } from '../core/run-stop.js';
import { sleepUnlessAborted } from '../core/sleep.js';
import type { SafetyPolicy } from '../core/safety-policy.js';
import { NO_SPANS, type Span, type Spans } from '../core/spans.js';
import type { TaskRow } from '../db/schema.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { ImagePipeline, TaskRunContext } from '../pipeline.js';
import { jitteredBackoff, type Backoff } from '../routing/retry-policy.js';
import type { EndingWebhooks } from './ending-webhooks.js';
import { loadJob, storedTraceparent } from './stored-job.js';
import type { TaskOutcome, TaskStore } from './task-store.js';

export interface TaskWorkerDeps {
  store: TaskStore;
  pipeline: ImagePipeline;
  settlement: Settlement;
  catalogue: ModelCatalogue;
  /** Writes a task's webhook with its ending; sweeps for missing ones from start to stop. */
  webhooks: EndingWebhooks;
  /** Polling loops, each running one task at a time (with a dispatcher, a small safety net). */
  concurrency: number;
  /** How long a claim holds without renewal; a crashed worker's task is retried after it. */
  leaseMs: number;
  /** How often idle workers look for tasks (other instances' submissions, expired leases). */
  pollMs: number;
  /** `what` says what failed when it is more than "a task run". */
  onError: (err: unknown, taskId?: string, what?: string) => void;
  /** A span per task run, the run's attempts and upstream calls its children (src/tracing/). */
  spans?: Spans;
  /** The content-safety policy of the task's key, as it is now (null: none of its own; the key gone: null too). */
  keySafety?: (keyId: string) => Promise<SafetyPolicy | null>;
  now?: () => number;
}

/** Its own class, so a provider can tell a shutdown (resumed later) from an abandoned run (core/run-stop.ts). */
const SHUTDOWN = new GatewayShutdown();
const DEADLINE_REASON = 'The task did not finish before its deadline.';
/** How near its deadline a failed run counts as having run out of time. */
const DEADLINE_SLACK_MS = 250;
/** Between tries to end a task while the database refuses: soon at first, then no busier than every 5 s. */
const END_BACKOFF: Backoff = { baseMs: 200, maxMs: 5_000 };

export class TaskWorker {
  private readonly shutdown = new AbortController();
  private readonly loops = new Set<Promise<void>>();
  private loopsWanted: number;
  private loopsRunning = 0;
  /** Idle loops' wake-ups; each leaves when its loop wakes, by wake() or by its poll timer. */
  private readonly waiting = new Set<() => void>();
  /**
   * The tasks this instance is running. A run whose lease lapsed (its renewals late or refused:
   * the event loop stalled, the database away) goes on, so this instance must not claim the task
   * again: the second run would submit it upstream a second time.
   */
  private readonly running = new Set<string>();
  /** The span of each task run under way here, told how the task ended. */
  private readonly runSpans = new Map<string, Span>();
  private started = false;
  private stopped = false;

  constructor(private readonly deps: TaskWorkerDeps) {
    this.loopsWanted = deps.concurrency;
    // Every running task listens for shutdown: as many listeners as running tasks is no leak.
    setMaxListeners(0, this.shutdown.signal);
  }

  start(): void {
    this.deps.webhooks.start();
    this.started = true;
    this.addLoops();
  }

  /**
   * How many polling loops run from now on (a dispatcher raises it while its own queue is away).
   * A loop over the number stops when its current task ends: none is cut short.
   */
  setConcurrency(loops: number): void {
    this.loopsWanted = loops;
    if (!this.started || this.stopped) return;
    this.addLoops();
    this.wake(); // idle loops over the number stop now
  }

  /**
   * Runs one task now (a dispatcher handed it over): `ran`, `done` (already final) or `busy`
   * (another worker holds its lease: try again later).
   */
  async runById(taskId: string): Promise<'ran' | 'done' | 'busy'> {
    if (this.stopped || this.running.has(taskId)) return 'busy';
    const task = await this.deps.store.claimById(taskId, this.deps.leaseMs);
    if (task) {
      await this.runOwn(task);
      // Stopped mid-run: the task went back to the queue; its dispatcher should hand it out again.
      return this.stopped ? 'busy' : 'ran';
    }
    const current = await this.deps.store.get(taskId);
    return !current || current.status === 'succeeded' || current.status === 'failed' ? 'done' : 'busy';
  }

  /** New work: idle loops look at once instead of at their next poll. */
  wake(): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const resolve of waiting) resolve();
  }

  /** Stops claiming; running tasks stop too and go back to the queue (their upstream work resumes later). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.shutdown.abort(SHUTDOWN);
    this.wake();
    await Promise.all([...this.loops]);
    await this.deps.webhooks.stop();
  }

  private addLoops(): void {
    while (this.loopsRunning < this.loopsWanted) {
      this.loopsRunning++;
      const loop = this.loop();
      this.loops.add(loop);
      void loop.finally(() => this.loops.delete(loop));
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.loopsRunning <= this.loopsWanted) {
      let task: TaskRow | null = null;
      try {
        task = await this.deps.store.claim(this.deps.leaseMs, [...this.running]);
        if (task) await this.runOwn(task);
      } catch (err) {
        this.deps.onError(err, task?.id);
      }
      if (!task && !this.stopped) await this.idle();
    }
    this.loopsRunning--;
  }

  /**
   * Until the next poll or wake(). A wait ended by its timer takes itself off the list: else an
   * instance nobody submits to kept every poll's wake-up (and its timer) until the next
   * submission, growing by loops/pollMs (8 a second by default) for as long as it stayed idle.
   */
  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.deps.pollMs);
      timer.unref();
      this.waiting.add(done);
    });
  }

  /** Runs a task this worker claimed, known as running here until the run ends. */
  private async runOwn(task: TaskRow): Promise<void> {
    if (this.running.has(task.id)) return; // claimed twice here at once (a dispatcher and a loop): one run is enough
    this.running.add(task.id);
    const attributes = {
      'imagegate.task.id': task.id,
      'imagegate.task.run': task.attempts,
      'imagegate.model': task.model,
      'imagegate.task.dialect': task.dialect,
    };
    try {
      // A trace of its own, linked to the submitting request's.
      const spans = this.deps.spans ?? NO_SPANS;
      const submission = spans.recording ? storedTraceparent(task.request) : undefined;
      await spans.run(
        'imagegate.task',
        'consumer',
        attributes,
        async (span) => {
          this.runSpans.set(task.id, span);
          await this.run(task);
        },
        submission ? [submission] : [],
      );
    } finally {
      this.running.delete(task.id);
      this.runSpans.delete(task.id);
    }
  }

  private async run(task: TaskRow): Promise<void> {
    const { store, settlement, pipeline, catalogue } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    const loaded = loadJob(task.request, catalogue);
    // Each run logs its own request_log row: a rerun after a restart is `<task id>.<attempt>`.
    const job = loaded && task.attempts > 1 ? { ...loaded, id: `${task.id}.${task.attempts}` } : loaded;
    if (!job) return this.refuse(task, 'model_not_found', `The model '${task.model}' is no longer served.`);
    if (now >= task.deadline_at) return this.refuse(task, 'deadline_exceeded', DEADLINE_REASON);
    const deadline = AbortSignal.timeout(task.deadline_at - now);
    const signal = AbortSignal.any([deadline, this.shutdown.signal]);
    const renew = setInterval(
      () => void store.renewLease(task.id, this.deps.leaseMs).catch((err: unknown) => this.deps.onError(err, task.id)),
      this.deps.leaseMs / 3,
    );
    renew.unref();
    try {
      const ctx: TaskRunContext = {
        mode: { kind: 'task', deadlineAt: task.deadline_at },
        key: null, // the key's model list was checked when the task was accepted
        keyId: task.key_id,
        keySafety: task.key_id && this.deps.keySafety ? await this.deps.keySafety(task.key_id) : null,
        taskId: task.id,
        signal,
        // The pipeline settles it; cut short by shutdown or the database going away, it keeps it for the next run.
        settlement: { kind: 'already-reserved', hold: await settlement.heldFor(task.id), shutdown: this.shutdown.signal },
      };
      const onSubmitted = (channelId: string, upstreamTaskId: string) => this.saveUpstream(task.id, channelId, upstreamTaskId);
      const result =
        task.upstream_task_id && task.upstream_channel_id
          ? await pipeline.resume(job, { ...ctx, onSubmitted }, { channelId: task.upstream_channel_id, upstreamTaskId: task.upstream_task_id })
          : await pipeline.run(job, { ...ctx, onSubmitted });
      const images = result.data.flatMap((image) =>
        image.name ? [{ name: image.name, ...(image.revised_prompt ? { revisedPrompt: image.revised_prompt } : {}) }] : [],
      );
      await this.end(task, { status: 'succeeded', result: { images, ...(result.usage ? { usage: result.usage } : {}) } });
    } catch (err) {
      // Cut short by shutdown (or by the database going away, below), the run kept the task's
      // reservation (billing/settlement.ts, the same rule) for the run that picks it up again.
      if (this.shutdown.signal.aborted) return this.handBack(task);
      // The database went away mid-run: the task is not at fault. It runs again once the lease
      // lapses (resuming its upstream task when one was submitted).
      if (isDatabaseUnavailable(err)) return this.deps.onError(err, task.id, 'the database went away during a task run; it will run again');
      // Any other failure: the run refunded the reservation; the task ends failed.
      // By the clock too: the last attempt's own timeout (cut to the deadline) may fire first, and
      // timers run on a monotonic clock that may be a few ms ahead of the wall clock.
      if (deadline.aborted || (this.deps.now?.() ?? Date.now()) >= task.deadline_at - DEADLINE_SLACK_MS)
        return this.end(task, { status: 'failed', code: 'deadline_exceeded', reason: DEADLINE_REASON });
      const known = err instanceof GatewayError ? err : null;
      await this.end(task, { status: 'failed', code: known?.code ?? 'internal_error', reason: known?.message ?? 'The task failed.' });
    } finally {
      clearInterval(renew);
    }
  }

  /** A task the worker will not run: refunded here (no run owns its reservation) and ended failed. */
  private async refuse(task: TaskRow, code: string, reason: string): Promise<void> {
    await (await this.deps.settlement.heldFor(task.id)).refund(code);
    await this.end(task, { status: 'failed', code, reason });
  }

  /**
   * Ends the task and writes its webhook in one transaction. While that fails (the database
   * refusing a write) the task stays running under its lease, and this tries again with backoff:
   * an ended task always has its delivery. At shutdown the task goes back to the queue instead,
   * and whichever run takes it next ends it.
   */
  private async end(task: TaskRow, outcome: TaskOutcome): Promise<void> {
    const { store, webhooks } = this.deps;
    const span = this.runSpans.get(task.id);
    span?.set({ 'imagegate.task.status': outcome.status });
    if (outcome.status === 'failed') span?.fail(outcome.code, outcome.reason);
    for (let failures = 1; ; failures++) {
      try {
        webhooks.committed(await store.finish(task.id, outcome, (trx, ended) => webhooks.write(trx, ended)));
        return;
      } catch (err) {
        this.deps.onError(err, task.id, 'ending a task with its webhook failed; trying again');
      }
      try {
        await sleepUnlessAborted(jitteredBackoff(END_BACKOFF, failures, Math.random), this.shutdown.signal);
      } catch {
        return this.handBack(task);
      }
    }
  }

  /** Back to the queue at once: the next start (here or on another instance) picks it up. */
  private async handBack(task: TaskRow): Promise<void> {
    await this.deps.store.renewLease(task.id, 0);
  }

  /**
   * Keeps the upstream task's id for a resume after a restart. When the database refuses, the
   * run polls all the same (a lost resume costs less than abandoning the upstream's work) while
   * the write is tried again in the background until it lands: a task whose id is stored is never
   * submitted twice, whoever runs it next.
   */
  private async saveUpstream(taskId: string, channelId: string, upstreamTaskId: string): Promise<void> {
    const save = () => this.deps.store.saveUpstream(taskId, channelId, upstreamTaskId);
    try {
      await save();
    } catch (err) {
      this.deps.onError(err, taskId, 'storing the upstream task id failed; polling it all the same, and storing it again');
      void this.saveUntilStored(taskId, save);
    }
  }

  private async saveUntilStored(taskId: string, save: () => Promise<void>): Promise<void> {
    for (let failures = 1; ; failures++) {
      try {
        await sleepUnlessAborted(jitteredBackoff(END_BACKOFF, failures, Math.random), this.shutdown.signal);
        await save();
        return;
      } catch (err) {
        if (this.shutdown.signal.aborted) return;
        if (failures % 10 === 0) this.deps.onError(err, taskId, 'storing the upstream task id still fails');
      }
    }
  }
}
