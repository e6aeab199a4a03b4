/**
 * `npm run bench:floor`: every target of "At the relay floor" in one run, imagegate beside direct
 * (the simulator) and the bare pipe, and one table of measured values, ratios and verdicts.
 * Writes bench/results/floor.md and floor.json. See bench/README.md.
 *
 * Options: --quick (a sanity check in ~3 minutes: shorter cells, one wave, shorter waits after
 * the waves), --only LIST (of startup,cells,partial,held,large,uploads), --out NAME (write
 * bench/results/NAME.{md,json} instead of floor.*), --no-write. IMAGEGATE_* variables in the
 * environment reach the gateway (e.g. IMAGEGATE_KEEP_B64_IMAGES=false for the pass-through
 * figures); the report names them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { heldMarkdown, measureHeld, type HeldOptions } from './held.js';
import { largeMarkdown, measureLarge, type LargeOptions } from './large.js';
import { closeEndpoints, endpoints, measureCells, type CellOptions } from './lib/cells.js';
import { runStartup, runUploads } from './lib/external.js';
import { floorRows, floorTable, type FloorResults, type Outcome, type PartialTimes } from './lib/floor-targets.js';
import { TARGETS } from './lib/http.js';
import { commit, machine } from './lib/meta.js';
import { cellTable } from './lib/report.js';
import type { SequentialOptions } from './lib/sequential.js';
import { percentile, type Cell } from './lib/stats.js';
import { withTrio } from './lib/trio.js';
import { firstPartialTimes } from './stream.js';

const here = dirname(fileURLToPath(import.meta.url));
const SCENARIOS = ['startup', 'cells', 'partial', 'held', 'large', 'uploads'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Settings {
  cells: Omit<CellOptions, 'targets'>;
  partial: SequentialOptions & { rounds: number };
  held: Omit<HeldOptions, 'imageSide'>;
  large: LargeOptions;
  /** simulator: the relay's memory alone (the demo channel would render edits in the gateway's process). */
  uploads: { concurrency: number; settleS: number; upstream: 'demo' | 'simulator' };
  startup: { runs: number };
}

/** The issue's scenarios; --quick keeps every one, shorter, so each target still gets a figure. */
function settings(quick: boolean): Settings {
  const cellTimes = quick ? { durationS: 2, warmupS: 0.5, rounds: 2 } : { durationS: 10, warmupS: 2, rounds: 5 };
  return {
    cells: { ...cellTimes, concurrency: [1, 16], formats: ['b64_json', 'url'], clientParse: false },
    partial: quick ? { requests: 20, warmup: 3, rounds: 2 } : { requests: 200, warmup: 20, rounds: 5 },
    held: { requests: 1000, upstreamLatencyMs: 5000, rounds: quick ? 1 : 2, settleS: quick ? 10 : 60, warmup: 20 },
    large: { answerMiB: 17, concurrency: 4, ...cellTimes },
    uploads: { concurrency: 200, settleS: quick ? 10 : 60, upstream: 'simulator' },
    startup: { runs: quick ? 2 : 5 },
  };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Seconds each scenario took (servers started and stopped included), for the report. */
const took: Record<string, number> = {};

async function attempt<T>(name: string, run: () => Promise<T>): Promise<Outcome<T>> {
  log(`\n== ${name}`);
  const started = performance.now();
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`${name} failed: ${error}`);
    return { ok: false, error };
  } finally {
    took[name] = Math.round((performance.now() - started) / 1000);
    log(`== ${name}: ${took[name]} s`);
  }
}

/** Sync generations and first partials share one trio (1024 px image, no upstream latency). */
function cellsAndPartial(s: Settings, run: ReadonlySet<Scenario>): Promise<Pick<FloorResults, 'cells' | 'partial'>> {
  return withTrio({ targets: TARGETS, upstreamLatencyMs: 0 }, async (servers) => {
    const eps = endpoints(TARGETS, servers, Math.max(...s.cells.concurrency));
    try {
      const cells = run.has('cells')
        ? await attempt('sync generations, c=1 and c=16', () => measureCells({ ...s.cells, targets: [...TARGETS] }, eps, servers))
        : undefined;
      const partial = run.has('partial')
        ? await attempt(
            'first partial image',
            async (): Promise<PartialTimes> => Object.fromEntries(await firstPartialTimes(servers, s.partial, s.partial.rounds)),
          )
        : undefined;
      return { cells, partial };
    } finally {
      await closeEndpoints(eps);
    }
  });
}

async function measureAll(s: Settings, run: ReadonlySet<Scenario>): Promise<FloorResults> {
  const results: FloorResults = {};
  // First, while nothing of ours runs: it may build dist/ (tsc) before it starts timing.
  if (run.has('startup')) results.startup = await attempt('start-up (bench/startup.ts)', () => runStartup(s.startup.runs));
  if (run.has('cells') || run.has('partial')) {
    const shared = await attempt('servers for sync generations and streams', () => cellsAndPartial(s, run));
    if (shared?.ok) Object.assign(results, shared.value);
    else {
      // The servers did not start: both scenarios share that failure.
      if (run.has('cells')) results.cells = shared;
      if (run.has('partial')) results.partial = shared;
    }
  }
  if (run.has('held')) {
    results.heldSmall = await attempt('held open, 256 px answers', () => measureHeld({ ...s.held, imageSide: 256, settleS: 0 }));
    results.heldLarge = await attempt('held open, ~2.7 MiB answers', () => measureHeld({ ...s.held, imageSide: 1024 }));
  }
  if (run.has('large')) results.large = await attempt(`${s.large.answerMiB} MiB answers`, () => measureLarge(s.large));
  if (run.has('uploads'))
    results.uploads = await attempt('uploads (bench/uploads.ts)', () => runUploads(s.uploads.concurrency, s.uploads.settleS, s.uploads.upstream));
  return results;
}

