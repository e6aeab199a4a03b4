/** One request at a time against the simulator and imagegate child processes: latency tables. */
import type { Target } from './http.js';
import { rotate } from './load.js';
import { percentile } from './stats.js';
import { withTrio } from './trio.js';

export interface SequentialOptions {
  requests: number;
  warmup: number;
}

/** `--requests N` and `--warmup N` from argv. */
export function sequentialOptions(argv: readonly string[], defaults: SequentialOptions): SequentialOptions {
  const option = (name: string, fallback: number): number => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? Number(argv[at + 1]) : fallback;
  };
  return { requests: option('requests', defaults.requests), warmup: option('warmup', defaults.warmup) };
}

/** Sorted milliseconds of `requests` calls after `warmup` unmeasured ones. */
export async function measureSequential(call: () => Promise<number>, opts: SequentialOptions): Promise<number[]> {
  for (let i = 0; i < opts.warmup; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < opts.requests; i++) times.push(await call());
  return times.sort((a, b) => a - b);
}

/** Starts the simulator and imagegate in front of it, runs `body`, and stops both. */
export async function withSimulatorAndGateway(body: (urls: { direct: string; gateway: string }) => Promise<void>): Promise<void> {
  await withTrio({ targets: ['direct', 'imagegate'], upstreamLatencyMs: 0 }, async ({ processes }) => {
    const url = (target: Target): string => {
      const server = processes.get(target);
      if (server === undefined) throw new Error(`${target} did not start`);
      return server.ready.url;
    };
    await body({ direct: url('direct'), gateway: url('imagegate') });
  });
}

/** A markdown table of p50/p99 and the gateway's added p50, as a ratio too. */
export function latencyReport(title: string, direct: readonly number[], through: readonly number[]): string {
  const row = (name: string, t: readonly number[]) => `| ${name} | ${percentile(t, 50).toFixed(1)} | ${percentile(t, 99).toFixed(1)} |`;
  const p50 = (t: readonly number[]) => percentile(t, 50);
  return [
    title,
    '',
    '| target | p50 ms | p99 ms |',
    '|---|---|---|',
    row('direct (simulator)', direct),
    row('imagegate', through),
    '',
    `imagegate adds ${(p50(through) - p50(direct)).toFixed(1)} ms at p50 (${(p50(through) / p50(direct)).toFixed(2)}x direct)`,
    '',
  ].join('\n');
}

/**
 * Like measureSequential for several targets at once: each is warmed up, then they take turns
 * in `rounds` slices (rotating who goes first), so outside load lands on all of them alike.
 */
export async function measureInterleaved<K>(calls: ReadonlyMap<K, () => Promise<number>>, opts: SequentialOptions, rounds: number): Promise<Map<K, number[]>> {
  const times = new Map<K, number[]>();
  for (const [key, call] of calls) {
    for (let i = 0; i < opts.warmup; i++) await call();
    times.set(key, []);
  }
  const perTurn = Math.max(1, Math.ceil(opts.requests / rounds));
  for (let round = 0; round < rounds; round++) {
    for (const key of rotate([...calls.keys()], round)) {
      const call = calls.get(key);
      const into = times.get(key);
      if (call === undefined || into === undefined) continue;
      for (let i = 0; i < perTurn && into.length < opts.requests; i++) into.push(await call());
    }
  }
  for (const list of times.values()) list.sort((a, b) => a - b);
  return times;
}
