/**
 * With REDIS_URL, webhook timing goes through BullMQ: every due time (a new delivery, a retry
 * after 1 s, 2 s, 4 s, ...) becomes a delayed job, and whichever instance is free when it comes
 * due delivers it. The deliveries themselves stay leased rows in the database (an attempt is
 * sent once); each instance's slow poll remains as a safety net.
 */
import { Queue, Worker } from 'bullmq';
import { bullmqConnection } from './bullmq-dispatch.js';
import type { WebhookOutbox } from './webhooks.js';

const QUEUE = 'imagegate-webhooks';

export class BullmqWebhookTimer {
  private readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.queue = new Queue(QUEUE, { connection: bullmqConnection(redisUrl), prefix });
    this.queue.on('error', onError);
  }

  /** A wake-up at `dueAt`; one job per millisecond is enough (each wake-up delivers all that is due). */
  schedule(dueAt: number): void {
    this.queue
      .add('due', {}, { jobId: `due-${dueAt}`, delay: Math.max(0, dueAt - this.now()), removeOnComplete: 1_000, removeOnFail: 1_000 })
      .catch(this.onError);
  }

  start(outbox: WebhookOutbox): void {
    this.worker = new Worker(
      QUEUE,
      async () => {
        await outbox.deliverDue();
      },
      { connection: bullmqConnection(this.redisUrl), concurrency: 4, prefix: this.prefix },
    );
    this.worker.on('error', this.onError);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
