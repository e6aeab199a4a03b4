/**
 * Resident memory of a server child, from /proc/<pid>/status (Linux; elsewhere null).
 * Peaks are sampled from a worker thread: during a wave the client's own event loop is busy
 * reading answers, and its timers would fire late, missing the peak they are meant to catch.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** One field of /proc/<pid>/status in MB; null when unreadable. */
function statusMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | null {
  if (pid === undefined) return null;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export const rssMb = (pid: number | undefined): number | null => statusMb(pid, 'VmRSS');

export interface MemoryPeak {
  /** Highest VmRSS seen by sampling every ~100 ms. */
  peakMb: number | null;
  /** VmHWM after a reset at the start: the kernel's exact peak, null where it cannot be reset. */
  hwmMb: number | null;
  samples: number;
}

/** Plain JavaScript, evaluated in the worker (no tsx there): keeps the highest VmRSS in kB. */
const SAMPLER = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const cells = new Int32Array(workerData.shared);
const sample = () => {
  try {
    const m = /^VmRSS:\\s+(\\d+) kB/m.exec(readFileSync('/proc/' + workerData.pid + '/status', 'utf8'));
    if (m) Atomics.store(cells, 0, Math.max(Atomics.load(cells, 0), Number(m[1])));
    Atomics.add(cells, 1, 1);
  } catch {}
};
sample();
setInterval(sample, workerData.intervalMs);
`;

/**
 * Starts watching a process's memory; the returned function stops and gives the peak since.
 * Writing 5 to clear_refs resets VmHWM to the current RSS (allowed for our own children).
 */
export function memoryPeak(pid: number | undefined, intervalMs = 100): () => Promise<MemoryPeak> {
  if (pid === undefined) return () => Promise.resolve({ peakMb: null, hwmMb: null, samples: 0 });
  const hwmReset = resetHwm(pid);
  const shared = new SharedArrayBuffer(8);
  const cells = new Int32Array(shared);
  const worker = new Worker(SAMPLER, { eval: true, workerData: { pid, intervalMs, shared } });
  worker.unref();
  return async () => {
    await worker.terminate();
    const last = rssMb(pid);
    const sampledKb = Atomics.load(cells, 0);
    const sampled = sampledKb > 0 ? sampledKb / 1024 : null;
    const peakMb = sampled === null ? last : last === null ? sampled : Math.max(sampled, last);
    return { peakMb, hwmMb: hwmReset ? statusMb(pid, 'VmHWM') : null, samples: Atomics.load(cells, 1) };
  };
}

function resetHwm(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The higher of two peaks (slices of one cell). */
export function maxPeak(a: MemoryPeak, b: MemoryPeak): MemoryPeak {
  const max = (x: number | null, y: number | null): number | null => (x === null ? y : y === null ? x : Math.max(x, y));
  return { peakMb: max(a.peakMb, b.peakMb), hwmMb: max(a.hwmMb, b.hwmMb), samples: a.samples + b.samples };
}
