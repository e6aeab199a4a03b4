/**
 * Pieces handed on without being kept. A suspended generator keeps alive whatever its locals last
 * held (V8 does not clear a variable it will not read again): a stage that waits for the next
 * piece while a variable, an array or a `yield*` over one still holds the last piece keeps that
 * piece's chunk (a socket read of up to 64 KiB) alive, for every answer passing at once. Stages
 * that pass pieces on clear what they hold before they wait; `eachOnce` takes each item out of
 * its array as it is yielded, so the array is empty, not holding them, once they are all out.
 */
export function* eachOnce<T>(items: T[]): Generator<T, void, undefined> {
  for (let item = items.shift(); item !== undefined; item = items.shift()) yield item;
}

/**
 * The source's items as they come, then `finish` of its result; a failure on the way (of the
 * source or of finish) thrown as `failure` makes it. What `yield*` and a step after it do, but
 * `yield*` holds the last item while it waits for the next.
 */
export async function* relayed<T, R, S>(
  source: AsyncGenerator<T, R, undefined>,
  finish: (result: R) => Promise<S>,
  failure: (err: unknown) => unknown = (err) => err,
): AsyncGenerator<T, S, undefined> {
  try {
    for (;;) {
      let next: IteratorResult<T, R> | undefined = await source.next();
      if (next.done) return await finish(next.value);
      yield next.value;
      next = undefined;
    }
  } catch (err) {
    throw failure(err);
  }
}
