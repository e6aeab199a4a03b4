/**
 * Requests held open on a slow upstream: N clients (default 1000) arrive together, the simulator
 * waits --latency ms (default 5000) before answering each, and every answer carries a noise PNG
 * --side px square (256: ~136 KB; 1024: ~2.17 MB, a ~2.9 MB b64 answer). Per target (direct,
 * pipe, imagegate, taking turns over --rounds waves): p50 latency, and the answering process's
 * memory: RSS before the first wave, peak during the waves (sampled), and --settle s after its
 * last wave (0: not read).
 *
 * `npx tsx bench/held.ts [--side 1024] [--requests 1000] [--latency 5000] [--rounds 1] [--settle 60] [--profile DIR]`
 */
import { parseArgs } from 'node:util';
import { closeEndpoints, endpoints, measureWindow, mergeSlices, progressLine, type Slice } from './lib/cells.js';
import { waitQuiet } from './lib/cpu.js';
import { b64Sender, probeB64, TARGETS, type Endpoint, type Send, type Target } from './lib/http.js';
import { rotate, wave } from './lib/load.js';
import { rssMb } from './lib/memory.js';
import { isMain } from './lib/meta.js';
import { cellTable } from './lib/report.js';
import { summarize, type Cell } from './lib/stats.js';
import { withTrio, type Servers } from './lib/trio.js';

export interface HeldOptions {
  imageSide: number;
  requests: number;
  upstreamLatencyMs: number;
  rounds: number;
  /** Seconds after a target's last wave to read its RSS again; 0 = not read. */
  settleS: number;
  /** Requests in the unmeasured warm-up wave of each target (JIT, connection pools). */
  warmup: number;
  /** Directory for a CPU profile of imagegate over the whole run; undefined = none. */
  profileDir?: string | undefined;
}

export interface HeldTarget {
  /** concurrency = requests; memory = the peak over its waves. */
  cell: Cell;
  /** RSS once started, before any request: the idle RSS the after-wave reading is held to. */
  startRssMb: number | null;
  /** RSS before the first wave, after the warm-up. */
  idleRssMb: number | null;
  /** RSS `afterS` seconds after its last wave (timers fire late on a busy client: the real delay). */
  settled: { afterS: number; rssMb: number | null } | null;
}

