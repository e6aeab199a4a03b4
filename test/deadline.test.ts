/**
 * core/deadline.ts: the bounded wait behind the readiness probe, the database ping, the callback
 * URL's DNS lookup and the shutdowns. Real timers, short bounds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { withDeadline } from '../src/core/deadline.js';

describe('withDeadline', () => {
  it('work that settles in time gives its outcome, value or rejection, and late() is never called, not even after the bound', async () => {
    const late = vi.fn(() => 'late');
    const work = sleep(5).then(() => 'work');
    expect(await withDeadline(work, 200, late)).toBe('work');
    await expect(withDeadline(Promise.reject(new Error('refused')), 200, late)).rejects.toThrow('refused');
    await sleep(250);
    expect(late).not.toHaveBeenCalled();
  });

  it('work still pending at the bound gives late()’s value; what it does after goes to no one (a later rejection is not unhandled)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const work = sleep(100).then(() => {
        throw new Error('too late to matter');
      });
      const started = performance.now();
      expect(await withDeadline(work, 20, () => 'late')).toBe('late');
      expect(performance.now() - started).toBeLessThan(100);
      await sleep(150);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a late() that throws rejects with its error', async () => {
    const late = (): never => {
      throw new Error('no answer within 10 ms');
    };
    await expect(withDeadline(new Promise(() => {}), 10, late)).rejects.toThrow('no answer within 10 ms');
  });
});
