/** The run as Markdown (stdout, latest.md) and JSON (latest.json). */
import type { Machine } from './meta.js';
import type { Cell, LatencyDerived, ThroughputDerived } from './stats.js';
import { LATENCY_TARGET, THROUGHPUT_TARGET } from './stats.js';

export type { Machine };

export interface RunReport {
  date: string;
  /** git HEAD of the code measured. */
  commit: string;
  command: string;
  machine: Machine;
  settings: {
    durationS: number;
    warmupS: number;
    rounds: number;
    concurrency: number[];
    clientParse: boolean;
    upstreamLatencyMs: number;
    dataDir: string;
    imageBytes: number;
  };
  cells: Cell[];
  latency: LatencyDerived[];
  throughput: ThroughputDerived[];
}

const fixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const optional = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined ? '-' : fixed(n, digits));

export function renderMarkdown(r: RunReport): string {
  const errors = r.cells.filter((c) => c.errors > 0);
  return [
    `Run ${r.date} at commit ${r.commit} — \`${r.command}\``,
    `Machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGb} GB, Node ${r.machine.node}, ${r.machine.os}.`,
    `Each cell: ${r.settings.warmupS} s warm-up, then ${r.settings.durationS} s measured in ${r.settings.rounds} slices ` +
      `taking turns with the other targets; image ${r.settings.imageBytes} bytes; ` +
      `upstream latency ${r.settings.upstreamLatencyMs} ms; imagegate data dir under ${r.settings.dataDir}.` +
      (r.settings.clientParse ? ' The client JSON-parses every b64 answer and decodes the image (--client-parse).' : ''),
    '',
    errors.length > 0 ? `**This run had errors** in ${errors.length} cell(s): ${errors.map(errorNote).join('; ')}` : 'No errors.',
    '',
    cellTable(r.cells),
    '',
    derivedSection(r),
  ].join('\n');
}

function errorNote(c: Cell): string {
  return `${c.format}/${c.target}/c=${c.concurrency}: ${c.errors} (${c.firstError ?? ''})`;
}

/** One row per cell; the last column is the peak RSS of the process answering (the simulator for direct). */
export function cellTable(cells: readonly Cell[]): string {
  const head = [
    '| format | target | c | requests | errors | req/s | p50 ms | p99 ms | mean ms | MB/s | CPU ms/req client / sim / relay | other load (cores) | peak RSS MB |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const rows = cells.map(
    (c) =>
      `| ${c.format} | ${c.target} | ${c.concurrency} | ${c.requests} | ${c.errors} | ${fixed(c.reqPerSec)} | ` +
      `${fixed(c.p50Ms)} | ${fixed(c.p99Ms)} | ${fixed(c.meanMs)} | ${fixed(c.mbPerSec, 0)} | ${cpuText(c)} | ${c.otherCores === null ? '-' : c.otherCores.toFixed(2)} | ` +
      `${optional(c.memory?.peakMb, 0)} |`,
  );
  return [...head, ...rows].join('\n');
}

function cpuText(c: Cell): string {
  const { client, simulator, relay } = c.cpuMsPerRequest;
  const ms = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
  return `${ms(client)} / ${ms(simulator)} / ${ms(relay)}`;
}

function verdict(met: boolean | null, hadErrors: boolean): string {
  const base = met === null ? 'n/a' : met ? 'met' : '**missed**';
  return hadErrors ? `${base} (cells had errors)` : base;
}

function derivedSection(r: RunReport): string {
  const latency = r.latency.map(
    (d) =>
      `| ${d.format} | +${fixed(d.pipeAddedMs)} | +${fixed(d.gatewayAddedMs)} | ` +
      `${d.ratio === null ? 'n/a' : `${fixed(d.ratio, 2)}x`} | <= ${LATENCY_TARGET}x | ${verdict(d.met, d.hadErrors)} |`,
  );
  const throughput = r.throughput.map(
    (d) =>
      `| ${d.format} | ${d.concurrency} | ${fixed(d.pipeRatio * 100, 0)}% | ${fixed(d.gatewayRatio * 100, 0)}% | ` +
      `${d.format === 'b64_json' ? `>= ${THROUGHPUT_TARGET * 100}%` : '(none)'} | ${verdict(d.met, d.hadErrors)} |`,
  );
  return [
    'Latency added at c=1 (p50 minus direct p50, ms):',
    '',
    '| format | pipe adds | imagegate adds | imagegate / pipe | target | verdict |',
    '|---|--:|--:|--:|--:|---|',
    ...(latency.length > 0 ? latency : ['| (needs direct, pipe and imagegate at c=1) | | | | | |']),
    '',
    'Throughput as a share of direct (req/s):',
    '',
    '| format | c | pipe | imagegate | target | verdict |',
    '|---|--:|--:|--:|--:|---|',
    ...(throughput.length > 0 ? throughput : ['| (needs direct, pipe and imagegate) | | | | | |']),
  ].join('\n');
}
