/**
 * The targets of "At the relay floor", each as one row: what pipe, direct and imagegate measured,
 * the ratio the target is stated in, and whether it was met. Only figures in; no measuring here.
 */
import type { HeldResult, HeldTarget } from '../held.js';
import type { LargeResult } from '../large.js';
import type { StartupResult, UploadsResult } from './external.js';
import type { Format, Target } from './http.js';
import { latencyDerived, percentile, type Cell } from './stats.js';

/** What a scenario gave: its value, the error that stopped it, or undefined when not run. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string } | undefined;

/** Time to the first partial image, per target (sorted ms). */
export type PartialTimes = Partial<Record<Target, number[]>>;

export interface FloorResults {
  cells?: Outcome<Cell[]>;
  partial?: Outcome<PartialTimes>;
  heldSmall?: Outcome<HeldResult>;
  heldLarge?: Outcome<HeldResult>;
  large?: Outcome<LargeResult>;
  uploads?: Outcome<UploadsResult>;
  startup?: Outcome<StartupResult>;
}

export interface FloorRow {
  scenario: string;
  measure: string;
  pipe: string;
  direct: string;
  imagegate: string;
  /** imagegate's figure in the terms of the target (e.g. "2.67x pipe"). */
  ratio: string;
  target: string;
  /** null: not measured (scenario skipped or failed). */
  met: boolean | null;
  /** Failed requests behind the figures, or why there are none. */
  note: string;
}

const NONE = '-';
const ms = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? NONE : `${v.toFixed(digits)} ms`);
const added = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? NONE : `${v >= 0 ? '+' : ''}${v.toFixed(1)} ms`;
const mb = (v: number | null | undefined): string => (v === null || v === undefined ? NONE : `${v.toFixed(0)} MB`);
const rps = (c: Cell | undefined): string => (c === undefined ? NONE : `${c.reqPerSec.toFixed(1)} req/s`);
const seconds = (c: Cell | undefined): string => (c === undefined ? NONE : `${(c.p50Ms / 1000).toFixed(2)} s`);

/** a / b, or null when either is missing or b is not positive. */
function ratioOf(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !(b > 0) || !Number.isFinite(a)) return null;
  return a / b;
}

const times = (r: number | null, of: string): string => (r === null ? NONE : `${r.toFixed(2)}x ${of}`);
const atMost = (r: number | null, limit: number): boolean | null => (r === null ? null : r <= limit);
const atLeast = (r: number | null, limit: number): boolean | null => (r === null ? null : r >= limit);

function errorsNote(cells: readonly (Cell | undefined)[]): string {
  const failed = cells.filter((c): c is Cell => c !== undefined && c.errors > 0);
  return failed.map((c) => `${c.target}: ${c.errors} failed (${c.firstError ?? ''})`).join('; ');
}

function find(cells: readonly Cell[], format: Format, target: Target, concurrency: number): Cell | undefined {
  return cells.find((c) => c.format === format && c.target === target && c.concurrency === concurrency);
}

/** Rows for a scenario that was skipped or failed: the targets it would have measured, unmet. */
function missingRows(outcome: Outcome<unknown>, rows: readonly [scenario: string, measure: string, target: string][]): FloorRow[] {
  const note = outcome === undefined ? 'not run' : outcome.ok ? '' : `failed: ${outcome.error.split('\n')[0] ?? ''}`;
  return rows.map(([scenario, measure, target]) => ({ scenario, measure, pipe: NONE, direct: NONE, imagegate: NONE, ratio: NONE, target, met: null, note }));
}

