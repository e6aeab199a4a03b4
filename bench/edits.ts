/**
 * `npm run bench:edits`: image edits (multipart upload of a ~2 MB PNG, b64 answer), measured
 * straight to the simulator and through imagegate, one request at a time. What it shows: the
 * cost of the input layer (multipart read, content checks) and the re-encoded upstream form.
 * Options: --requests N (default 200), --warmup N (default 20).
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderNoiseImage } from '../src/simulator/render.js';
import { startServer, type ChildServer } from './lib/children.js';
import { GATEWAY_API_KEY, UPSTREAM_API_KEY } from './lib/keys.js';
import { percentile } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const requests = option('requests', 200);
const warmup = option('warmup', 20);

const input = await renderNoiseImage(1024, 1024);

/** GPT image upstreams answer b64 and refuse response_format; the gateway is asked for b64 explicitly. */
async function edit(origin: string, key: string, gateway: boolean): Promise<number> {
  const form = new FormData();
  form.append('model', 'gpt-image-1');
  form.append('prompt', 'bench edit');
  form.append('size', '1024x1024');
  if (gateway) form.append('response_format', 'b64_json');
  form.append('image', new Blob([input], { type: 'image/png' }), 'input.png');
  const started = performance.now();
  const res = await fetch(`${origin}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${origin} answered ${res.status}: ${Buffer.from(body).toString().slice(0, 200)}`);
  return performance.now() - started;
}

async function measure(origin: string, key: string, gateway: boolean): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await edit(origin, key, gateway);
  const times: number[] = [];
  for (let i = 0; i < requests; i++) times.push(await edit(origin, key, gateway));
  return times.sort((a, b) => a - b);
}

const children: ChildServer[] = [];
try {
  const sim = await startServer({ name: 'simulator', file: join(here, 'servers/simulator.ts') });
  children.push(sim);
  const gateway = await startServer({ name: 'imagegate', file: join(here, 'servers/gateway.ts'), args: [sim.ready.url] });
  children.push(gateway);
  const direct = await measure(sim.ready.url, UPSTREAM_API_KEY, false);
  const through = await measure(gateway.ready.url, GATEWAY_API_KEY, true);
  const row = (name: string, t: number[]) => `| ${name} | ${percentile(t, 50).toFixed(1)} | ${percentile(t, 99).toFixed(1)} |`;
  const p50 = (t: number[]) => percentile(t, 50);
  process.stdout.write(
    [
      `edits, c=1, ${requests} requests, ${(input.length / 1e6).toFixed(2)} MB PNG input, b64 answer`,
      '',
      '| target | p50 ms | p99 ms |',
      '|---|---|---|',
      row('direct (simulator)', direct),
      row('imagegate', through),
      '',
      `imagegate adds ${(p50(through) - p50(direct)).toFixed(1)} ms at p50 (${(p50(through) / p50(direct)).toFixed(2)}x direct)`,
      '',
    ].join('\n'),
  );
} finally {
  await Promise.all(children.map((c) => c.stop()));
}
