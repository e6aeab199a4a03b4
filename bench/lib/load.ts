/**
 * How requests are sent: a closed loop (C workers, each sending its next request as soon as the
 * last one finished), or one open wave (N requests at once, each once).
 */
import { performance } from 'node:perf_hooks';
import type { Send } from './http.js';

export interface LoopResult {
  latenciesMs: number[];
  bytes: number;
  errors: number;
  firstError: string | undefined;
  /** From the start until the last worker finished its last request. */
  elapsedMs: number;
}

const emptyResult = (): LoopResult => ({ latenciesMs: [], bytes: 0, errors: 0, firstError: undefined, elapsedMs: 0 });

/** Sends one request and adds its outcome to `result`; false when it failed. */
async function sendOnce(send: Send, result: LoopResult): Promise<boolean> {
  const t0 = performance.now();
  try {
    const bytes = await send(); // not `result.bytes += await send()`: that reads the sum before awaiting
    result.bytes += bytes;
    result.latenciesMs.push(performance.now() - t0);
    return true;
  } catch (err) {
    result.errors += 1;
    result.firstError ??= err instanceof Error ? err.message : String(err);
    return false;
  }
}

export async function closedLoop(send: Send, concurrency: number, durationMs: number): Promise<LoopResult> {
  const result = emptyResult();
  const start = performance.now();
  const deadline = start + durationMs;
  const workers = Array.from({ length: concurrency }, () => worker(send, deadline, result));
  await Promise.all(workers);
  result.elapsedMs = performance.now() - start;
  return result;
}

async function worker(send: Send, deadline: number, result: LoopResult): Promise<void> {
  while (performance.now() < deadline) {
    // Do not spin on an instant failure (e.g. connection refused).
    if (!(await sendOnce(send, result))) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Two slices of the same cell as one. */
export function mergeLoops(a: LoopResult, b: LoopResult): LoopResult {
  return {
    latenciesMs: a.latenciesMs.concat(b.latenciesMs),
    bytes: a.bytes + b.bytes,
    errors: a.errors + b.errors,
    firstError: a.firstError ?? b.firstError,
    elapsedMs: a.elapsedMs + b.elapsedMs,
  };
}

/** An open wave: n requests sent at once, each once (n clients arriving together). */
export async function wave(send: Send, n: number): Promise<LoopResult> {
  const result = emptyResult();
  const start = performance.now();
  await Promise.all(Array.from({ length: n }, () => sendOnce(send, result)));
  result.elapsedMs = performance.now() - start;
  return result;
}

/** Round `round`'s turn order: the targets rotated, so none is always first (or last). */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const first = round % Math.max(1, items.length);
  return [...items.slice(first), ...items.slice(0, first)];
}