/** Cores' worth of CPU the rest of the machine used while our cells ran (see bench/README.md). */
function outsideLoad(r: FloorResults): string {
  const cells: Cell[] = [
    ...(r.cells?.ok ? r.cells.value : []),
    ...(r.large?.ok ? r.large.value.cells : []),
    ...[r.heldSmall, r.heldLarge].flatMap((h) => (h?.ok ? h.value.targets.map((t) => t.cell) : [])),
  ];
  const other = cells.flatMap((c) => (c.otherCores === null ? [] : [c.otherCores])).sort((a, b) => a - b);
  if (other.length === 0) return 'not measured';
  return `median ${percentile(other, 50).toFixed(2)}, max ${(other.at(-1) ?? 0).toFixed(2)} cores over ${other.length} cells`;
}

function partialTable(times: PartialTimes): string {
  const rows = TARGETS.flatMap((t) => {
    const list = times[t];
    return list === undefined ? [] : [`| ${t} | ${list.length} | ${percentile(list, 50).toFixed(1)} | ${percentile(list, 99).toFixed(1)} |`];
  });
  return ['| target | streams | p50 ms | p99 ms |', '|---|--:|--:|--:|', ...rows].join('\n');
}

function section<T>(title: string, outcome: Outcome<T>, body: (value: T) => string): string[] {
  if (outcome === undefined) return [];
  return [`### ${title}`, '', outcome.ok ? body(outcome.value) : `Failed:\n\n\`\`\`\n${outcome.error}\n\`\`\``, ''];
}

interface FloorHeader {
  date: string;
  commit: string;
  command: string;
  quick: boolean;
  loadAverage: { start: number[]; end: number[] };
  /** IMAGEGATE_* settings given to the gateway from the environment (bench/servers/gateway.ts passes them on). */
  gatewaySettings: string[];
}

/** The IMAGEGATE_* variables the gateway child inherits, as NAME=value. */
function gatewaySettings(): string[] {
  return Object.entries(process.env)
    .filter(([name, value]) => name.startsWith('IMAGEGATE_') && value !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .sort();
}

function renderFloor(h: FloorHeader, s: Settings, r: FloorResults): string {
  const rows = floorRows(r);
  const measured = rows.filter((row) => row.met !== null);
  const m = machine();
  const load = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' / ');
  return [
    `Run ${h.date} at commit ${h.commit} — \`${h.command}\`${h.quick ? ' (quick: shorter cells, one wave per target, shorter waits after the waves)' : ''}`,
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ${m.os}.`,
    `Gateway settings: ${h.gatewaySettings.length > 0 ? h.gatewaySettings.map((v) => `\`${v}\``).join(', ') : 'defaults'}.`,
    `Outside load: ${outsideLoad(r)}; load average (1/5/15 min) ${load(h.loadAverage.start)} at the start, ${load(h.loadAverage.end)} at the end.`,
    `Took: ${Object.entries(took)
      .map(([name, sec]) => `${name} ${sec} s`)
      .join(', ')}.`,
    '',
    `**${measured.filter((row) => row.met === true).length} of ${measured.length} targets met**${rows.length > measured.length ? ` (${rows.length - measured.length} not measured)` : ''}.`,
    '',
    floorTable(rows),
    '',
    '## Details',
    '',
    ...section(`Sync generations (${s.cells.durationS} s per cell in ${s.cells.rounds} slices, ${s.cells.warmupS} s warm-up)`, r.cells, (cells) =>
      cellTable(cells),
    ),
    ...section(`First partial image (${s.partial.requests} streams per target, taking turns)`, r.partial, partialTable),
    ...section('Held open, 256 px answers', r.heldSmall, heldMarkdown),
    ...section('Held open, ~2.7 MiB answers', r.heldLarge, heldMarkdown),
    ...section('Large answers', r.large, largeMarkdown),
    ...section('Uploads (bench/uploads.ts)', r.uploads, (u) => `\`\`\`\n${u.output.trim()}\n\`\`\``),
    ...section('Start-up (bench/startup.ts)', r.startup, (st) => st.output.trim()),
  ].join('\n');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', default: SCENARIOS.join(',') },
      out: { type: 'string', default: 'floor' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  if (!/^[\w.-]+$/.test(values.out)) throw new Error(`--out: '${values.out}' is not a plain file name`);
  const run = new Set(
    values.only.split(',').map((name) => {
      const found = SCENARIOS.find((s) => s === name.trim());
      if (found === undefined) throw new Error(`--only: '${name}' is not one of ${SCENARIOS.join(', ')}`);
      return found;
    }),
  );
  const s = settings(values.quick);
  // Read before measuring: others may commit while a run of several minutes goes on.
  const started = { date: new Date().toISOString(), commit: commit(), load: os.loadavg() };
  const results = await measureAll(s, run);
  const header: FloorHeader = {
    date: started.date,
    commit: started.commit,
    command: `npm run bench:floor${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    quick: values.quick,
    loadAverage: { start: started.load, end: os.loadavg() },
    gatewaySettings: gatewaySettings(),
  };
  const markdown = renderFloor(header, s, results);
  process.stdout.write(`${markdown}\n`);
  if (!values['no-write']) {
    const dir = join(here, 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${values.out}.md`), `${markdown}\n`);
    await writeFile(
      join(dir, `${values.out}.json`),
      `${JSON.stringify({ ...header, machine: machine(), settings: s, tookSeconds: took, rows: floorRows(results), results }, null, 2)}\n`,
    );
    log(`wrote ${join(dir, `${values.out}.md`)} and ${values.out}.json`);
  }
  const failed = Object.values(results).some((o: Outcome<unknown>) => o !== undefined && !o.ok);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
