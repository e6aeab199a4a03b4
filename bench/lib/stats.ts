/** Per-cell figures and the ratios the targets are stated in. */
import type { Format, Target } from './http.js';
import type { LoopResult } from './load.js';
import type { MemoryPeak } from './memory.js';

export interface Cell {
  format: Format;
  target: Target;
  concurrency: number;
  requests: number;
  errors: number;
  firstError: string | null;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Response bytes delivered per second, in MB (10^6). */
  mbPerSec: number;
  /** CPU milliseconds per request of each process (null where unknown or not involved). */
  cpuMsPerRequest: CpuPerRequest;
  /**
   * Cores' worth of CPU the rest of the machine used meanwhile (other processes, plus kernel
   * work not charged to ours): noise from outside the bench when clearly above ~0.1.
   */
  otherCores: number | null;
  /** Peak memory of the process answering (the simulator for direct); null where not sampled. */
  memory: MemoryPeak | null;
}

export interface CpuPerRequest {
  client: number | null;
  simulator: number | null;
  /** The pipe or imagegate process; null for direct. */
  relay: number | null;
}

/** CPU ms each process used over the measured window. */
export interface CpuUsed {
  client: number | undefined;
  simulator: number | undefined;
  relay: number | undefined;
  /** The whole machine's busy CPU ms. */
  machine: number | undefined;
}

export function summarize(format: Format, target: Target, concurrency: number, loop: LoopResult, cpu: CpuUsed, memory: MemoryPeak | null = null): Cell {
  const sorted = [...loop.latenciesMs].sort((a, b) => a - b);
  const seconds = loop.elapsedMs / 1000;
  const perRequest = (ms: number | undefined): number | null => (ms === undefined || sorted.length === 0 ? null : ms / sorted.length);
  return {
    format,
    target,
    concurrency,
    requests: sorted.length,
    errors: loop.errors,
    firstError: loop.firstError ?? null,
    reqPerSec: sorted.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length,
    mbPerSec: loop.bytes / 1e6 / seconds,
    cpuMsPerRequest: { client: perRequest(cpu.client), simulator: perRequest(cpu.simulator), relay: perRequest(cpu.relay) },
    otherCores: otherCores(cpu, loop.elapsedMs),
    memory,
  };
}

const addMs = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a + b);

export function addCpu(a: CpuUsed, b: CpuUsed): CpuUsed {
  return {
    client: addMs(a.client, b.client),
    simulator: addMs(a.simulator, b.simulator),
    relay: addMs(a.relay, b.relay),
    machine: addMs(a.machine, b.machine),
  };
}

function otherCores(cpu: CpuUsed, elapsedMs: number): number | null {
  if (cpu.machine === undefined || cpu.client === undefined || cpu.simulator === undefined) return null;
  const ours = cpu.client + cpu.simulator + (cpu.relay ?? 0);
  return Math.max(0, cpu.machine - ours) / elapsedMs;
}

/** Nearest rank: the smallest sample with at least p% of samples at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export const LATENCY_TARGET = 1.5;
export const THROUGHPUT_TARGET = 0.8;

export interface LatencyDerived {
  format: Format;
  pipeAddedMs: number;
  gatewayAddedMs: number;
  /** gatewayAdded / pipeAdded; null when the pipe added nothing measurable. */
  ratio: number | null;
  met: boolean | null;
  /** Some cell behind these figures had errors. */
  hadErrors: boolean;
}

export interface ThroughputDerived {
  format: Format;
  concurrency: number;
  pipeRatio: number;
  gatewayRatio: number;
  /** The target is stated for b64_json only; url is reported for information. */
  met: boolean | null;
  hadErrors: boolean;
}

function find(cells: readonly Cell[], format: Format, target: Target, concurrency: number): Cell | undefined {
  return cells.find((c) => c.format === format && c.target === target && c.concurrency === concurrency);
}

function trio(cells: readonly Cell[], format: Format, concurrency: number): [Cell, Cell, Cell] | null {
  const direct = find(cells, format, 'direct', concurrency);
  const pipe = find(cells, format, 'pipe', concurrency);
  const gateway = find(cells, format, 'imagegate', concurrency);
  return direct && pipe && gateway ? [direct, pipe, gateway] : null;
}

/** At c=1: what each relay adds to the direct p50, and imagegate's addition over the pipe's. */
export function latencyDerived(cells: readonly Cell[], format: Format): LatencyDerived | null {
  const cs = trio(cells, format, 1);
  if (!cs) return null;
  const [direct, pipe, gateway] = cs;
  const pipeAddedMs = pipe.p50Ms - direct.p50Ms;
  const gatewayAddedMs = gateway.p50Ms - direct.p50Ms;
  const ratio = pipeAddedMs > 0 ? gatewayAddedMs / pipeAddedMs : null;
  const met = ratio === null ? null : ratio <= LATENCY_TARGET;
  return { format, pipeAddedMs, gatewayAddedMs, ratio, met, hadErrors: cs.some((c) => c.errors > 0) };
}

/** At the highest concurrency measured (16 by default): each relay's req/s as a share of direct. */
export function throughputDerived(cells: readonly Cell[], format: Format, concurrency: number): ThroughputDerived | null {
  const cs = trio(cells, format, concurrency);
  if (!cs) return null;
  const [direct, pipe, gateway] = cs;
  const gatewayRatio = gateway.reqPerSec / direct.reqPerSec;
  const met = format === 'b64_json' ? gatewayRatio >= THROUGHPUT_TARGET : null;
  return { format, concurrency, pipeRatio: pipe.reqPerSec / direct.reqPerSec, gatewayRatio, met, hadErrors: cs.some((c) => c.errors > 0) };
}
