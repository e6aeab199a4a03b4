/**
 * `npm run bench:capacity`: the figures docs/deploy.md sizes instances with, measured on this
 * machine against the simulator (each server in its own process):
 *  - tasks per second one instance accepts and completes (new-api async dialect, 1024px images);
 *  - memory per in-flight request: RSS growth with N requests held open by a slow upstream.
 * Options: --tasks N (default 300), --inflight N (default 200).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtServer } from './lib/built.js';
import { startServer, type ChildServer } from './lib/children.js';
import { GATEWAY_API_KEY } from './lib/keys.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const TASKS = option('tasks', 300);
const INFLIGHT = option('inflight', 200);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withServers<T>(latencyMs: number, env: NodeJS.ProcessEnv, body: (gateway: ChildServer) => Promise<T>): Promise<T> {
  const children: ChildServer[] = [];
  try {
    const sim = await startServer({ name: 'simulator', file: join(here, 'servers/simulator.ts'), env: { BENCH_UPSTREAM_LATENCY_MS: String(latencyMs) } });
    children.push(sim);
    const gateway = await startServer({ name: 'imagegate', file: builtServer('gateway'), args: [sim.ready.url], env });
    children.push(gateway);
    return await body(gateway);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

const auth = { authorization: `Bearer ${GATEWAY_API_KEY}`, 'content-type': 'application/json' };

async function tasksPerSecond(): Promise<{ accepted: number; acceptSeconds: number; completeSeconds: number }> {
  return withServers(0, { IMAGEGATE_TASK_WORKERS: '16', IMAGEGATE_TASK_POLL: '100ms' }, async (gateway) => {
    const started = performance.now();
    const ids = await Promise.all(
      Array.from({ length: TASKS }, async (_, i) => {
        const res = await fetch(`${gateway.ready.url}/v1/images/generations`, {
          method: 'POST',
          headers: { ...auth, 'x-new-api-async-task': 'true' },
          body: JSON.stringify({ model: 'gpt-image-2', prompt: `capacity ${i}`, size: '1024x1024' }),
        });
        return ((await res.json()) as { data: { task_id: string } }).data.task_id;
      }),
    );
    const accepted = performance.now();
    const pending = new Set(ids);
    while (pending.size > 0) {
      for (const id of [...pending]) {
        const res = await fetch(`${gateway.ready.url}/v1/images/tasks/${id}`, { headers: auth });
        const status = ((await res.json()) as { data: { status: string } }).data.status;
        if (status === 'succeeded' || status === 'failed') pending.delete(id);
      }
      if (pending.size > 0) await sleep(200);
    }
    return { accepted: ids.length, acceptSeconds: (accepted - started) / 1000, completeSeconds: (performance.now() - started) / 1000 };
  });
}

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function memoryPerRequest(): Promise<{ idleMb: number; peakMb: number; perRequestMb: number }> {
  return withServers(4_000, {}, async (gateway) => {
    // Warm up (JIT, pools), then measure idle.
    await fetch(`${gateway.ready.url}/v1/models`, { headers: auth });
    await sleep(500);
    const idleMb = rssMb(gateway.pid);
    let peakMb = idleMb;
    const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(gateway.pid))), 50);
    await Promise.all(
      Array.from({ length: INFLIGHT }, () =>
        fetch(`${gateway.ready.url}/v1/images/generations`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ model: 'gpt-image-2', prompt: 'held open', size: '1024x1024', response_format: 'b64_json' }),
        }).then((r) => r.arrayBuffer()),
      ),
    );
    clearInterval(sampler);
    return { idleMb, peakMb, perRequestMb: (peakMb - idleMb) / INFLIGHT };
  });
}

const tasks = await tasksPerSecond();
const memory = await memoryPerRequest();
process.stdout.write(
  [
    `tasks: ${tasks.accepted} accepted in ${tasks.acceptSeconds.toFixed(2)} s (${(tasks.accepted / tasks.acceptSeconds).toFixed(0)}/s), all finished in ${tasks.completeSeconds.toFixed(2)} s (${(tasks.accepted / tasks.completeSeconds).toFixed(1)} tasks/s end to end, ~2 MB images, SQLite, 16 workers)`,
    `memory: idle ${memory.idleMb.toFixed(0)} MB, peak ${memory.peakMb.toFixed(0)} MB with ${INFLIGHT} requests in flight (4 s upstream, ~2 MB b64 answers): ${memory.perRequestMb.toFixed(2)} MB per in-flight request`,
    '',
  ].join('\n'),
);
