/**
 * The webhook a task's ending owes. The worker ends a task and writes its delivery in one
 * transaction (TaskStore.finish with `write`), so the two commit together or not at all. A sweep,
 * at start and then periodically, writes any delivery still missing: tasks ended by a version
 * that wrote the two apart, or a database restored without the row. The delivery id comes from
 * the task id, so however many writers race (the ending, sweeps on several instances), a task
 * gets one delivery.
 */
import type { Db } from '../db/database.js';
import type { TaskRow } from '../db/schema.js';
import type { TaskStore } from './task-store.js';
import { webhookPayload } from './task-views.js';

/** What this needs of WebhookOutbox. */
export interface DeliveryOutbox {
  add(db: Db, taskId: string, url: string, payload: unknown): Promise<boolean>;
  announce(): void;
}

export interface EndingWebhooksDeps {
  db: Db;
  store: TaskStore;
  outbox: DeliveryOutbox;
  sign: (name: string) => string;
  /** How often the sweep runs after the one at start. */
  sweepEveryMs: number;
  /** How far back (by creation) a periodic sweep looks; the one at start looks at every task. */
  sweepWindowMs: number;
  /** A sweep found an ended task without its delivery, and wrote it. */
  onRepaired: (taskId: string) => void;
  onError: (err: unknown) => void;
  now?: () => number;
}

export class EndingWebhooks {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly deps: EndingWebhooksDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Inside the ending's transaction: the ended task's delivery, when it has a callback (true when written). */
  async write(trx: Db, ended: TaskRow): Promise<boolean> {
    if (!ended.callback_url) return false;
    return this.deps.outbox.add(trx, ended.id, ended.callback_url, webhookPayload(ended, this.deps.sign, this.now()));
  }

  /** After the ending committed: its delivery goes out soon. */
  committed(ended: TaskRow | null): void {
    if (ended?.callback_url) this.deps.outbox.announce();
  }

  /** Writes the missing deliveries of tasks created since `createdSince` (every task when undefined); returns how many. */
  async repair(createdSince?: number): Promise<number> {
    let written = 0;
    for (const task of await this.deps.store.endedWithoutDelivery(createdSince)) {
      if (!(await this.write(this.deps.db, task))) continue;
      written += 1;
      this.deps.onRepaired(task.id);
    }
    if (written > 0) this.deps.outbox.announce();
    return written;
  }

  /** A sweep of every task now, then of recent ones every `sweepEveryMs`. The timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.sweep(undefined);
    this.timer = setInterval(() => this.sweep(this.now() - this.deps.sweepWindowMs), this.deps.sweepEveryMs);
    this.timer.unref();
  }

  /** No more sweeps; waits for the one in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  private sweep(createdSince: number | undefined): void {
    if (this.sweeping) return;
    this.sweeping = this.repair(createdSince)
      .then(() => undefined, this.deps.onError)
      .finally(() => {
        this.sweeping = undefined;
      });
  }
}
