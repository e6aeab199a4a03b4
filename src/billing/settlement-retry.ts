/**
 * Settlements the database could not take when they were made (an outage, a killed connection).
 * A settlement is idempotent (one settle entry per request), so it is tried again with backoff
 * until it lands: a reservation is never left holding credits because the database blinked.
 * At shutdown each pending one gets a last try; any still pending is logged by request id.
 */
import { withDeadline } from '../core/deadline.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';

export interface SettlementRetryOptions {
  /** A settlement that failed for good (not an outage), or was still pending at shutdown. */
  onGiveUp: (err: unknown, requestId: string) => void;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

export class SettlementRetry {
  private readonly pending = new Map<string, Promise<void>>();
  private readonly sleepers = new Set<() => void>();
  private closing = false;
  /** Set once close() has logged what is left: a late outcome is not reported twice. */
  private abandoned = false;

  constructor(private readonly options: SettlementRetryOptions) {}

  get size(): number {
    return this.pending.size;
  }

  /** Tries `settle` again later; a request already pending keeps its first settlement (the later one would find it settled). */
  schedule(requestId: string, settle: () => Promise<void>): void {
    if (this.pending.has(requestId)) return;
    if (this.closing) {
      this.options.onGiveUp(new Error('shutting down'), requestId);
      return;
    }
    const run = this.retry(requestId, settle).finally(() => this.pending.delete(requestId));
    this.pending.set(requestId, run);
  }

  /** Tries every pending settlement once more now; waits at most `graceMs` for them. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const wake of this.sleepers) wake();
    await withDeadline(Promise.all(this.pending.values()), graceMs, () => undefined);
    this.abandoned = true;
    for (const requestId of this.pending.keys()) this.options.onGiveUp(new Error('still pending at shutdown'), requestId);
  }

  private async retry(requestId: string, settle: () => Promise<void>): Promise<void> {
    const maxDelay = this.options.maxDelayMs ?? 10_000;
    for (let delay = this.options.firstDelayMs ?? 500; ; delay = Math.min(delay * 2, maxDelay)) {
      await this.sleep(delay);
      try {
        return await settle();
      } catch (err) {
        if (this.closing || !isDatabaseUnavailable(err)) {
          if (!this.abandoned) this.options.onGiveUp(err, requestId);
          return;
        }
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
