/** One request at a time against the simulator and imagegate child processes: latency tables. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type ChildServer } from './children.js';
import { percentile } from './stats.js';

const servers = join(dirname(fileURLToPath(import.meta.url)), '../servers');

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
  const children: ChildServer[] = [];
  try {
    const sim = await startServer({ name: 'simulator', file: join(servers, 'simulator.ts') });
    children.push(sim);
    const gateway = await startServer({ name: 'imagegate', file: join(servers, 'gateway.ts'), args: [sim.ready.url] });
    children.push(gateway);
    await body({ direct: sim.ready.url, gateway: gateway.ready.url });
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
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
