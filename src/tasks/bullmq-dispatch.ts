/**
 * With REDIS_URL, task dispatch goes through BullMQ: a submission adds a job (its id is the task
 * id, so adding twice is harmless), and every instance's BullMQ worker takes jobs with the
 * configured concurrency. BullMQ's stalled-job check hands a dead instance's jobs to another;
 * the task row's lease still decides who runs a task, so a task never runs twice at once.
 * The database poll loop stays as a slow safety net (a job lost with Redis is still found).
 */
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { TaskWorker } from './task-worker.js';

const QUEUE = 'imagegate-tasks';

export class TaskBusyError extends Error {
  constructor(taskId: string) {
    super(`task ${taskId} is leased by another worker`);
    this.name = 'TaskBusyError';
  }
}

export class BullmqTaskDispatch {
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly connection: ConnectionOptions;

  constructor(
    redisUrl: string,
    /** BullMQ's key prefix (IMAGEGATE_REDIS_PREFIX): deployments sharing a Redis stay apart. */
    private readonly prefix: string,
    private readonly tasks: TaskWorker,
    private readonly concurrency: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.connection = bullmqConnection(redisUrl);
    this.queue = new Queue(QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', onError);
  }

  /** Hands a new task to whichever instance is free first. */
  notify(taskId: string): void {
    this.queue
      .add('run', { taskId }, { jobId: taskId, attempts: 50, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: 1_000, removeOnFail: 1_000 })
      .catch(this.onError);
  }

  start(): void {
    this.worker = new Worker(
      QUEUE,
      async (job) => {
        const taskId = String((job.data as { taskId?: unknown }).taskId);
        // Leased elsewhere (a run in progress, or a dead worker's lease not yet expired): retry later.
        if ((await this.tasks.runById(taskId)) === 'busy') throw new TaskBusyError(taskId);
      },
      { connection: this.connection, concurrency: this.concurrency, prefix: this.prefix },
    );
    this.worker.on('error', this.onError);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}

/** BullMQ's connection options from a redis:// URL. */
export function bullmqConnection(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ workers block on Redis: they must not give up on a slow command.
    maxRetriesPerRequest: null,
  };
}
