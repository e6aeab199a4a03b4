/**
 * An async generator that runs `cleanup` exactly once when it is done with: read to its end,
 * failed, or returned early, including returned before it ever started (a plain generator's
 * `finally` never runs then, and what it holds, a connection or a slot, would leak).
 */
export function settledGenerator<T, R>(
  source: AsyncGenerator<T, R, undefined>,
  cleanup: (failure: unknown) => Promise<void> | void,
): AsyncGenerator<T, R, undefined> {
  let settled = false;
  const settle = async (failure?: unknown): Promise<void> => {
    if (settled) return;
    settled = true;
    await cleanup(failure);
  };
  const generator: AsyncGenerator<T, R, undefined> = {
    async next() {
      let result: IteratorResult<T, R>;
      try {
        result = await source.next();
      } catch (err) {
        await settle(err);
        throw err;
      }
      if (result.done) await settle();
      return result;
    },
    async return(value) {
      try {
        return await source.return(value);
      } finally {
        await settle();
      }
    },
    async throw(err: unknown) {
      try {
        return await source.throw(err);
      } finally {
        await settle(err);
      }
    },
    [Symbol.asyncIterator]() {
      return generator;
    },
  };
  return generator;
}
