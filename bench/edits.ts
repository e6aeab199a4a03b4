/**
 * `npm run bench:edits`: image edits (multipart upload of a ~2 MB PNG, b64 answer), measured
 * straight to the simulator and through imagegate, one request at a time. What it shows: the
 * cost of the input layer (multipart read, content checks) and the re-encoded upstream form.
 * Options: --requests N (default 200), --warmup N (default 20).
 */
import { renderNoiseImage } from '../sim/render.js';
import { GATEWAY_API_KEY, UPSTREAM_API_KEY } from './lib/keys.js';
import { latencyReport, measureSequential, sequentialOptions, withSimulatorAndGateway } from './lib/sequential.js';

const opts = sequentialOptions(process.argv.slice(2), { requests: 200, warmup: 20 });
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

await withSimulatorAndGateway(async ({ direct, gateway }) => {
  const straight = await measureSequential(() => edit(direct, UPSTREAM_API_KEY, false), opts);
  const through = await measureSequential(() => edit(gateway, GATEWAY_API_KEY, true), opts);
  const title = `edits, c=1, ${opts.requests} requests, ${(input.length / 1e6).toFixed(2)} MB PNG input, b64 answer`;
  process.stdout.write(latencyReport(title, straight, through));
});
