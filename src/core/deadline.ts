/**
 * Waiting for something at most so long: the one shape of the gateway's bounded waits (a probe,
 * a shutdown, a DNS lookup). `work` is not cancelled when it is late (a promise cannot be); it
 * is left to finish, and its outcome goes to no one.
 */

/**
 * `work`'s outcome, or `late()`'s after `ms` if `work` has not settled by then (a `late` that
 * throws rejects). The timer is cleared either way, so nothing is left pending; `unref`: the
 * timer alone does not keep the process alive.
 */
export function withDeadline<T, L>(work: PromiseLike<T>, ms: number, late: () => L, options: { unref?: boolean } = {}): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const lateOutcome = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (err) {
        reject(err);
      }
    }, ms);
    if (options.unref) timer.unref();
  });
  return Promise.race([work, lateOutcome]).finally(() => clearTimeout(timer));
}
