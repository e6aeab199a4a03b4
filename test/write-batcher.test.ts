/** WriteBatcher: rows added together share one write, each add resolves at its own commit. */
import { describe, expect, it } from 'vitest';
import { WriteBatcher } from '../src/db/write-batcher.js';

/** A write that records its batches and ends when the test says so (or at once). */
function recorder(options: { manual?: boolean; refuse?: (row: string) => boolean } = {}) {
  const batches: string[][] = [];
  const pending: (() => void)[] = [];
  const write = async (rows: readonly string[]) => {
    batches.push([...rows]);
    if (options.manual) await new Promise<void>((resolve) => pending.push(resolve));
    const refused = rows.find((row) => options.refuse?.(row));
    if (refused !== undefined) throw new Error(`refused ${refused}`);
  };
  return { batches, write, commitNext: () => pending.shift()?.() };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WriteBatcher', () => {
  it('rows added in one turn go out in one write; each add resolves once it is written', async () => {
    const { batches, write, commitNext } = recorder({ manual: true });
    const batcher = new WriteBatcher(write, { maxRows: 100 });
    const done: string[] = [];
    const adds = ['a', 'b', 'c'].map((row) => batcher.add(row).then(() => done.push(row)));
    await turn();
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect(done).toEqual([]); // written, not yet committed
    commitNext();
    await Promise.all(adds);
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('rows that arrive while a write is in flight go out together right after it', async () => {
    const { batches, write, commitNext } = recorder({ manual: true });
    const batcher = new WriteBatcher(write, { maxRows: 100 });
    const first = batcher.add('a');
    await turn();
    const later = [batcher.add('b'), batcher.add('c')];
    await turn();
    const last = batcher.add('d');
    await turn();
    expect(batches).toEqual([['a']]);
    commitNext();
    await first;
    await turn();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    commitNext();
    await Promise.all([...later, last]);
  });

  it('a batch holds at most maxRows', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { maxRows: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((row) => batcher.add(row)));
    expect(batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('a full batch goes out without waiting for the turn to end (a long poll phase would hold every caller)', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { maxRows: 3 });
    let turnEnded = false;
    setImmediate(() => {
      turnEnded = true;
    });
    await Promise.all(['a', 'b', 'c'].map((row) => batcher.add(row)));
    expect(turnEnded).toBe(false);
    expect(batches).toEqual([['a', 'b', 'c']]);
    // A partial one still waits for the turn's end, to gather what else comes in it.
    const partial = batcher.add('d');
    await Promise.resolve();
    expect(batches).toEqual([['a', 'b', 'c']]);
    await partial;
    expect(turnEnded).toBe(true);
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it("a failed batch is tried row by row: only the faulty row's caller sees the error", async () => {
    const { batches, write } = recorder({ refuse: (row) => row === 'bad' });
    const batcher = new WriteBatcher(write, { maxRows: 100 });
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((row) => batcher.add(row)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('refused bad'));
    expect(batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('goes on after a failure', async () => {
    const { batches, write } = recorder({ refuse: (row) => row === 'bad' });
    const batcher = new WriteBatcher(write, { maxRows: 100 });
    await expect(batcher.add('bad')).rejects.toThrow('refused bad');
    await batcher.add('good');
    expect(batches).toEqual([['bad'], ['good']]);
  });
});
