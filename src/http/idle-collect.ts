/**
 * A full garbage collection once the gateway goes quiet after traffic. Answers pass through as
 * buffers outside V8's heap; after a wave, megabytes of them are garbage that V8 has no reason
 * to collect while nothing allocates, so the process would sit on hundreds of MB until the next
 * request. One collection a few seconds into the quiet hands them back to the allocator, and
 * glibc's malloc_trim (http/malloc-trim.ts) then hands the free pages back to the system: glibc
 * would keep most of them (docs/deploy.md, "After a wave").
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { mallocTrim } from './malloc-trim.js';

/** Quiet this long (no request in flight) before collecting. */
export const IDLE_COLLECT_MS = 5_000;

/**
 * From the collection to the trim: V8 frees the collected buffers' memory after the collection,
 * partly on its own threads.
 */
const TRIM_AFTER_COLLECT_MS = 500;

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
    timer = setTimeout(trimIfStillQuiet, TRIM_AFTER_COLLECT_MS).unref();
  };
  const trimIfStillQuiet = () => {
    timer = undefined;
    if (inFlight > 0) return;
    void mallocTrim().then((trim) => {
      // Traffic that came while koffi loaded goes first; the next quiet spell trims.
      if (!trim || inFlight > 0) return;
      const before = process.memoryUsage.rss();
      const released = trim();
      app.log.debug({ rssBeforeMb: toMb(before), rssAfterMb: toMb(process.memoryUsage.rss()), released }, 'quiet: memory handed back to the system');
    });
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

const toMb = (bytes: number): number => Math.round(bytes / 1e6);
