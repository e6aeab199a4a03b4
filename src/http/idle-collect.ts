/**
 * A full garbage collection once the gateway goes quiet after traffic. Answers pass through as
 * buffers outside V8's heap; after a wave, megabytes of them are garbage that V8 has no reason
 * to collect while nothing allocates, so the process would sit on hundreds of MB until the next
 * request. One collection a few seconds into the quiet hands them back (whether the OS gets the
 * pages is the allocator's business: see docs/deploy.md on jemalloc).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';

/** Quiet this long (no request in flight) before collecting. */
export const IDLE_COLLECT_MS = 5_000;

let collector: (() => void) | null | undefined;

/**
 * V8's own gc(), without --expose-gc on the command line (npm start, the bin script and tests all
 * get it): the flag set at run time shows in contexts made after it, as Jest's leak detector does.
 */
function gcFunction(): (() => void) | null {
  if (collector !== undefined) return collector;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    collector = typeof gc === 'function' ? () => void gc() : null;
  } catch {
    collector = null;
  }
  return collector;
}

export function collectWhenIdle(app: FastifyInstance, idleMs = IDLE_COLLECT_MS): void {
  const gc = gcFunction();
  if (!gc) return;
  let inFlight = 0;
  let trafficSinceCollect = false;
  let timer: NodeJS.Timeout | undefined;
  const collectIfStillQuiet = () => {
    timer = undefined;
    if (inFlight > 0 || !trafficSinceCollect) return;
    trafficSinceCollect = false;
    gc();
  };
  app.addHook('onRequest', async (_request, reply) => {
    inFlight++;
    trafficSinceCollect = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    // 'close' comes once however the answer ends: sent whole, cut off, or the client gone.
    reply.raw.once('close', () => {
      inFlight--;
      if (inFlight === 0 && !timer) timer = setTimeout(collectIfStillQuiet, idleMs).unref();
    });
  });
  app.addHook('onClose', async () => {
    if (timer) clearTimeout(timer);
  });
}
