/**
 * `npm run bench:uploads`: a wave of concurrent image edits, each uploading a ~5 MB PNG, against
 * imagegate in a child process, and what it does to the gateway's memory: peak RSS (VmHWM)
 * during the wave, and RSS after it, sampled every 10 s until --settle seconds.
 *
 * Options: --concurrency N (default 200), --size-mb MB (default 5), --body multipart|json
 * (json: the image as a base64 data URI), --settle S (default 60), --budget SIZE (sets
 * IMAGEGATE_MEMORY_BUDGET, e.g. 256mb; default: the gateway's own default), --upstream
 * demo|simulator (demo: the built-in demo channel, in the gateway's process, no delay;
 * simulator: the OpenAI simulator in a process of its own, so only the gateway is measured).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { renderNoiseImage } from '../sim/render.js';
import { spawnGateway } from '../test/helpers/child-gateway.js';
import { startServer } from './lib/children.js';
import { GATEWAY_API_KEY, UPSTREAM_API_KEY } from './lib/keys.js';
import { memoryPeak, rssMb } from './lib/memory.js';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '200' },
    'size-mb': { type: 'string', default: '5' },
    body: { type: 'string', default: 'multipart' },
    settle: { type: 'string', default: '60' },
    budget: { type: 'string' },
    upstream: { type: 'string', default: 'demo' },
  },
});
const concurrency = Number(values.concurrency);
const settleS = Number(values.settle);
const asJson = values.body === 'json';
if (!asJson && values.body !== 'multipart') throw new Error(`--body: '${values.body}' is not one of multipart, json`);
if (values.upstream !== 'demo' && values.upstream !== 'simulator') throw new Error(`--upstream: '${values.upstream}' is not one of demo, simulator`);

/** Noise defeats deflate: a square of side s is about 2.07 * s^2 bytes as a PNG. */
const side = Math.round(Math.sqrt((Number(values['size-mb']) * 1e6) / 2.07));
const image = await renderNoiseImage(side, side);
const dataUri = asJson ? `data:image/png;base64,${image.toString('base64')}` : '';

function body(): { payload: Buffer | FormData; headers: Record<string, string> } {
  if (asJson) {
    const json = JSON.stringify({
      model: 'gpt-image-1',
      prompt: 'bench upload',
      size: '1024x1024',
      response_format: 'b64_json',
      images: [{ image_url: dataUri }],
    });
    return { payload: Buffer.from(json), headers: { 'content-type': 'application/json' } };
  }
  const form = new FormData();
  form.append('model', 'gpt-image-1');
  form.append('prompt', 'bench upload');
  form.append('size', '1024x1024');
  form.append('response_format', 'b64_json');
  form.append('image', new Blob([image], { type: 'image/png' }), 'input.png');
  return { payload: form, headers: {} };
}

const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-uploads-'));
const simulator =
  values.upstream === 'simulator' ? await startServer({ name: 'simulator', file: join(import.meta.dirname, 'servers', 'simulator.ts') }) : undefined;
const gateway = await spawnGateway({
  IMAGEGATE_DATA_DIR: dataDir,
  IMAGEGATE_DEMO_DELAY: '0',
  IMAGEGATE_API_KEYS: GATEWAY_API_KEY,
  ...(simulator ? { OPENAI_API_KEY: UPSTREAM_API_KEY, OPENAI_BASE_URL: `${simulator.ready.url}/v1` } : {}),
  ...(values.budget ? { IMAGEGATE_MEMORY_BUDGET: values.budget } : {}),
});
const pid = gateway.child.pid;
if (pid === undefined) throw new Error('the gateway has no pid');
// One connection per request, as that many separate clients would open.
const agent = new Agent({ connections: concurrency + 8, bodyTimeout: 600_000, headersTimeout: 600_000 });

try {
  const idle = rssMb(pid);
  const statuses = new Map<string, number>();
  const started = performance.now();
  const stopWatching = memoryPeak(pid);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const { payload, headers } = body();
      let key: string;
      try {
        const res = await request(`${gateway.origin}/v1/images/edits`, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: `Bearer ${GATEWAY_API_KEY}`, ...headers },
          body: payload,
        });
        const text = await res.body.text();
        const code = res.statusCode === 200 ? '' : ` ${String((JSON.parse(text) as { error?: { code?: unknown } }).error?.code)}`;
        key = `${res.statusCode}${code}${res.statusCode === 503 ? ` (Retry-After ${String(res.headers['retry-after'])})` : ''}`;
      } catch (err) {
        key = `failed: ${(err as Error).message}`;
      }
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }),
  );
  const waveS = (performance.now() - started) / 1000;
  const peak = await stopWatching();
  const after = rssMb(pid);
  const settled: { atS: number; rssMb: number | null }[] = [];
  for (let at = 10; at <= settleS; at += 10) {
    await new Promise((r) => setTimeout(r, 10_000));
    settled.push({ atS: at, rssMb: rssMb(pid) });
  }
  const mb = (n: number | null) => (n === null ? '?' : `${Math.round(n)} MB`);
  const lines = [
    `${concurrency} concurrent edits, ${(image.length / 1e6).toFixed(2)} MB PNG each (${side}x${side}) as ${asJson ? 'a base64 data URI in JSON' : 'multipart'}, ` +
      `${simulator ? 'simulator upstream (own process)' : 'demo channel'}` +
      `${values.budget ? `, IMAGEGATE_MEMORY_BUDGET=${values.budget}` : ''}`,
    '',
    `answers: ${[...statuses].map(([status, n]) => `${n} x ${status}`).join(', ')}; wave took ${waveS.toFixed(1)} s`,
    `gateway RSS: idle ${mb(idle)}, peak ${mb(peak.hwmMb ?? peak.peakMb)} (${peak.hwmMb === null ? 'sampled' : 'VmHWM'}), right after the wave ${mb(after)}`,
    `RSS after the wave: ${settled.map((s) => `${s.atS} s ${mb(s.rssMb)}`).join(', ')}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
} finally {
  await agent.close();
  await gateway.stop();
  await simulator?.stop();
  await rm(dataDir, { recursive: true, force: true });
}
