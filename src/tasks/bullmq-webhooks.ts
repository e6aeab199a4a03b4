/**
 * With REDIS_URL, webhook timing goes through BullMQ: every due time (a new delivery, a retry
 * after 1 s, 2 s, 4 s, ...) becomes a delayed job, and whichever instance is free when it comes
 * due delivers it. The deliveries themselves stay leased rows in the database (an attempt is
 * sent once); each instance's own outbox timer remains as a safety net, and is all there is
 * while Redis is away (no job is added then: it would only wait for Redis to come back).
 */
import { Queue, Worker } from 'bullmq';
import { MAX_RECONNECT_DELAY_MS } from '../redis/redis-options.js';
import { bullmqConnection, closeWorker, type RedisState } from './bullmq-dispatch.js';
import type { WebhookOutbox } from './webhooks.js';

const QUEUE = 'imagegate-webhooks';

export interface BullmqWebhookTimerOptions {
  redisUrl: string;
  /** BullMQ's key prefix (IMAGEGATE_REDIS_PREFIX). */
  prefix: string;
  redis: RedisState;
  onError: (err: unknown) => void;
  now?: () => number;
}

export class BullmqWebhookTimer {
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly now: () => number;

  constructor(private readonly options: BullmqWebhookTimerOptions) {
    this.now = options.now ?? Date.now;
    this.queue = new Queue(QUEUE, { connection: bullmqConnection(options.redisUrl), prefix: options.prefix });
    this.queue.on('error', options.onError);
  }

  /** A wake-up at `dueAt`; one job per millisecond is enough (each wake-up delivers all that is due). */
  schedule(dueAt: number): void {
    if (!this.options.redis.isUp()) return;
    this.queue
      .add('due', {}, { jobId: `due-${dueAt}`, delay: Math.max(0, dueAt - this.now()), removeOnComplete: 1_000, removeOnFail: 1_000 })
      .catch(this.options.onError);
  }

  start(outbox: WebhookOutbox): void {
    this.worker = new Worker(
      QUEUE,
      async () => {
        await outbox.deliverDue();
      },
      // After a connection error BullMQ waits runRetryDelay before taking jobs again (15 s by default).
      { connection: bullmqConnection(this.options.redisUrl), concurrency: 4, prefix: this.options.prefix, runRetryDelay: MAX_RECONNECT_DELAY_MS },
    );
    this.worker.on('error', this.options.onError);
  }

  async close(): Promise<void> {
    await closeWorker(this.worker, this.options.redis);
    await this.queue.close();
  }
}
