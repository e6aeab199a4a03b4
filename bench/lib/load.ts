/** A closed loop: C workers, each sending its next request as soon as the last one finished. */
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

export async function closedLoop(send: Send, concurrency: number, durationMs: number): Promise<LoopResult> {
  const result: LoopResult = { latenciesMs: [], bytes: 0, errors: 0, firstError: undefined, elapsedMs: 0 };
  const start = performance.now();
  const deadline = start + durationMs;
  const workers = Array.from({ length: concurrency }, () => worker(send, deadline, result));
  await Promise.all(workers);
  result.elapsedMs = performance.now() - start;
  return result;
}

async function worker(send: Send, deadline: number, result: LoopResult): Promise<void> {
  while (performance.now() < deadline) {
    const t0 = performance.now();
    try {
      const bytes = await send(); // not `result.bytes += await send()`: that reads the sum before awaiting
      result.bytes += bytes;
      result.latenciesMs.push(performance.now() - t0);
    } catch (err) {
      result.errors += 1;
      result.firstError ??= err instanceof Error ? err.message : String(err);
      // Do not spin on an instant failure (e.g. connection refused).
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
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
