/**
 * Stopping a BullMQ worker (tasks/bullmq-dispatch.ts closeWorker): at once while Redis is away;
 * gracefully while it is up, but never longer than the bound: a graceful close that waits on a
 * connection still being made has its connections cut, and the gateway's stop goes on.
 */
import { describe, expect, it } from 'vitest';
import { closeWorker } from '../src/tasks/bullmq-dispatch.js';

/** A worker whose graceful close never ends unless `disconnect` is called (or never, with `stuck`). */
function fakeWorker(opts: { stuck?: boolean } = {}) {
  const calls: string[] = [];
  let release: () => void = () => undefined;
  const worker = {
    close(force?: boolean): Promise<void> {
      calls.push(force ? 'close(force)' : 'close');
      if (force) return Promise.resolve();
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    disconnect(): Promise<void> {
      calls.push('disconnect');
      if (!opts.stuck) release();
      return Promise.resolve();
    },
  };
  return { worker, calls };
}

describe('closeWorker', () => {
  it('Redis away: a forced close, no waiting for jobs', async () => {
    const { worker, calls } = fakeWorker();
    await closeWorker(worker, { isUp: () => false }, 10_000);
    expect(calls).toEqual(['close(force)']);
  });

  it('Redis up, a graceful close that ends in time: nothing is cut', async () => {
    const calls: string[] = [];
    const worker = {
      close: async (force?: boolean) => void calls.push(force ? 'close(force)' : 'close'),
      disconnect: async () => void calls.push('disconnect'),
    };
    await closeWorker(worker, { isUp: () => true }, 10_000);
    expect(calls).toEqual(['close']);
  });

  it('Redis up, a graceful close that does not end: its connections are cut after the bound, and the close ends', async () => {
    const { worker, calls } = fakeWorker();
    const started = Date.now();
    await closeWorker(worker, { isUp: () => true }, 100);
    expect(calls).toEqual(['close', 'disconnect']);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('Redis up, a close that ends neither way: the stop goes on after twice the bound', async () => {
    const { worker, calls } = fakeWorker({ stuck: true });
    const started = Date.now();
    await closeWorker(worker, { isUp: () => true }, 100);
    expect(calls).toEqual(['close', 'disconnect']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
