/**
 * `npm run bench`: sync generations with a ~2 MB PNG per answer, measured straight to the
 * simulator, through a bare node:http pipe, and through imagegate. See bench/README.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeEndpoints, endpoints, measureCells } from './lib/cells.js';
import type { ChildServer } from './lib/children.js';
import type { Endpoint, Target } from './lib/http.js';
import { commit, machine } from './lib/meta.js';
import { parseOptions, USAGE, type Options } from './lib/options.js';
import { renderMarkdown, type RunReport } from './lib/report.js';
import { latencyDerived, throughputDerived, type Cell } from './lib/stats.js';
import { startTrio } from './lib/trio.js';

const here = dirname(fileURLToPath(import.meta.url));

const log = (line: string): void => void process.stderr.write(`${line}\n`);

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
    const servers = await startTrio(opts, children);
    eps = endpoints(opts.targets, servers, Math.max(...opts.concurrency));
    const cells = await measureCells(opts, eps, servers);
    const report = buildReport(opts, argv, cells, servers.imageBytes);
    const markdown = renderMarkdown(report);
    process.stdout.write(`${markdown}\n`);
    if (opts.write) await writeResults(report, markdown);
    return cells.some((c) => c.errors > 0) ? 1 : 0;
  } finally {
    await closeEndpoints(eps);
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
