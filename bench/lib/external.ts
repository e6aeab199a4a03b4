/**
 * bench/uploads.ts and bench/startup.ts, run as they are (each its own script, with its own
 * gateway processes), their printed results read back for the floor's table. Their output is
 * the interface: a format change there fails here loudly instead of reading wrong numbers.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `bench/<file>` under tsx; resolves with its stdout (its stderr goes to ours). */
function runScript(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(bench, file), ...args], { cwd: join(bench, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`bench/${file} exited (code ${String(code)}, signal ${String(signal)}):\n${out}`));
    });
  });
}

function match(text: string, pattern: RegExp, what: string): RegExpExecArray {
  const found = pattern.exec(text);
  if (found === null) throw new Error(`could not read ${what} from:\n${text}`);
  return found;
}

export interface UploadsResult {
  concurrency: number;
  /** Where the edits go: the demo channel inside the gateway, or the simulator in a process of its own. */
  upstream: 'demo' | 'simulator';
  /** Answer status (with error code) -> how many. */
  statuses: Record<string, number>;
  /** Answers other than 200, transport failures included. */
  failed: number;
  waveS: number;
  idleMb: number;
  /** VmHWM over the wave. */
  peakMb: number;
  /** RSS some seconds after the wave, the last reading. */
  settled: { atS: number; rssMb: number } | null;
  output: string;
}

export async function runUploads(concurrency: number, settleS: number, upstream: UploadsResult['upstream']): Promise<UploadsResult> {
  const output = await runScript('uploads.ts', ['--concurrency', String(concurrency), '--settle', String(settleS), '--upstream', upstream]);
  const [, answers = '', wave = ''] = match(output, /^answers: (.*); wave took ([\d.]+) s$/m, 'the answers');
  const statuses: Record<string, number> = {};
  for (const part of answers.split(', ')) {
    const [, n = '', status = ''] = match(part, /^(\d+) x (.*)$/, 'an answer count');
    statuses[status] = (statuses[status] ?? 0) + Number(n);
  }
  // "peak (VmHWM) N MB" or "peak N MB (VmHWM)": both wordings have been printed.
  const [, idle = '', peak = ''] = match(output, /^gateway RSS: idle (\d+) MB, peak (?:\(VmHWM\) )?(\d+) MB/m, 'the RSS line');
  const after = [...(/^RSS after the wave: (.*)$/m.exec(output)?.[1] ?? '').matchAll(/(\d+) s (\d+) MB/g)].at(-1);
  const failed = Object.entries(statuses).reduce((sum, [status, n]) => (status === '200' ? sum : sum + n), 0);
  return {
    concurrency,
    upstream,
    statuses,
    failed,
    waveS: Number(wave),
    idleMb: Number(idle),
    peakMb: Number(peak),
    settled: after ? { atS: Number(after[1]), rssMb: Number(after[2]) } : null,
    output,
  };
}

export interface StartupWay {
  /** How it was started, e.g. `node dist/cli.js serve`. */
  how: string;
  /** Medians over the runs. */
  healthyS: number;
  rssMb: number;
}

export interface StartupResult {
  ways: StartupWay[];
  output: string;
}

/** The compiled ways only (`npm start`, `node dist/bundle/cli.js serve`): how it runs in production. */
export async function runStartup(runs: number): Promise<StartupResult> {
  const output = await runScript('startup.ts', ['--runs', String(runs), '--only', 'compiled']);
  const ways = [...output.matchAll(/^\| `([^`]+)` \| ([\d.]+) s \([^)]*\) \| (\d+) MB/gm)].map((m) => ({
    how: m[1] ?? '',
    healthyS: Number(m[2]),
    rssMb: Number(m[3]),
  }));
  if (ways.length === 0) throw new Error(`could not read any start-up row from:\n${output}`);
  return { ways, output };
}
