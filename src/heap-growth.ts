/**
 * How far V8 lets the heap grow between full collections, for a server whose traffic passes
 * through it. V8 counts every ArrayBuffer allocated since its last mark-compact toward the old
 * generation's limit, and a relay allocates all of its traffic as ArrayBuffers (each socket read
 * is one). With its dynamic factor the limit sits ~1.5-1.8x the live heap, so with a thousand
 * requests in flight (~60 MB live) a full mark of everything in flight, on the main thread and
 * V8's helper threads, ran every ~50 MB of traffic: ~35 in one wave of 1000 answers of 2.7 MiB.
 * At 4x (the top of V8's own dynamic range) the wave ran ~21-25 (docs/deploy.md has the runs).
 * The heap may hold up to 4x its live size before collecting; ArrayBuffers themselves are freed
 * by the young generation's collections as before. `serve` applies it before the app starts.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 300;

/**
 * The V8 flag to set, or null when the operator gave node a growth of their own
 * (`node --heap-growing-percent=0 ...` gives V8's dynamic factor back; node refuses V8 flags in
 * NODE_OPTIONS, so node's command line is the only place for it).
 */
export function heapGrowthFlag(execArgv: readonly string[]): string | null {
  const given = execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
  return given ? null : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/** Sets the growth for this process unless the operator did; true if it set it. */
export function growHeapForTraffic(): boolean {
  const flag = heapGrowthFlag(process.execArgv);
  if (flag) setFlagsFromString(flag);
  return flag !== null;
}

/** The start-up line that says which growth this process runs with. */
export function heapGrowthLine(setHere: boolean): string {
  return setHere
    ? `heap: V8 grows it ${1 + HEAP_GROWING_PERCENT / 100}x between full collections (--heap-growing-percent=${HEAP_GROWING_PERCENT}; one given to node is kept instead)`
    : "heap: V8's growth as node's --heap-growing-percent sets it";
}