export interface HeldResult {
  options: HeldOptions;
  imageBytes: number;
  targets: HeldTarget[];
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function measureHeld(opts: HeldOptions): Promise<HeldResult> {
  return withTrio({ targets: TARGETS, upstreamLatencyMs: opts.upstreamLatencyMs, imageSide: opts.imageSide, profileDir: opts.profileDir }, async (servers) => {
    // One connection per held request, as that many separate clients would open.
    const eps = endpoints(TARGETS, servers, opts.requests + 8);
    try {
      return { options: opts, imageBytes: servers.imageBytes, targets: await heldWaves(opts, eps, servers) };
    } finally {
      await closeEndpoints(eps);
    }
  });
}

/** Checks one answer in full and warms up, all targets at once: the upstream's wait dominates. */
async function prepare(eps: Map<Target, Endpoint>, imageBytes: number, warmup: number): Promise<Map<Target, Send>> {
  const prepared = await Promise.all(
    [...eps].map(async ([target, ep]): Promise<[Target, Send]> => {
      const send = b64Sender(ep, 'b64_json', await probeB64(ep, 'b64_json', imageBytes));
      const warm = await wave(send, warmup);
      if (warm.errors > 0) throw new Error(`${target}: ${warm.errors} warm-up requests failed: ${warm.firstError ?? ''}`);
      return [target, send];
    }),
  );
  return new Map(prepared);
}

async function heldWaves(opts: HeldOptions, eps: Map<Target, Endpoint>, servers: Servers): Promise<HeldTarget[]> {
  const pidOf = (target: Target): number | undefined => servers.processes.get(target)?.pid;
  log(`held: ${opts.requests} requests, ${opts.upstreamLatencyMs} ms upstream, ${servers.imageBytes} byte image: warming up...`);
  const start = new Map(TARGETS.map((t) => [t, rssMb(pidOf(t))]));
  const senders = await prepare(eps, servers.imageBytes, opts.warmup);
  for (const target of senders.keys()) await waitQuiet(pidOf(target));
  const idle = new Map([...senders.keys()].map((t) => [t, rssMb(pidOf(t))]));
  const slices = new Map<Target, Slice>();
  const settled = new Map<Target, Promise<HeldTarget['settled']>>();
  const order = [...senders.keys()];
  const waves = opts.rounds * order.length;
  let done = 0;
  for (let round = 0; round < opts.rounds; round++) {
    for (const target of rotate(order, round)) {
      const send = senders.get(target);
      if (send === undefined) continue;
      const slice = await measureWindow(servers, target, () => wave(send, opts.requests));
      done += 1;
      slices.set(target, mergeSlices(slices.get(target), slice));
      // The simulator serves the other targets' waves too: only a relay is idle after its own.
      if (round === opts.rounds - 1 && opts.settleS > 0 && target !== 'direct') settled.set(target, rssLater(pidOf(target), opts.settleS));
      log(progressLine(summarize('b64_json', target, opts.requests, slice.loop, slice.cpu, slice.memory)));
      // Storing 1000 images takes imagegate a while: not on the next target's clock.
      if (done < waves) await waitQuiet(pidOf(target), 60_000);
    }
  }
  if (settled.size > 0) log(`held: reading RSS ${opts.settleS} s after each target's last wave...`);
  return Promise.all(
    order.flatMap((target) => {
      const slice = slices.get(target);
      if (slice === undefined) return [];
      const cell = summarize('b64_json', target, opts.requests, slice.loop, slice.cpu, slice.memory);
      return [
        (settled.get(target) ?? Promise.resolve(null)).then((after) => ({
          cell,
          startRssMb: start.get(target) ?? null,
          idleRssMb: idle.get(target) ?? null,
          settled: after,
        })),
      ];
    }),
  );
}

async function rssLater(pid: number | undefined, seconds: number): Promise<HeldTarget['settled']> {
  const started = performance.now();
  await sleep(seconds * 1000);
  return { afterS: (performance.now() - started) / 1000, rssMb: rssMb(pid) };
}

const mb = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${v.toFixed(0)} MB`);

/** The cells, then each answering process's memory (the simulator's for direct). */
export function heldMarkdown(result: HeldResult): string {
  const { options: o } = result;
  return [
    `${o.requests} requests held open on a ${o.upstreamLatencyMs / 1000} s upstream, ${result.imageBytes} byte PNG per answer ` +
      `(${o.imageSide} px), ${o.rounds} wave(s) per target:`,
    '',
    cellTable(result.targets.map((t) => t.cell)),
    '',
    '| target | process | RSS started | after warm-up | peak (sampled) | peak (VmHWM) | after the last wave |',
    '|---|---|--:|--:|--:|--:|--:|',
    ...result.targets.map(
      (t) =>
        `| ${t.cell.target} | ${t.cell.target === 'direct' ? 'simulator' : t.cell.target} | ${mb(t.startRssMb)} | ${mb(t.idleRssMb)} | ${mb(t.cell.memory?.peakMb)} | ` +
        `${mb(t.cell.memory?.hwmMb)} | ${t.settled ? `${mb(t.settled.rssMb)} at ${t.settled.afterS.toFixed(0)} s` : '-'} |`,
    ),
    '',
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      side: { type: 'string', default: '1024' },
      requests: { type: 'string', default: '1000' },
      latency: { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '1' },
      settle: { type: 'string', default: '60' },
      warmup: { type: 'string', default: '50' },
      profile: { type: 'string' },
    },
  });
  const result = await measureHeld({
    imageSide: Number(values.side),
    requests: Number(values.requests),
    upstreamLatencyMs: Number(values.latency),
    rounds: Number(values.rounds),
    settleS: Number(values.settle),
    warmup: Number(values.warmup),
    profileDir: values.profile,
  });
  process.stdout.write(heldMarkdown(result));
}