function cellRows(outcome: Outcome<Cell[]>): FloorRow[] {
  if (!outcome?.ok) {
    return missingRows(outcome, [
      ['c=1 `b64_json`', 'p50 added over direct', '<= 1.5x pipe'],
      ['c=16 `b64_json`', 'throughput', '>= 0.85x pipe'],
      ['c=1 `b64_json`', 'relay CPU per request', '<= 2x pipe'],
      ['c=16 `b64_json`', 'relay CPU per request', '<= 2x pipe'],
      ['c=16 `url` (answer + image GET)', 'throughput', '>= 0.7x direct'],
    ]);
  }
  const cells = outcome.value;
  const trio = (format: Format, c: number) => (['pipe', 'direct', 'imagegate'] as const).map((t) => find(cells, format, t, c));
  const [pipe1, direct1, gate1] = trio('b64_json', 1);
  const [pipe16, direct16, gate16] = trio('b64_json', 16);
  const [urlPipe, urlDirect, urlGate] = trio('url', 16);
  const latency = latencyDerived(cells, 'b64_json');
  const throughput = ratioOf(gate16?.reqPerSec, pipe16?.reqPerSec);
  const url = ratioOf(urlGate?.reqPerSec, urlDirect?.reqPerSec);
  const cpuRow = (label: string, pipe: Cell | undefined, gate: Cell | undefined, direct: Cell | undefined): FloorRow => {
    const r = ratioOf(gate?.cpuMsPerRequest.relay, pipe?.cpuMsPerRequest.relay);
    return {
      scenario: label,
      measure: 'relay CPU per request',
      pipe: ms(pipe?.cpuMsPerRequest.relay, 2),
      direct: NONE,
      imagegate: ms(gate?.cpuMsPerRequest.relay, 2),
      ratio: times(r, 'pipe'),
      target: '<= 2x pipe',
      met: atMost(r, 2),
      note: errorsNote([pipe, gate, direct]),
    };
  };
  return [
    {
      scenario: 'c=1 `b64_json`',
      measure: 'p50 added over direct',
      pipe: added(latency?.pipeAddedMs),
      direct: `${ms(direct1?.p50Ms)} p50`,
      imagegate: added(latency?.gatewayAddedMs),
      ratio: times(latency?.ratio ?? null, 'pipe'),
      target: '<= 1.5x pipe',
      met: atMost(latency?.ratio ?? null, 1.5),
      note: errorsNote([pipe1, direct1, gate1]),
    },
    {
      scenario: 'c=16 `b64_json`',
      measure: 'throughput',
      pipe: rps(pipe16),
      direct: rps(direct16),
      imagegate: rps(gate16),
      ratio: times(throughput, 'pipe'),
      target: '>= 0.85x pipe',
      met: atLeast(throughput, 0.85),
      note: errorsNote([pipe16, direct16, gate16]),
    },
    cpuRow('c=1 `b64_json`', pipe1, gate1, direct1),
    cpuRow('c=16 `b64_json`', pipe16, gate16, direct16),
    {
      scenario: 'c=16 `url` (answer + image GET; pipe and direct: the b64 answer)',
      measure: 'throughput',
      pipe: rps(urlPipe),
      direct: rps(urlDirect),
      imagegate: rps(urlGate),
      ratio: times(url, 'direct'),
      target: '>= 0.7x direct',
      met: atLeast(url, 0.7),
      note: errorsNote([urlPipe, urlDirect, urlGate]),
    },
  ];
}

function heldRows(outcome: Outcome<HeldResult>, label: string, rssLimitMb: number): FloorRow[] {
  const scenario = `${label}: 1000 held open, 5 s upstream`;
  if (!outcome?.ok) {
    return missingRows(outcome, [
      [scenario, 'p50', '<= 1.1x direct'],
      [scenario, 'peak RSS of the relay', `<= ${rssLimitMb} MB`],
    ]);
  }
  const held = outcome.value;
  const scenarioOf = `${label}: ${held.options.requests} held open, ${held.options.upstreamLatencyMs / 1000} s upstream`;
  const of = (t: Target): HeldTarget | undefined => held.targets.find((h) => h.cell.target === t);
  const [pipe, direct, gate] = [of('pipe'), of('direct'), of('imagegate')];
  const p50 = ratioOf(gate?.cell.p50Ms, direct?.cell.p50Ms);
  const peak = gate?.cell.memory?.peakMb ?? null;
  const note = errorsNote([pipe?.cell, direct?.cell, gate?.cell]);
  return [
    {
      scenario: scenarioOf,
      measure: 'p50',
      pipe: seconds(pipe?.cell),
      direct: seconds(direct?.cell),
      imagegate: seconds(gate?.cell),
      ratio: times(p50, 'direct'),
      target: '<= 1.1x direct',
      met: atMost(p50, 1.1),
      note,
    },
    {
      scenario: scenarioOf,
      measure: 'peak RSS of the relay',
      pipe: mb(pipe?.cell.memory?.peakMb),
      direct: NONE,
      imagegate: mb(peak),
      ratio: times(ratioOf(peak, pipe?.cell.memory?.peakMb), 'pipe'),
      target: `<= ${rssLimitMb} MB`,
      met: peak === null ? null : peak <= rssLimitMb,
      note,
    },
  ];
}

