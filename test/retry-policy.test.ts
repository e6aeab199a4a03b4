/** The retry policy, as numbers: budgets by run mode, jittered exponential waits, waits that fit the deadline. */
import { describe, expect, it } from 'vitest';
import { jitteredBackoff, retryBudget, SYNC_BACKOFF, TASK_BACKOFF, waitBeforeRetry, waitForChannel, type RetrySettings } from '../src/routing/retry-policy.js';
import { seededRandom } from './helpers/seeded-random.js';

const SETTINGS: RetrySettings = { maxAttempts: 3, deadlineMs: 600_000, maxRetryWaitMs: 10_000, taskMaxAttempts: 10 };
const NOW = 1_000_000;
const low = () => 0;
const high = () => 0.999_999;

describe('retry budget by run mode', () => {
  it('sync: IMAGEGATE_MAX_ATTEMPTS within the request deadline, short parked waits, no waiting for room', () => {
    expect(retryBudget({ kind: 'sync' }, SETTINGS, NOW)).toEqual({
      maxAttempts: 3,
      deadlineAt: NOW + 600_000,
      maxParkedWaitMs: 10_000,
      waitsForRoom: false,
      backoff: SYNC_BACKOFF,
    });
  });

  it("task: IMAGEGATE_TASK_MAX_ATTEMPTS until the task's own deadline, waiting out parked and full channels", () => {
    const deadlineAt = NOW + 1_800_000;
    expect(retryBudget({ kind: 'task', deadlineAt }, SETTINGS, NOW)).toEqual({
      maxAttempts: 10,
      deadlineAt,
      maxParkedWaitMs: Infinity,
      waitsForRoom: true,
      backoff: TASK_BACKOFF,
    });
  });
});

describe('jittered exponential backoff', () => {
  it('doubles from the base, between half and all of the step, capped', () => {
    const backoff = { baseMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => jitteredBackoff(backoff, n, low))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => jitteredBackoff(backoff, n, high))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('spreads runs that failed together', () => {
    const random = seededRandom(7).next;
    const waits = new Set(Array.from({ length: 50 }, () => jitteredBackoff(TASK_BACKOFF, 3, random)));
    expect(waits.size).toBeGreaterThan(40);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(1_000);
  });
});

describe('waits between attempts', () => {
  const sync = retryBudget({ kind: 'sync' }, SETTINGS, NOW);
  const task = retryBudget({ kind: 'task', deadlineAt: NOW + 60_000 }, SETTINGS, NOW);

  it('never three attempts in a few milliseconds: each retry waits longer than the last', () => {
    expect([1, 2].map((made) => waitBeforeRetry(sync, made, NOW, low))).toEqual([125, 250]);
    expect([1, 2, 3, 4].map((made) => waitBeforeRetry(task, made, NOW, low))).toEqual([250, 500, 1_000, 2_000]);
  });

  it('stops when the count is spent', () => {
    expect(waitBeforeRetry(sync, 3, NOW, low)).toBeUndefined();
    expect(waitBeforeRetry(task, 9, NOW, low)).toBeDefined();
    expect(waitBeforeRetry(task, 10, NOW, low)).toBeUndefined();
  });

  it('stops when the next attempt would start past the deadline', () => {
    expect(waitBeforeRetry(task, 1, NOW + 59_800, low)).toBeUndefined();
    expect(waitBeforeRetry(task, 1, NOW + 59_700, low)).toBe(250);
  });
});

describe('waiting for a channel when none can serve now', () => {
  const sync = retryBudget({ kind: 'sync' }, SETTINGS, NOW);
  const task = retryBudget({ kind: 'task', deadlineAt: NOW + 60_000 }, SETTINGS, NOW);

  it("waits out a Retry-After: sync only when it ends within IMAGEGATE_RETRY_WAIT_MAX, a task while it fits the task's deadline", () => {
    expect(waitForChannel(sync, NOW + 3_000, NOW, low)).toBe(3_000);
    expect(waitForChannel(sync, NOW + 30_000, NOW, low)).toBeUndefined();
    expect(waitForChannel(task, NOW + 30_000, NOW, low)).toBe(30_000);
    expect(waitForChannel(task, NOW + 60_000, NOW, low)).toBeUndefined();
  });

  it('full or being probed (no known end): sync gives up, a task looks again shortly', () => {
    for (const unknown of [Infinity, NOW - 1]) {
      expect(waitForChannel(sync, unknown, NOW, low)).toBeUndefined();
      expect(waitForChannel(task, unknown, NOW, low)).toBe(250);
    }
    expect(waitForChannel(task, Infinity, NOW + 59_900, low)).toBeUndefined();
  });
});
