/**
 * How a run retries its upstream attempts: how many, until when, and how long it waits between
 * them. The run mode chooses the budget. A sync request (or stream) has a client waiting: a few
 * attempts (IMAGEGATE_MAX_ATTEMPTS) within the request deadline, short waits, and a parked
 * channel is waited for only briefly. A task has until its own deadline: more attempts
 * (IMAGEGATE_TASK_MAX_ATTEMPTS), longer waits, and it waits out channels that are parked, full or
 * being probed instead of failing. Pure: the caller brings the clock and the dice.
 */

/** A sync request (or stream) answers a waiting client; a task has until its own deadline. */
export type RunMode = { readonly kind: 'sync' } | { readonly kind: 'task'; readonly deadlineAt: number };

export interface RetrySettings {
  /** Sync: upstream attempts per request, across channels. */
  maxAttempts: number;
  /** Sync: overall budget of one request across all its attempts. */
  deadlineMs: number;
  /** Sync: longest wait for a parked channel (Retry-After, open circuit) when nothing else can serve. */
  maxRetryWaitMs: number;
  /** Tasks: upstream attempts per run, across channels. */
  taskMaxAttempts: number;
}

/** Exponential backoff: the n-th wait is about `baseMs * 2^(n-1)`, never more than `maxMs`. */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

export interface RetryBudget {
  readonly maxAttempts: number;
  /** Epoch ms: no attempt starts after it, and an async upstream's task is polled until it. */
  readonly deadlineAt: number;
  /** Longest wait for a parked channel to come back when no other channel can serve. */
  readonly maxParkedWaitMs: number;
  /** Keep looking when every channel is full or being probed (no known end): tasks do. */
  readonly waitsForRoom: boolean;
  readonly backoff: Backoff;
}

/** A client is waiting: failing over quickly matters more than sparing the upstream. */
export const SYNC_BACKOFF: Backoff = { baseMs: 250, maxMs: 2_000 };
/** Nobody is waiting on the line: give a struggling upstream room to recover. */
export const TASK_BACKOFF: Backoff = { baseMs: 500, maxMs: 30_000 };

export function retryBudget(mode: RunMode, settings: RetrySettings, now: number): RetryBudget {
  if (mode.kind === 'task') {
    return { maxAttempts: settings.taskMaxAttempts, deadlineAt: mode.deadlineAt, maxParkedWaitMs: Infinity, waitsForRoom: true, backoff: TASK_BACKOFF };
  }
  return {
    maxAttempts: settings.maxAttempts,
    deadlineAt: now + settings.deadlineMs,
    maxParkedWaitMs: settings.maxRetryWaitMs,
    waitsForRoom: false,
    backoff: SYNC_BACKOFF,
  };
}

/**
 * The n-th wait (1-based), with equal jitter: between half and all of `min(maxMs, baseMs * 2^(n-1))`.
 * Half is fixed so retries never bunch at zero; half is random so runs that failed together do
 * not come back together.
 */
export function jitteredBackoff(backoff: Backoff, n: number, random: () => number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The wait before another attempt after `attemptsMade` failed ones, or undefined when the budget
 * has none left: the count is spent, or the attempt would start past the deadline.
 */
export function waitBeforeRetry(budget: RetryBudget, attemptsMade: number, now: number, random: () => number): number | undefined {
  if (attemptsMade >= budget.maxAttempts) return undefined;
  const wait = jitteredBackoff(budget.backoff, attemptsMade, random);
  return now + wait < budget.deadlineAt ? wait : undefined;
}

/**
 * No channel can take an attempt right now. `parkedUntil` is when the first parked one (Retry-After,
 * open circuit) comes back; Infinity (or a time already past) when none has a known end: full, or
 * a probe in flight.
 * Returns how long to wait before looking again, or undefined to give up.
 */
export function waitForChannel(budget: RetryBudget, parkedUntil: number, now: number, random: () => number): number | undefined {
  // A known end in the past means it is held by something else now (a probe in flight).
  if (Number.isFinite(parkedUntil) && parkedUntil > now) {
    const wait = parkedUntil - now;
    return wait <= budget.maxParkedWaitMs && parkedUntil < budget.deadlineAt ? wait : undefined;
  }
  if (!budget.waitsForRoom) return undefined;
  const wait = jitteredBackoff(budget.backoff, 1, random);
  return now + wait < budget.deadlineAt ? wait : undefined;
}
