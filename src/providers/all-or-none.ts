/**
 * Calls a vendor makes at once for one request (one per image, or per the most images a call
 * makes), where a failure of one makes the others worthless: their images would be thrown away.
 */

/** `run` for each item at once; the first failure aborts the others (and the caller's abort all) and is thrown. */
export async function allOrNone<I, T>(items: readonly I[], signal: AbortSignal, run: (item: I, signal: AbortSignal) => Promise<T>): Promise<T[]> {
  const [only] = items;
  if (items.length === 1 && only !== undefined) return [await run(only, signal)];
  const calls = new AbortController();
  const stop = () => calls.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.all(
      items.map((item) =>
        run(item, calls.signal).catch((err: unknown) => {
          calls.abort(err);
          throw err;
        }),
      ),
    );
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
