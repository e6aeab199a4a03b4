/**
 * Closed-loop cells: per (format, concurrency) group, every target is probed and warmed up, then
 * the targets take turns in short slices. Shared by `npm run bench` and the floor's scenarios.
 */
import { b64Sender, createEndpoint, decodingSender, probeB64, urlSender, type Endpoint, type Format, type Send, type Target } from './http.js';
import { cpuMeter, machineBusyCpu, ownCpu, processCpu } from './cpu.js';
import { closedLoop, mergeLoops, rotate, type LoopResult } from './load.js';
import { maxPeak, memoryPeak, type MemoryPeak } from './memory.js';
import { addCpu, summarize, type Cell, type CpuUsed } from './stats.js';
import type { Options } from './options.js';
import type { Servers } from './trio.js';

/** Lets a relay finish its after-response work (image writes) before the next slice starts. */
const SETTLE_MS = 250;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** What a run of cells is told (a subset of `npm run bench`'s options). */
export type CellOptions = Pick<Options, 'durationS' | 'warmupS' | 'rounds' | 'concurrency' | 'formats' | 'targets' | 'clientParse'>;

export function endpoints(targets: readonly Target[], servers: Servers, connections: number): Map<Target, Endpoint> {
  const result = new Map<Target, Endpoint>();
  for (const target of targets) {
    const server = servers.processes.get(target);
    if (server !== undefined) result.set(target, createEndpoint(target, server.ready.url, connections, servers.requestSize));
  }
  return result;
}

export async function closeEndpoints(eps: Map<Target, Endpoint>): Promise<void> {
  await Promise.all([...eps.values()].map((ep) => ep.pool.close()));
}

/** Checks one answer of each kind in full (decoded image intact), and builds the cell's sender. */
async function prepareSender(ep: Endpoint, format: Format, opts: CellOptions, imageBytes: number): Promise<Send> {
  if (ep.target === 'imagegate' && format === 'url') {
    const send = urlSender(ep, imageBytes);
    await send();
    return send;
  }
  const answerBytes = await probeB64(ep, format, imageBytes);
  return opts.clientParse ? decodingSender(ep, format, imageBytes) : b64Sender(ep, format, answerBytes);
}

export interface Slice {
  loop: LoopResult;
  cpu: CpuUsed;
  memory: MemoryPeak;
}

/** Runs `load` against one target, with the CPU each process spent meanwhile and the answering one's peak memory. */
export async function measureWindow(servers: Servers, target: Target, load: () => Promise<LoopResult>): Promise<Slice> {
  const relay = target === 'direct' ? undefined : servers.processes.get(target);
  const client = cpuMeter(ownCpu);
  const simulator = cpuMeter(processCpu(servers.processes.get('direct')?.pid));
  const relayCpu = cpuMeter(processCpu(relay?.pid));
  const machine = cpuMeter(machineBusyCpu);
  const memory = memoryPeak(servers.processes.get(target)?.pid);
  const loop = await load();
  const cpu = { client: client(), simulator: simulator(), relay: relay ? relayCpu() : undefined, machine: machine() };
  return { loop, cpu, memory: await memory() };
}

export function mergeSlices(a: Slice | undefined, b: Slice): Slice {
  return a === undefined ? b : { loop: mergeLoops(a.loop, b.loop), cpu: addCpu(a.cpu, b.cpu), memory: maxPeak(a.memory, b.memory) };
}

/** Probes and warms every target for one (format, concurrency) group. */
async function prepareGroup(eps: Map<Target, Endpoint>, format: Format, concurrency: number, opts: CellOptions, imageBytes: number) {
  const senders = new Map<Target, Send>();
  for (const [target, ep] of eps) {
    const send = await prepareSender(ep, format, opts, imageBytes);
    await closedLoop(send, concurrency, opts.warmupS * 1000);
    senders.set(target, send);
  }
  return senders;
}

/**
 * The targets of a group take turns in short slices (rotating who goes first), so load from
 * outside the bench on a shared machine hits all three alike instead of one whole cell.
 */
async function measureGroup(senders: Map<Target, Send>, format: Format, concurrency: number, opts: CellOptions, servers: Servers) {
  const order = [...senders.keys()];
  const slices = new Map<Target, Slice>();
  for (let round = 0; round < opts.rounds; round++) {
    for (const target of rotate(order, round)) {
      const send = senders.get(target);
      if (send === undefined) continue;
      const slice = await measureWindow(servers, target, () => closedLoop(send, concurrency, (opts.durationS / opts.rounds) * 1000));
      slices.set(target, mergeSlices(slices.get(target), slice));
      await sleep(SETTLE_MS);
    }
  }
  return order.flatMap((target) => {
    const slice = slices.get(target);
    return slice ? [summarize(format, target, concurrency, slice.loop, slice.cpu, slice.memory)] : [];
  });
}

/** Every (format, concurrency) group of `opts` against the servers' targets. */
export async function measureCells(opts: CellOptions, eps: Map<Target, Endpoint>, servers: Servers): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const format of opts.formats) {
    for (const concurrency of opts.concurrency) {
      log(`${format} c=${concurrency}: warming up, then ${opts.rounds} rounds...`);
      const senders = await prepareGroup(eps, format, concurrency, opts, servers.imageBytes);
      const group = await measureGroup(senders, format, concurrency, opts, servers);
      for (const cell of group) log(progressLine(cell));
      cells.push(...group);
    }
  }
  return cells;
}

export function progressLine(c: Cell): string {
  const cpu = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
  const { client, simulator, relay } = c.cpuMsPerRequest;
  const peak = c.memory?.peakMb;
  return (
    `${c.format.padEnd(8)} ${c.target.padEnd(9)} c=${String(c.concurrency).padEnd(4)} ${c.reqPerSec.toFixed(1).padStart(6)} req/s  ` +
    `p50 ${c.p50Ms.toFixed(1)} ms  p99 ${c.p99Ms.toFixed(1)} ms  errors ${c.errors}  ` +
    `CPU ms/req client ${cpu(client)} sim ${cpu(simulator)} relay ${cpu(relay)}  other ${c.otherCores?.toFixed(2) ?? '-'} cores` +
    (peak === undefined || peak === null ? '' : `  peak RSS ${peak.toFixed(0)} MB`)
  );
}
