/**
 * How far V8 lets the heap grow between full collections, for a server whose traffic passes
 * through it. V8 counts every ArrayBuffer allocated since its last mark-compact toward the old
 * generation's limit, and a relay allocates all of its traffic as ArrayBuffers (each socket read
 * is one). With its dynamic factor the limit sits ~1.5-1.8x the live heap, so with a thousand
 * requests in flight (~60 MB live) a full mark of everything in flight, on the main thread and
 * V8's helper threads, ran every ~50 MB of traffic: ~35 in one wave of 1000 answers of 2.7 MiB.
 * At 4x (the top of V8's own dynamic range) the wave ran ~21-25 (bench/README.md has the runs).
 * The heap may hold up to 4x its live size before collecting; ArrayBuffers themselves are freed
 * by the young generation's collections as before. `serve` applies it before the app starts.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 300;

/**
 * The V8 flag to set, or null when the operator set the growth themselves (node's flags or
 * NODE_OPTIONS, where `--heap-growing-percent=0` gives V8's dynamic factor back).
 */
export function heapGrowthFlag(execArgv: readonly string[], nodeOptions: string | undefined): string | null {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
  return given ? null : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/** Sets the growth for this process unless the operator did; true if it set it. */
export function growHeapForTraffic(): boolean {
  const flag = heapGrowthFlag(process.execArgv, process.env.NODE_OPTIONS);
  if (flag) setFlagsFromString(flag);
  return flag !== null;
}