function largeRows(outcome: Outcome<LargeResult>): FloorRow[] {
  if (!outcome?.ok) {
    return missingRows(outcome, [
      ['17 MiB answers, c=4', 'p50', '<= 1.3x pipe'],
      ['17 MiB answers, c=4', 'peak RSS of the relay', '<= 2x pipe'],
    ]);
  }
  const { cells, options } = outcome.value;
  const scenario = `${options.answerMiB} MiB answers, c=${options.concurrency}`;
  const [pipe, direct, gate] = (['pipe', 'direct', 'imagegate'] as const).map((t) => find(cells, 'b64_json', t, options.concurrency));
  const p50 = ratioOf(gate?.p50Ms, pipe?.p50Ms);
  const peak = ratioOf(gate?.memory?.peakMb, pipe?.memory?.peakMb);
  const note = errorsNote([pipe, direct, gate]);
  return [
    {
      scenario,
      measure: 'p50',
      pipe: ms(pipe?.p50Ms),
      direct: ms(direct?.p50Ms),
      imagegate: ms(gate?.p50Ms),
      ratio: times(p50, 'pipe'),
      target: '<= 1.3x pipe',
      met: atMost(p50, 1.3),
      note,
    },
    {
      scenario,
      measure: 'peak RSS of the relay',
      pipe: mb(pipe?.memory?.peakMb),
      direct: NONE,
      imagegate: mb(gate?.memory?.peakMb),
      ratio: times(peak, 'pipe'),
      target: '<= 2x pipe',
      met: atMost(peak, 2),
      note,
    },
  ];
}

function partialRows(outcome: Outcome<PartialTimes>): FloorRow[] {
  const scenario = 'first partial image (stream, c=1)';
  if (!outcome?.ok) return missingRows(outcome, [[scenario, 'p50 added over direct', '<= 1.5x pipe']]);
  const p50 = (t: Target): number | null => {
    const list = outcome.value[t];
    return list === undefined || list.length === 0 ? null : percentile(list, 50);
  };
  const [pipe, direct, gate] = [p50('pipe'), p50('direct'), p50('imagegate')];
  const pipeAdded = pipe === null || direct === null ? null : pipe - direct;
  const gateAdded = gate === null || direct === null ? null : gate - direct;
  const r = ratioOf(gateAdded, pipeAdded);
  return [
    {
      scenario,
      measure: 'p50 added over direct',
      pipe: added(pipeAdded),
      direct: `${ms(direct)} p50`,
      imagegate: added(gateAdded),
      ratio: times(r, 'pipe'),
      target: '<= 1.5x pipe',
      met: atMost(r, 1.5),
      note: '',
    },
  ];
}

function uploadsRows(outcome: Outcome<UploadsResult>): FloorRow[] {
  const scenario = '200 concurrent 5 MB uploads (edits)';
  if (!outcome?.ok) {
    return missingRows(outcome, [
      [scenario, 'peak RSS (VmHWM)', '<= 700 MB'],
      [scenario, 'failed requests', 'none'],
    ]);
  }
  const u = outcome.value;
  const statuses = Object.entries(u.statuses)
    .map(([status, n]) => `${n} x ${status}`)
    .join(', ');
  const where = u.upstream === 'demo' ? 'demo channel' : 'simulator upstream';
  const row = { scenario: `${u.concurrency} concurrent 5 MB uploads (edits, ${where})`, pipe: NONE, direct: NONE, ratio: NONE };
  return [
    { ...row, measure: 'peak RSS (VmHWM)', imagegate: mb(u.peakMb), target: '<= 700 MB', met: u.peakMb <= 700, note: `wave ${u.waveS.toFixed(1)} s` },
    { ...row, measure: 'failed requests', imagegate: `${u.failed} of ${u.concurrency}`, target: 'none', met: u.failed === 0, note: statuses },
  ];
}

