/**
 * An upstream answer read ahead of a slow reader (providers/read-ahead.ts): taken off the source as
 * fast as it comes while the budget allows, counted in the budget while queued, given back as the
 * reader takes it or leaves; past the budget it goes at the reader's pace. With a spill directory,
 * what passes a few kilobytes per answer waits in a file instead, gone once the reader is done.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MemoryBudget } from '../src/core/memory-budget.js';
import { readAhead } from '../src/providers/read-ahead.js';
import { SpoolDir } from '../src/spool/spool-dir.js';
import { openFilesUnder } from './helpers/open-files.js';

const KB = 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A source of `count` chunks of `size` bytes that records how many were pulled, and whether it was let go. */
function source(count: number, size: number, failAfter?: number) {
  const state = { pulled: 0, returned: false };
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (let i = 0; i < count; i++) {
        if (failAfter !== undefined && i === failAfter) throw new Error('socket closed');
        await sleep(1);
        state.pulled++;
        yield Buffer.alloc(size, i % 256);
      }
    } finally {
      state.returned = true;
    }
  }
  return { chunks: chunks(), state };
}

describe('readAhead', () => {
  it('a reader that pauses: the whole answer is taken off the source meanwhile, then handed over intact, and the budget is back to 0', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { chunks, state } = source(40, 64 * KB);
    const got: Buffer[] = [];
    let pulledWhenPaused = -1;
    for await (const chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50 })) {
      got.push(chunk);
      if (got.length === 2) {
        await sleep(300);
        pulledWhenPaused = state.pulled;
      }
    }
    expect(pulledWhenPaused).toBe(40);
    expect(got.map((c) => c[0])).toEqual(Array.from({ length: 40 }, (_, i) => i % 256));
    expect(budget.inUse).toBe(0);
  });

  it('a reader that keeps up pulls each piece itself: nothing is read ahead of it', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { chunks, state } = source(40, 64 * KB);
    let most = 0;
    let taken = 0;
    for await (const _chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 1_000 })) {
      taken++;
      most = Math.max(most, state.pulled - taken);
      expect(budget.inUse).toBe(0);
    }
    expect(most).toBe(0);
    expect(taken).toBe(40);
  });

  it('a reader that takes every piece in time but the whole answer slowly: from stallMs after the first piece the rest is read ahead', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { chunks, state } = source(40, 64 * KB);
    const got: Buffer[] = [];
    let most = 0;
    // 20 ms a piece, each well within stallMs, 800 ms for the answer: an upstream kept that long could close on it.
    for await (const chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 100 })) {
      got.push(chunk);
      most = Math.max(most, state.pulled - got.length);
      await sleep(20);
    }
    expect(most).toBeGreaterThan(20);
    expect(got.map((c) => c[0])).toEqual(Array.from({ length: 40 }, (_, i) => i % 256));
    expect(budget.inUse).toBe(0);
  });

  it('past the per-answer limit it waits for the reader: no more than the limit is held ahead', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { chunks, state } = source(40, 64 * KB);
    let most = 0;
    let taken = 0;
    for await (const _chunk of readAhead(chunks, { budget, maxBytes: 256 * KB, stallMs: 50 })) {
      taken++;
      if (taken === 1) await sleep(200);
      most = Math.max(most, state.pulled - taken);
    }
    // The limit's worth queued, plus the one read when the queue had room.
    expect(most).toBeLessThanOrEqual(5);
    expect(taken).toBe(40);
    expect(budget.inUse).toBe(0);
  });

  it('past the process budget it goes at the reader’s pace (one chunk ahead at most)', async () => {
    const budget = new MemoryBudget(1024 * KB);
    budget.force(1024 * KB); // all of it held by other work
    const { chunks, state } = source(20, 64 * KB);
    let most = 0;
    let taken = 0;
    for await (const _chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50 })) {
      taken++;
      await sleep(20);
      most = Math.max(most, state.pulled - taken);
    }
    expect(most).toBeLessThanOrEqual(1);
    budget.release(1024 * KB);
    expect(budget.inUse).toBe(0);
  });

  it('a reader that leaves early lets the source go and gives back what was read ahead', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { chunks, state } = source(40, 64 * KB);
    for await (const _chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50 })) {
      await sleep(50);
      break;
    }
    expect(state.returned).toBe(true);
    expect(budget.inUse).toBe(0);
  });

  it('a source that fails: the chunks before the failure are handed over, then the failure, and the budget is back to 0', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { chunks } = source(40, 64 * KB, 5);
    const got: Buffer[] = [];
    await expect(
      (async () => {
        for await (const chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50 })) got.push(chunk);
      })(),
    ).rejects.toThrow('socket closed');
    expect(got).toHaveLength(5);
    expect(budget.inUse).toBe(0);
  });
});

