/**
 * With REDIS_URL, task dispatch goes through BullMQ: a submission adds a job (its id is the task
 * id, so adding twice is harmless), and every instance's BullMQ worker takes jobs with the
 * configured concurrency. BullMQ's stalled-job check hands a dead instance's jobs to another;
 * the task row's lease still decides who runs a task, so a task never runs twice at once.
 *
 * The database poll loop stays as a slow safety net (a job lost with Redis is still found), and
 * takes over while Redis is away: its loops rise to the instance's full capacity (less the jobs
 * BullMQ still runs here) and submissions wake them instead of adding jobs. When Redis is back
 * the loops drop to one (a loop finishes its task first), the tasks accepted meanwhile get their
 * jobs, and BullMQ, reconnecting within a second, takes over again.
 */
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { withDeadline } from '../core/deadline.js';
import { MAX_RECONNECT_DELAY_MS, redisOptionsFromUrl } from '../redis/redis-options.js';
import type { TaskStore } from './task-store.js';
import type { TaskWorker } from './task-worker.js';

const QUEUE = 'imagegate-tasks';
/** Most tasks accepted during an outage that get a job when Redis is back; the poll loop finds the rest. */
const REQUEUE_LIMIT = 10_000;

export class TaskBusyError extends Error {
  constructor(taskId: string) {
    super(`task ${taskId} is leased by another worker`);
    this.name = 'TaskBusyError';
  }
}

/** Whether Redis is reachable now, and a way to hear when that changes. */
export interface RedisState {
  isUp(): boolean;
  onChange(listener: (up: boolean) => void): () => void;
}

export interface BullmqTaskDispatchOptions {
  redisUrl: string;
  /** BullMQ's key prefix (IMAGEGATE_REDIS_PREFIX): deployments sharing a Redis stay apart. */
  prefix: string;
  /** Runs a task by id, and holds the database poll loops. */
  tasks: TaskWorker;
  /** Where the tasks accepted while Redis was away are found again. */
  store: Pick<TaskStore, 'list'>;
  redis: RedisState;
  /** Tasks this instance runs at once (IMAGEGATE_TASK_WORKERS). */
  concurrency: number;
  onError: (err: unknown) => void;
}

export class BullmqTaskDispatch {
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly connection: ConnectionOptions;
  /** BullMQ jobs running here now. */
  private running = 0;
  private stopWatching: (() => void) | undefined;

  constructor(private readonly options: BullmqTaskDispatchOptions) {
    this.connection = bullmqConnection(options.redisUrl);
    this.queue = new Queue(QUEUE, { connection: this.connection, prefix: options.prefix });
    this.queue.on('error', options.onError);
  }

  /** Hands a new task to whichever instance is free first (this one's database loops while Redis is away). */
  notify(taskId: string): void {
    const { tasks, redis, onError } = this.options;
    if (!redis.isUp()) {
      tasks.wake();
      return;
    }
    this.enqueue(taskId).catch((err: unknown) => {
      tasks.wake();
      onError(err);
    });
  }

  start(): void {
    this.worker = new Worker(QUEUE, (job) => this.runJob(job), {
      connection: this.connection,
      concurrency: this.options.concurrency,
      prefix: this.options.prefix,
      // After a connection error BullMQ waits this long before taking jobs again (15 s by default).
      runRetryDelay: MAX_RECONNECT_DELAY_MS,
    });
    this.worker.on('error', this.options.onError);
    this.stopWatching = this.options.redis.onChange((up) => {
      this.fitPolling();
      if (up) void this.enqueueWaiting();
    });
    this.fitPolling();
    // Tasks accepted while Redis was away, before a restart of this instance, are waiting too.
    if (this.options.redis.isUp()) void this.enqueueWaiting();
  }

  async close(): Promise<void> {
    this.stopWatching?.();
    await closeWorker(this.worker, this.options.redis);
    await this.queue.close();
  }

  private enqueue(taskId: string): Promise<unknown> {
    return this.queue.add(
      'run',
      { taskId },
      { jobId: taskId, attempts: 50, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: 1_000, removeOnFail: 1_000 },
    );
  }

  private async runJob(job: Job): Promise<void> {
    const taskId = String((job.data as { taskId?: unknown }).taskId);
    this.running++;
    this.fitPolling();
    try {
      // Leased elsewhere (a run in progress, or a dead worker's lease not yet expired): retry later.
      if ((await this.options.tasks.runById(taskId)) === 'busy') throw new TaskBusyError(taskId);
    } finally {
      this.running--;
      this.fitPolling();
    }
  }

  /** One database loop while BullMQ dispatches; the instance's whole capacity while Redis is away. */
  private fitPolling(): void {
    const { redis, tasks, concurrency } = this.options;
    tasks.setConcurrency(redis.isUp() ? 1 : Math.max(1, concurrency - this.running));
  }

  /** Tasks accepted while Redis was away have no job yet: give every waiting task one (adding twice is harmless), oldest first. */
  private async enqueueWaiting(): Promise<void> {
    try {
      const waiting = await this.options.store.list({ status: 'queued' }, { limit: REQUEUE_LIMIT, offset: 0 });
      for (const task of waiting.reverse()) await this.enqueue(task.id);
    } catch (err) {
      this.options.onError(err);
    }
  }
}

/** BullMQ's connection options from a redis:// URL (reconnecting within a second, as every Redis connection here). */
export function bullmqConnection(redisUrl: string): ConnectionOptions {
  return {
    ...redisOptionsFromUrl(redisUrl),
    // BullMQ workers block on Redis: they must not give up on a slow command.
    maxRetriesPerRequest: null,
  };
}

/** The longest a graceful close may wait for the worker's jobs before its connections are cut. */
const GRACEFUL_CLOSE_MS = 5_000;

/**
 * Stops a BullMQ worker: gracefully (its running jobs finish) while Redis is up; at once while it
 * is away, when BullMQ's graceful close would wait for a connection that may never come back.
 * A graceful close is bounded too: one begun just as Redis came back was seen waiting on a
 * connection still being made (a gateway's stop must not hang). Past the bound the worker's
 * connections are cut and the stop goes on; its jobs left active are handed on by BullMQ's
 * stalled-job check, and the task rows stay the truth.
 */
export async function closeWorker(
  worker: Pick<Worker, 'close' | 'disconnect'> | undefined,
  redis: Pick<RedisState, 'isUp'>,
  graceMs = GRACEFUL_CLOSE_MS,
): Promise<void> {
  if (!worker) return;
  if (!redis.isUp()) return worker.close(true);
  const closing = worker.close();
  if (await settlesWithin(closing, graceMs)) return;
  await worker.disconnect().catch(() => undefined);
  await settlesWithin(closing, graceMs);
}

/** Whether `promise` settles (either way) within `ms`; a rejection is not rethrown. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  return withDeadline(settled, ms, () => false);
}
