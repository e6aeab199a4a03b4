/**
 * The three targets of every relay measurement, each in its own process: the simulator (direct),
 * and the bare pipe and imagegate in front of it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtServer } from './built.js';
import { startServer, type ChildServer } from './children.js';
import type { Target } from './http.js';

const servers = join(dirname(fileURLToPath(import.meta.url)), '../servers');

export interface TrioOptions {
  targets: readonly Target[];
  /** The simulator waits this long before each answer (a stand-in for generation time). */
  upstreamLatencyMs: number;
  /** Side of the simulator's square noise PNG (default 1024: ~2.17 MB, a ~2.9 MB b64 answer). */
  imageSide?: number;
  /** Where imagegate's data dir is made; undefined = the OS temp dir. */
  dataDir?: string | undefined;
  /** Directory for a CPU profile of imagegate; undefined = none. */
  profileDir?: string | undefined;
}

export interface Servers {
  /** The process answering each target; direct is the simulator. */
  processes: Map<Target, ChildServer>;
  imageBytes: number;
  /**
   * The `size` requests ask for: '1024x1024' for the default image, else 'auto' (imagegate
   * resizes an answer of another size than asked, which is not what a relay measurement wants).
   */
  requestSize: string;
}

/**
 * The simulator first (the others need its address), then pipe and gateway side by side. Every
 * child started is pushed on `children`, for the caller to stop, also when a later one fails.
 */
export async function startTrio(opts: TrioOptions, children: ChildServer[]): Promise<Servers> {
  const sim = await startServer({
    name: 'simulator',
    file: join(servers, 'simulator.ts'),
    env: { BENCH_UPSTREAM_LATENCY_MS: String(opts.upstreamLatencyMs), BENCH_IMAGE_SIDE: String(opts.imageSide ?? 1024) },
  });
  children.push(sim);
  const imageBytes = sim.ready.imageBytes;
  if (imageBytes === undefined) throw new Error('simulator did not report imageBytes');
  const processes = new Map<Target, ChildServer>([['direct', sim]]);
  const relays: Promise<void>[] = [];
  const startRelay = (target: Target, file: string, env: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []): void => {
    if (!opts.targets.includes(target)) return;
    const started = startServer({ name: target, file, args: [sim.ready.url], env, nodeFlags });
    relays.push(
      started.then((child) => {
        children.push(child);
        processes.set(target, child);
      }),
    );
  };
  startRelay('pipe', builtServer('pipe'));
  // Profiled from the sources (tsx), so the profile's frames are positions in them.
  startRelay(
    'imagegate',
    opts.profileDir ? join(servers, 'gateway.ts') : builtServer('gateway'),
    {
      ...(opts.profileDir ? { BENCH_CPU_PROFILE_DIR: opts.profileDir } : {}),
      ...(opts.dataDir ? { BENCH_DATA_DIR: opts.dataDir } : {}),
    },
    (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
  );
  // allSettled: when one fails, the other is still registered in `children` and gets stopped.
  const failed = (await Promise.allSettled(relays)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const side = opts.imageSide ?? 1024;
  return { processes, imageBytes, requestSize: side === 1024 ? '1024x1024' : 'auto' };
}

/** Starts a trio, runs `body`, and stops every child it started, on error too. */
export async function withTrio<T>(opts: TrioOptions, body: (servers: Servers) => Promise<T>): Promise<T> {
  const children: ChildServer[] = [];
  try {
    return await body(await startTrio(opts, children));
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}