function startupRows(outcome: Outcome<StartupResult>): FloorRow[] {
  if (!outcome?.ok) {
    return missingRows(outcome, [
      ['start (`node dist/bundle/cli.js serve`)', 'start to /healthz 200', '<= 0.7 s'],
      ['start (`node dist/bundle/cli.js serve`)', 'idle RSS', '<= 140 MB'],
    ]);
  }
  return outcome.value.ways.flatMap((way) => {
    const row = { scenario: `start (\`${way.how}\`)`, pipe: NONE, direct: NONE, ratio: NONE, note: '' };
    return [
      { ...row, measure: 'start to /healthz 200 (median)', imagegate: `${way.healthyS.toFixed(2)} s`, target: '<= 0.7 s', met: way.healthyS <= 0.7 },
      { ...row, measure: 'idle RSS of the serving node (median)', imagegate: mb(way.rssMb), target: '<= 140 MB', met: way.rssMb <= 140 },
    ];
  });
}

/** RSS some time after a wave, over the same process's RSS before it. */
function afterWaveRows(held: Outcome<HeldResult>, uploads: Outcome<UploadsResult>): FloorRow[] {
  const rows: FloorRow[] = [];
  const growth = (before: number | null | undefined, after: number | null | undefined): number | null =>
    before === null || before === undefined || after === null || after === undefined ? null : after - before;
  const text = (before: number | null | undefined, after: number | null | undefined): string => {
    const g = growth(before, after);
    return g === null ? NONE : `${g >= 0 ? '+' : ''}${g.toFixed(0)} MB (${mb(before)} -> ${mb(after)})`;
  };
  if (held?.ok) {
    const of = (t: Target): HeldTarget | undefined => held.value.targets.find((h) => h.cell.target === t);
    const [pipe, gate] = [of('pipe'), of('imagegate')];
    // Held to the RSS once started (no request yet), as bench/uploads.ts's idle is.
    const g = growth(gate?.startRssMb, gate?.settled?.rssMb);
    rows.push({
      scenario: `after the ${held.value.options.requests}-held wave, ~2.7 MiB answers`,
      measure: `RSS ${(gate?.settled?.afterS ?? held.value.options.settleS).toFixed(0)} s after, over idle`,
      pipe: text(pipe?.startRssMb, pipe?.settled?.rssMb),
      direct: NONE,
      imagegate: text(gate?.startRssMb, gate?.settled?.rssMb),
      ratio: NONE,
      target: '<= +100 MB',
      met: g === null ? null : g <= 100,
      note: '',
    });
  } else rows.push(...missingRows(held, [['after the 1000-held wave, ~2.7 MiB answers', 'RSS 60 s after, over idle', '<= +100 MB']]));
  if (uploads?.ok) {
    const u = uploads.value;
    const g = growth(u.idleMb, u.settled?.rssMb);
    rows.push({
      scenario: `after the ${u.concurrency}-upload wave`,
      measure: `RSS ${u.settled?.atS ?? '?'} s after, over idle`,
      pipe: NONE,
      direct: NONE,
      imagegate: text(u.idleMb, u.settled?.rssMb),
      ratio: NONE,
      target: '<= +100 MB',
      met: g === null ? null : g <= 100,
      note: '',
    });
  } else rows.push(...missingRows(uploads, [['after the 200-upload wave', 'RSS 60 s after, over idle', '<= +100 MB']]));
  return rows;
}

export function floorRows(r: FloorResults): FloorRow[] {
  return [
    ...cellRows(r.cells),
    ...heldRows(r.heldSmall, '256 px answers', 250),
    ...heldRows(r.heldLarge, '~2.7 MiB answers', 400),
    ...largeRows(r.large),
    ...partialRows(r.partial),
    ...uploadsRows(r.uploads),
    ...startupRows(r.startup),
    ...afterWaveRows(r.heldLarge, r.uploads),
  ];
}

function verdict(row: FloorRow): string {
  const base = row.met === null ? 'n/a' : row.met ? 'met' : '**missed**';
  return row.note === '' ? base : `${base} (${row.note})`;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function floorTable(rows: readonly FloorRow[]): string {
  return [
    '| scenario | measure | pipe | direct | imagegate | imagegate as | target | verdict |',
    '|---|---|--:|--:|--:|--:|--:|---|',
    ...rows.map((r) => `| ${[r.scenario, r.measure, r.pipe, r.direct, r.imagegate, r.ratio, r.target, verdict(r)].map(cell).join(' | ')} |`),
  ].join('\n');
}
