/**
 * `npm run bench`: sync generations with a ~2 MB PNG per answer, measured straight to the
 * simulator, through a bare node:http pipe, and through imagegate. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type ChildServer } from './lib/children.js';
import { b64Sender, createEndpoint, decodingSender, probeB64, urlSender, type Endpoint, type Format, type Send, type Target } from './lib/http.js';
import { cpuMeter, machineBusyCpu, ownCpu, processCpu } from './lib/cpu.js';
import { closedLoop, mergeLoops, type LoopResult } from './lib/load.js';
import { parseOptions, USAGE, type Options } from './lib/options.js';
import { renderMarkdown, type Machine, type RunReport } from './lib/report.js';
import { addCpu, latencyDerived, summarize, throughputDerived, type Cell, type CpuUsed } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Lets a relay finish its after-response work (image writes) before the next slice starts. */
const SETTLE_MS = 250;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Servers {
  /** The process answering each target; direct is the simulator. */
  processes: Map<Target, ChildServer>;
  imageBytes: number;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** The simulator first (the others need its address), then pipe and gateway side by side. */
async function startServers(opts: Options, children: ChildServer[]): Promise<Servers> {
  const sim = await startServer({
    name: 'simulator',
    file: join(here, 'servers/simulator.ts'),
    env: { BENCH_UPSTREAM_LATENCY_MS: String(opts.upstreamLatencyMs) },
  });
  children.push(sim);
  const imageBytes = sim.ready.imageBytes;
  if (imageBytes === undefined) throw new Error('simulator did not report imageBytes');
  const processes = new Map<Target, ChildServer>([['direct', sim]]);
  const relays: Promise<void>[] = [];
  const startRelay = (target: Target, file: string, env: NodeJS.ProcessEnv = {}): void => {
    if (!opts.targets.includes(target)) return;
    const started = startServer({ name: target, file: join(here, file), args: [sim.ready.url], env });
    relays.push(
      started.then((child) => {
        children.push(child);
        processes.set(target, child);
      }),
    );
  };
  startRelay('pipe', 'servers/pipe.ts');
  startRelay('imagegate', 'servers/gateway.ts', {
    ...(opts.profileDir ? { BENCH_CPU_PROFILE_DIR: opts.profileDir } : {}),
    ...(opts.dataDir ? { BENCH_DATA_DIR: opts.dataDir } : {}),
  });
  // allSettled: when one fails, the other is still registered in `children` and gets stopped.
  const failed = (await Promise.allSettled(relays)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return { processes, imageBytes };
}

function endpoints(opts: Options, processes: Map<Target, ChildServer>): Map<Target, Endpoint> {
  const connections = Math.max(...opts.concurrency);
  const result = new Map<Target, Endpoint>();
  for (const target of opts.targets) {
    const server = processes.get(target);
    if (server !== undefined) result.set(target, createEndpoint(target, server.ready.url, connections));
  }
  return result;
}

/** Checks one answer of each kind in full (decoded image intact), and builds the cell's sender. */
async function prepareSender(ep: Endpoint, format: Format, opts: Options, imageBytes: number): Promise<Send> {
  if (ep.target === 'imagegate' && format === 'url') {
    const send = urlSender(ep, imageBytes);
    await send();
    return send;
  }
  const answerBytes = await probeB64(ep, format, imageBytes);
  return opts.clientParse ? decodingSender(ep, format, imageBytes) : b64Sender(ep, format, answerBytes);
}

interface Slice {
  loop: LoopResult;
  cpu: CpuUsed;
}

/** One measured slice of a cell, with the CPU each process spent in it. */
async function measureSlice(send: Send, concurrency: number, durationS: number, servers: Servers, target: Target): Promise<Slice> {
  const relay = target === 'direct' ? undefined : servers.processes.get(target);
  const client = cpuMeter(ownCpu);
  const simulator = cpuMeter(processCpu(servers.processes.get('direct')?.pid));
  const relayCpu = cpuMeter(processCpu(relay?.pid));
  const machine = cpuMeter(machineBusyCpu);
  const loop = await closedLoop(send, concurrency, durationS * 1000);
  return { loop, cpu: { client: client(), simulator: simulator(), relay: relay ? relayCpu() : undefined, machine: machine() } };
}

function mergeSlices(a: Slice | undefined, b: Slice): Slice {
  return a === undefined ? b : { loop: mergeLoops(a.loop, b.loop), cpu: addCpu(a.cpu, b.cpu) };
}

/** Probes and warms every target for one (format, concurrency) group. */
async function prepareGroup(eps: Map<Target, Endpoint>, format: Format, concurrency: number, opts: Options, imageBytes: number) {
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
async function measureGroup(senders: Map<Target, Send>, format: Format, concurrency: number, opts: Options, servers: Servers) {
  const order = [...senders.keys()];
  const slices = new Map<Target, Slice>();
  for (let round = 0; round < opts.rounds; round++) {
    const first = round % order.length;
    for (const target of [...order.slice(first), ...order.slice(0, first)]) {
      const send = senders.get(target);
      if (send === undefined) continue;
      const slice = await measureSlice(send, concurrency, opts.durationS / opts.rounds, servers, target);
      slices.set(target, mergeSlices(slices.get(target), slice));
      await sleep(SETTLE_MS);
    }
  }
  return order.flatMap((target) => {
    const slice = slices.get(target);
    return slice ? [summarize(format, target, concurrency, slice.loop, slice.cpu)] : [];
  });
}

async function measure(opts: Options, eps: Map<Target, Endpoint>, servers: Servers): Promise<Cell[]> {
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

function progressLine(c: Cell): string {
  const cpu = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
  const { client, simulator, relay } = c.cpuMsPerRequest;
  return (
    `${c.format.padEnd(8)} ${c.target.padEnd(9)} c=${String(c.concurrency).padEnd(3)} ${c.reqPerSec.toFixed(1).padStart(6)} req/s  ` +
    `p50 ${c.p50Ms.toFixed(1)} ms  p99 ${c.p99Ms.toFixed(1)} ms  errors ${c.errors}  ` +
    `CPU ms/req client ${cpu(client)} sim ${cpu(simulator)} relay ${cpu(relay)}  other ${c.otherCores?.toFixed(2) ?? '-'} cores`
  );
}

function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** The commit measured, marked `+dirty` when src/ has uncommitted changes. */
function commit(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: here, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', '../src') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

function buildReport(opts: Options, argv: string[], cells: Cell[], imageBytes: number): RunReport {
  const top = Math.max(...opts.concurrency);
  return {
    date: new Date().toISOString(),
    commit: commit(),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    machine: machine(),
    settings: {
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      rounds: opts.rounds,
      concurrency: opts.concurrency,
      clientParse: opts.clientParse,
      upstreamLatencyMs: opts.upstreamLatencyMs,
      dataDir: opts.dataDir ?? 'OS temp dir',
      imageBytes,
    },
    cells,
    latency: opts.formats.flatMap((f) => latencyDerived(cells, f) ?? []),
    throughput: opts.formats.flatMap((f) => throughputDerived(cells, f, top) ?? []),
  };
}

async function writeResults(report: RunReport, markdown: string): Promise<void> {
  const dir = join(here, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, 'latest.md'), `${markdown}\n`);
  log(`wrote ${join(dir, 'latest.json')} and latest.md`);
}

function optionsOrExit(argv: string[]): Options {
  try {
    return parseOptions(argv);
  } catch (err) {
    log(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const opts = optionsOrExit(argv);
  const children: ChildServer[] = [];
  let eps = new Map<Target, Endpoint>();
  try {
    const servers = await startServers(opts, children);
    eps = endpoints(opts, servers.processes);
    const cells = await measure(opts, eps, servers);
    const report = buildReport(opts, argv, cells, servers.imageBytes);
    const markdown = renderMarkdown(report);
    process.stdout.write(`${markdown}\n`);
    if (opts.write) await writeResults(report, markdown);
    return cells.some((c) => c.errors > 0) ? 1 : 0;
  } finally {
    await Promise.all([...eps.values()].map((ep) => ep.pool.close()));
    await Promise.all(children.map((c) => c.stop()));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
