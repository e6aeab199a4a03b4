/** providers/all-or-none.ts: a vendor's calls made at once for one request, where one failure makes the others worthless. */
import { describe, expect, it } from 'vitest';
import { allOrNone } from '../src/providers/all-or-none.js';

/** A call that waits until its signal aborts, then rejects with the reason; records that it saw the abort. */
function waitsForAbort(seen: unknown[]) {
  return (signal: AbortSignal) =>
    new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => {
        seen.push(signal.reason);
        reject(signal.reason);
      });
    });
}

describe('allOrNone', () => {
  it('gives every result, in the order of the items', async () => {
    const results = await allOrNone([30, 10, 20], new AbortController().signal, async (ms) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms * 2;
    });
    expect(results).toEqual([60, 20, 40]);
  });

  it('the first failure aborts the calls still running and is what is thrown', async () => {
    const seen: unknown[] = [];
    const refused = new Error('refused');
    const waiting = waitsForAbort(seen);
    const outcome = allOrNone(['a', 'b', 'c'], new AbortController().signal, (item, signal) => (item === 'b' ? Promise.reject(refused) : waiting(signal)));
    await expect(outcome).rejects.toBe(refused);
    expect(seen).toEqual([refused, refused]);
  });

  it("the caller's abort reaches every call", async () => {
    const seen: unknown[] = [];
    const caller = new AbortController();
    const outcome = allOrNone([1, 2], caller.signal, (_item, signal) => waitsForAbort(seen)(signal));
    caller.abort(new Error('caller gone'));
    await expect(outcome).rejects.toThrow('caller gone');
    expect(seen).toHaveLength(2);
  });
});