describe('readAhead with a spill file', () => {
  /** A spool directory of its own, and what this process holds open in it. */
  async function spoolDir(budgetBytes = 1024 * 1024 * KB) {
    const path = join(await mkdtemp(join(tmpdir(), 'imagegate-spill-')), 'spool');
    const dir = await SpoolDir.open(path, budgetBytes);
    onTestFinished(() => rm(dirname(path), { recursive: true, force: true }));
    return { dir, path, openFiles: () => openFilesUnder(path) };
  }

  /** `count` chunks of different sizes and contents: a piece out of order or lost changes the whole. */
  function varied(count: number) {
    const sent = Array.from({ length: count }, (_, i) => randomBytes(16 * KB + ((i * 7919) % (80 * KB))));
    const state = { pulled: 0, returned: false };
    async function* chunks(): AsyncGenerator<Buffer> {
      try {
        for (const chunk of sent) {
          await sleep(1);
          state.pulled++;
          yield chunk;
        }
      } finally {
        state.returned = true;
      }
    }
    return { chunks: chunks(), sent, state };
  }

  it('a reader that pauses: past memoryBytes the answer waits on disk, the reader gets every byte in order, and the file and budgets are given back', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { dir, openFiles } = await spoolDir();
    const { chunks, sent, state } = varied(60);
    const got: Buffer[] = [];
    const during = { pulled: 0, memory: 0, disk: 0, files: 0 };
    for await (const chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50, spill: { dir, memoryBytes: 128 * KB } })) {
      got.push(chunk);
      if (got.length === 2) {
        await sleep(400);
        Object.assign(during, { pulled: state.pulled, memory: budget.inUse, disk: dir.budget.inUse, files: openFiles().length });
      }
    }
    expect(during.pulled).toBe(60);
    expect(during.memory).toBeLessThanOrEqual(128 * KB);
    expect(during.disk).toBeGreaterThan(2 * 1024 * KB);
    expect(during.files).toBe(1);
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
    expect(budget.inUse).toBe(0);
    expect(dir.budget.inUse).toBe(0);
    expect(openFiles()).toEqual([]);
    expect(await readdir(dir.path)).toEqual([]);
  });

  it('a reader slower than the source, taking from memory and disk in turn: every byte in order', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { dir } = await spoolDir();
    const { chunks, sent } = varied(80);
    const got: Buffer[] = [];
    for await (const chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 5, spill: { dir, memoryBytes: 64 * KB } })) {
      got.push(chunk);
      await sleep(6);
    }
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
    expect(dir.budget.inUse).toBe(0);
  });

  it('a reader that leaves with bytes still on disk: the source is let go, the file closed, the budgets back to 0', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { dir, openFiles } = await spoolDir();
    const { chunks, state } = varied(60);
    let files = 0;
    for await (const _chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50, spill: { dir, memoryBytes: 64 * KB } })) {
      await sleep(300);
      files = openFiles().length;
      break;
    }
    expect(files).toBe(1);
    expect(state.returned).toBe(true);
    expect(openFiles()).toEqual([]);
    expect(budget.inUse).toBe(0);
    expect(dir.budget.inUse).toBe(0);
  });

  it('past three quarters of the disk budget it goes at the reader’s pace (the rest stays for uploads)', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { dir } = await spoolDir(1024 * KB);
    const { chunks, sent, state } = varied(60);
    const got: Buffer[] = [];
    let pulledWhenPaused = 0;
    let diskWhenPaused = 0;
    for await (const chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50, spill: { dir, memoryBytes: 64 * KB } })) {
      got.push(chunk);
      if (got.length === 2) {
        await sleep(300);
        pulledWhenPaused = state.pulled;
        diskWhenPaused = dir.budget.inUse;
      }
    }
    // Three quarters of the disk budget (768 KB) of chunks of at most 96 KB, the memory's 64 KB, and the one read when there was room.
    expect(pulledWhenPaused).toBeLessThan(25);
    expect(diskWhenPaused).toBeGreaterThanOrEqual(768 * KB);
    expect(diskWhenPaused).toBeLessThan(768 * KB + 96 * KB);
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
    expect(dir.budget.inUse).toBe(0);
  });

  it('a spill file that cannot be made: the reader gets the bytes before it, then the disk’s error; nothing is left held', async () => {
    const budget = new MemoryBudget(64 * 1024 * KB);
    const { dir, path, openFiles } = await spoolDir();
    await rm(path, { recursive: true });
    const { chunks, sent, state } = varied(60);
    const got: Buffer[] = [];
    await expect(
      (async () => {
        for await (const chunk of readAhead(chunks, { budget, maxBytes: 32 * 1024 * KB, stallMs: 50, spill: { dir, memoryBytes: 128 * KB } })) {
          got.push(chunk);
          if (got.length === 1) await sleep(200);
        }
      })(),
    ).rejects.toThrow(/ENOENT/);
    expect(got.length).toBeGreaterThan(1);
    expect(Buffer.concat(got).equals(Buffer.concat(sent.slice(0, got.length)))).toBe(true);
    expect(state.returned).toBe(true);
    expect(openFiles()).toEqual([]);
    expect(budget.inUse).toBe(0);
    expect(dir.budget.inUse).toBe(0);
  });
});
