/**
 * `npm run bench:startup`: how long `imagegate serve` takes from spawn to a 200 on /healthz, and
 * how much memory it holds once idle, for each way of starting it:
 *  - `npm start`: npm, then scripts/start.js (the build check, then the bundle in the same process);
 *  - `node dist/bundle/cli.js serve`: the bundle alone;
 *  - `node dist/cli.js serve`: tsc's output unbundled, for comparison (`--only unbundled`);
 *  - `npm run dev`: npm, then tsx's CLI, which runs the sources in a node child of its own;
 *  - `node --import tsx src/cli.ts serve`: the sources through tsx, in one process.
 * Zero configuration (SQLite, the demo channel), a data dir made by one untimed start first, so
 * the timed starts are restarts. RSS is VmRSS of the process that serves; "tree" adds its
 * parents (npm, tsx). Builds dist first when it is missing or stale.
 * Options: --runs N (default 5), --idle MS (wait before reading RSS; default 2000),
 * --only compiled|unbundled|tsx (default all).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/free-port.js';

const root = join(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
};
const RUNS = Number(option('runs') ?? 5);
const IDLE_MS = Number(option('idle') ?? 2000);
const ONLY = option('only');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Way {
  name: string;
  kind: 'compiled' | 'unbundled' | 'tsx';
  command: string;
  args: string[];
}

const WAYS: Way[] = [
  { name: 'npm start', kind: 'compiled', command: npm, args: ['start', '--silent'] },
  { name: 'node dist/bundle/cli.js serve', kind: 'compiled', command: process.execPath, args: ['dist/bundle/cli.js', 'serve'] },
  { name: 'node dist/cli.js serve', kind: 'unbundled', command: process.execPath, args: ['dist/cli.js', 'serve'] },
  { name: 'npm run dev', kind: 'tsx', command: npm, args: ['run', 'dev', '--silent'] },
  { name: 'node --import tsx src/cli.ts serve', kind: 'tsx', command: process.execPath, args: ['--import', 'tsx', 'src/cli.ts', 'serve'] },
];

interface Sample {
  healthyMs: number;
  rssMb: number;
  treeRssMb: number;
  processes: number;
}

/** The pid and every descendant of it, read from /proc. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (const task of safeList(`/proc/${pid}/task`)) {
    const children = safeRead(`/proc/${pid}/task/${task}/children`).trim();
    for (const child of children ? children.split(/\s+/).map(Number) : []) out.push(...processTree(child));
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(safeRead(`/proc/${pid}/status`));
  return match ? Number(match[1]) : 0;
}

function isNode(pid: number): boolean {
  const argv0 = safeRead(`/proc/${pid}/cmdline`).split('\0')[0] ?? '';
  return argv0 === process.execPath || /(^|\/)node$/.test(argv0);
}

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  // The child leads a process group of its own (detached), so npm's and tsx's children stop too.
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function startOnce(way: Way, dataDir: string, measure: boolean): Promise<Sample> {
  const port = await freePort();
  const { OPENAI_API_KEY: _k, OPENAI_BASE_URL: _b, IMAGEGATE_CONFIG: _c, DATABASE_URL: _d, REDIS_URL: _r, IMAGEGATE_S3_BUCKET: _s, ...env } = process.env;
  const started = performance.now();
  const child = spawn(way.command, way.args, {
    cwd: root,
    env: { ...env, PORT: String(port), IMAGEGATE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    while (!(await healthy(port))) {
      if (child.exitCode !== null) throw new Error(`${way.name} exited (${child.exitCode}):\n${stderr}`);
      if (performance.now() - started > 60_000) throw new Error(`${way.name}: not healthy within 60 s:\n${stderr}`);
      await sleep(5);
    }
    const healthyMs = performance.now() - started;
    if (!measure || child.pid === undefined) return { healthyMs, rssMb: 0, treeRssMb: 0, processes: 0 };
    await sleep(IDLE_MS);
    const tree = processTree(child.pid);
    // The serving process is the deepest node process (npm and tsx's CLI are its parents).
    const serving = [...tree].reverse().find(isNode) ?? child.pid;
    const treeKb = tree.reduce((sum, pid) => sum + rssKb(pid), 0);
    return { healthyMs, rssMb: rssKb(serving) / 1024, treeRssMb: treeKb / 1024, processes: tree.length };
  } finally {
    await stop(child);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const range = (values: number[], digits: number) => `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;

async function main(): Promise<void> {
  const ways = WAYS.filter((w) => ONLY === undefined || w.kind === ONLY);
  // Built before timing, so that no timed `npm start` compiles.
  if (ways.some((w) => w.kind !== 'tsx')) execFileSync(process.execPath, [join(root, 'scripts', 'ensure-build.js')], { cwd: root, stdio: 'inherit' });
  const rows: string[] = [];
  for (const way of ways) {
    const dataDir = mkdtempSync(join(tmpdir(), 'imagegate-startup-'));
    try {
      await startOnce(way, dataDir, false); // migrates and makes the first key: not a restart
      const samples: Sample[] = [];
      for (let i = 0; i < RUNS; i++) samples.push(await startOnce(way, dataDir, true));
      const ms = samples.map((s) => s.healthyMs);
      const rss = samples.map((s) => s.rssMb);
      const tree = samples.map((s) => s.treeRssMb);
      const row = `| \`${way.name}\` | ${(median(ms) / 1000).toFixed(2)} s (${range(
        ms.map((v) => v / 1000),
        2,
      )}) | ${median(rss).toFixed(0)} MB (${range(rss, 0)}) | ${median(tree).toFixed(0)} MB, ${samples[0]?.processes ?? 0} processes |`;
      rows.push(row);
      process.stderr.write(`${row}\n`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  process.stdout.write(
    [
      `start to healthy and idle RSS, ${RUNS} restarts each (median, range); RSS read ${IDLE_MS} ms after healthy`,
      '',
      '| how | start to /healthz 200 | RSS of the serving node | whole tree |',
      '|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  );
}

await main();
