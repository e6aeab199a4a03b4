/**
 * Settlement: every rule for a request's credits, in one place. A metered request reserves the
 * most it may cost before any upstream call (402 when the balance cannot cover it); when it ends,
 * its one owner settles the reservation once: charged what was delivered (the rest goes back),
 * refunded in full when it failed, or kept for a later run (a task cut short runs again).
 *
 * Owners, one at a time: the pipeline for the run it was given (sync requests, streams, task runs);
 * the task service while it accepts a task (a task not stored is refunded; a stored one keeps its
 * reservation for its runs); the task worker only for a task it will not run (its model gone, its
 * deadline past). A CreditHold is that ownership: it settles at most once, and a second
 * settlement is a bug, reported through onSettledTwice (tests fail on it) and not sent. The
 * ledger ignores a second settlement of one request anyway (credits.ts): a hold made twice for
 * one reservation (two runs of one task, when a lease lapsed) is safe, not reported.
 */
import type { KeyIdentity } from './api-keys.js';
import type { Credits, Reservation } from './credits.js';
import { GatewayError } from '../core/errors.js';
import type { ImageJob } from '../core/job.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';

/**
 * Who reserves a run's credits and what a failure does to them; the caller says, the pipeline
 * settles.
 * - `reserve-now`: sync requests and streams. Reserved before routing (when the key is metered),
 *   charged for what was delivered, refunded in full on any failure.
 * - `already-reserved`: task runs. Reserved when the task was accepted (`hold`). Charged or
 *   refunded as above, except that a run the task will make again keeps its reservation for it:
 *   one cut short by `shutdown` (the task goes back to the queue, and its upstream task is resumed
 *   after the restart) or by the database going away (the task runs again once its lease lapses).
 */
export type SettlementStrategy = { kind: 'reserve-now' } | { kind: 'already-reserved'; hold: CreditHold; shutdown: AbortSignal };

/** How a hold ended: charged (what was delivered), refunded, or kept for a later owner. */
export type HoldEnding = 'charged' | 'refunded' | 'kept';

/** The price a reservation is made at: the most the job may cost (core/pricing.ts). */
export interface ReservePrice {
  maxPriceMicros(job: ImageJob): number;
}

export interface SettlementDeps {
  credits: Credits;
  prices: ReservePrice;
  /** A settlement the ledger refused: logged, never turned into a failed answer (the images exist). An outage is retried by Credits. */
  onSettleError: (err: unknown, requestId: string) => void;
  /** A hold asked to settle a second time: a bug. The second settlement is not sent. */
  onSettledTwice: (requestId: string, first: HoldEnding, second: HoldEnding) => void;
}

/** The one owner's handle on a request's reservation (null reservation: the key is unlimited, nothing to settle). */
export class CreditHold {
  private ending: HoldEnding | null = null;

  /** Made by Settlement only. */
  constructor(
    readonly requestId: string,
    readonly reservation: Reservation | null,
    private readonly deps: SettlementDeps,
  ) {}

  /** Whether credits are held (the key is metered). */
  get metered(): boolean {
    return this.reservation !== null;
  }

  /** Delivered: charges `micros` (at most the reservation) and gives the rest back. */
  async charge(micros: number): Promise<void> {
    const { reservation } = this;
    if (!this.end('charged') || !reservation) return;
    await this.send(() => this.deps.credits.settle(reservation, micros));
  }

  /** Nothing delivered (or the request never ran): gives the whole reservation back. */
  async refund(reason: string): Promise<void> {
    const { reservation } = this;
    if (!this.end('refunded') || !reservation) return;
    await this.send(() => this.deps.credits.refund(reservation, reason));
  }

  /** Not settled by this owner: the reservation stays, under its request id, for the run that ends the task. */
  keep(): void {
    this.end('kept');
  }

  private end(ending: HoldEnding): boolean {
    if (this.ending) {
      this.deps.onSettledTwice(this.requestId, this.ending, ending);
      return false;
    }
    this.ending = ending;
    return true;
  }

  private async send(settle: () => Promise<void>): Promise<void> {
    try {
      await settle();
    } catch (err) {
      this.deps.onSettleError(err, this.requestId);
    }
  }
}

export class Settlement {
  constructor(private readonly deps: SettlementDeps) {}

  /** Reserves the most `job` may cost under its id when the key is metered; 402 when the balance is short. */
  async reserve(key: KeyIdentity | null | undefined, job: ImageJob): Promise<CreditHold> {
    const reservation = key?.metered ? await this.deps.credits.reserve(key.id, job.id, this.deps.prices.maxPriceMicros(job)) : null;
    return new CreditHold(job.id, reservation, this.deps);
  }

  /** A task's reservation, made when it was accepted, for the run (or the refusal) that settles it. */
  async heldFor(taskId: string): Promise<CreditHold> {
    return new CreditHold(taskId, await this.deps.credits.reservationOf(taskId), this.deps);
  }

  /** A failed run: refunded in full, or kept when the task will run again (see SettlementStrategy). */
  async failed(hold: CreditHold, strategy: SettlementStrategy, err: unknown): Promise<void> {
    if (strategy.kind === 'already-reserved' && (strategy.shutdown.aborted || isDatabaseUnavailable(err))) return hold.keep();
    await hold.refund(err instanceof GatewayError ? (err.code ?? 'failed') : 'failed');
  }
}
