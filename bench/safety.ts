/**
 * `npm run bench:safety`: what the content-safety check costs (src/safety/: nsfwjs MobileNetV2Mid on
 * TensorFlow.js' WASM backend, in worker threads).
 *
 * 1. The classifier alone, in this process (from the sources, as tests run it; its worker is plain
 *    TensorFlow.js either way): the first answer of a new pool (worker start and model load), the
 *    latency of one 1024 px image at a time (p50/p99, the downscale included, and the downscale
 *    alone), throughput with 1 and with 2 workers (a closed loop of 2 callers per worker), and this
 *    process's RSS before the pool, with 1 and 2 workers up, and after close().
 * 2. Through the gateway (child processes: the OpenAI simulator answering a fixed 2.17 MB noise PNG,
 *    and two gateways in front of it, b64 answers): one with every check off, one with
 *    IMAGEGATE_SAFETY_MODE=block, their generations interleaved; the first checked generation (the
 *    pool's start) on its own; the checking gateway's RSS before and after its pool started.
 *    IMAGEGATE_SAFETY_WORKERS is passed on to the gateways. The operator's mode rather than a caller's
 *    `nsfw_checker: true`, which checks the same way: one request body for both gateways.
 *
 * Options: --images N (timed images per latency row and per throughput run; default 100), --warmup N
 * (default 10), --requests N (per gateway row; default 60), --only classifier|gateway, --no-write.
 * Writes bench/results/safety.md unless --no-write.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { renderNoiseImage } from '../sim/render.js';
import { drawPrompt } from '../src/providers/demo/render.js';
import { createNsfwClassifier, type NsfwClassifier, type NsfwClassifierOptions } from '../src/safety/nsfw-classifier.js';
import { downscaleForNsfw } from '../src/safety/nsfw-input.js';
import { GATEWAY_API_KEY } from './lib/keys.js';
import { rssMb } from './lib/memory.js';
import { commit, machine } from './lib/meta.js';
import { measureInterleaved } from './lib/sequential.js';
import { percentile } from './lib/stats.js';
import { withTrio } from './lib/trio.js';
import { builtServer } from './lib/built.js';
import { startServer } from './lib/children.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const IMAGES = option('images', 100);
const WARMUP = option('warmup', 10);
const REQUESTS = option('requests', 60);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const write = !argv.includes('--no-write');

const ms = (v: number) => v.toFixed(1);
const mb = (v: number | null) => (v === null ? '-' : v.toFixed(0));
const p = (sorted: readonly number[], q: number) => ms(percentile(sorted, q));
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** The machine's load averages (1, 5, 15 minutes), the bench's own work included. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');
  } catch {
    return 'unknown';
  }
}

async function timed<T>(work: () => Promise<T>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Sorted milliseconds of `count` calls, after `warmup` untimed ones. */
async function sequential(call: () => Promise<unknown>, count: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await timed(call));
  return sorted(times);
}

/** Images per second of `count` images classified by `callers` concurrent callers. */
async function throughput(classifier: NsfwClassifier, image: Buffer, callers: number, count: number): Promise<number> {
  let left = count;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (left-- > 0) await classifier.classify(image);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const complain = (fields: object, message?: string) => process.stderr.write(`[safety] ${message ?? JSON.stringify(fields)}\n`);

/** A classifier whose workers report their start (spawn to ready) and model load times. */
function classifierWithStartTimes(workers: number): { classifier: NsfwClassifier; starts: { startMs: number; loadMs: number }[] } {
  const starts: { startMs: number; loadMs: number }[] = [];
  const log: NonNullable<NsfwClassifierOptions['log']> = {
    info: (fields: object) => {
      if ('startMs' in fields && 'loadMs' in fields) starts.push({ startMs: Number(fields.startMs), loadMs: Number(fields.loadMs) });
    },
    warn: complain,
    error: complain,
    debug: () => {},
  };
  return { classifier: createNsfwClassifier({ workers, log }), starts };
}

async function classifierSection(): Promise<string> {
  const demo = await drawPrompt({ width: 1024, height: 1024, format: 'png', transparent: false }, 'A red bicycle, studio light', 0);
  const noise = await renderNoiseImage(1024, 1024);
  // sharp loaded and warm before the baseline: its memory is the gateway's already, not the pool's.
  const downscaleDemo = await sequential(() => downscaleForNsfw(demo), IMAGES, WARMUP);
  const downscaleNoise = await sequential(() => downscaleForNsfw(noise), IMAGES, WARMUP);
  const rssBefore = rssMb(process.pid);

  const one = classifierWithStartTimes(1);
  const firstMs = await timed(() => one.classifier.classify(demo));
  const rssOne = rssMb(process.pid);
  const demoLatency = await sequential(() => one.classifier.classify(demo), IMAGES, WARMUP);
  const noiseLatency = await sequential(() => one.classifier.classify(noise), IMAGES, WARMUP);
  const oneWorker = await throughput(one.classifier, demo, 2, IMAGES);
  await one.classifier.close();
  const rssClosed = rssMb(process.pid);

  const two = classifierWithStartTimes(2);
  // Both workers started (two callers at once) before the throughput run.
  await Promise.all([two.classifier.classify(demo), two.classifier.classify(demo)]);
  const rssTwo = rssMb(process.pid);
  await throughput(two.classifier, demo, 4, WARMUP);
  const twoWorkers = await throughput(two.classifier, demo, 4, IMAGES);
  await two.classifier.close();

  const start = one.starts[0];
  return [
    '### The classifier alone',
    '',
    `First answer of a new pool (1 worker): ${ms(firstMs)} ms, of which the worker's start took ${start ? `${start.startMs} ms (the backend and model after its imports: ${start.loadMs} ms)` : 'an unknown share'}; with 2 workers: ${two.starts.map((s) => `${s.startMs} ms`).join(', ')}.`,
    '',
    `One image at a time, 1 worker, ${IMAGES} images after ${WARMUP} untimed:`,
    '',
    '| 1024x1024 PNG | bytes | classify p50 ms | classify p99 ms | of which downscale p50 / p99 ms |',
    '|---|--:|--:|--:|--:|',
    `| the demo channel's (a prompt on bands) | ${demo.length} | ${p(demoLatency, 50)} | ${p(demoLatency, 99)} | ${p(downscaleDemo, 50)} / ${p(downscaleDemo, 99)} |`,
    `| noise (the relay benches' image) | ${noise.length} | ${p(noiseLatency, 50)} | ${p(noiseLatency, 99)} | ${p(downscaleNoise, 50)} / ${p(downscaleNoise, 99)} |`,
    '',
    `Throughput (the demo PNG, ${IMAGES} images, 2 callers per worker): 1 worker ${oneWorker.toFixed(1)} images/s, 2 workers ${twoWorkers.toFixed(1)} images/s.`,
    '',
    `RSS of this process: ${mb(rssBefore)} MB before the pool (sharp loaded), ${mb(rssOne)} MB with 1 worker up, ${mb(rssClosed)} MB after close(), ${mb(rssTwo)} MB with 2 workers up.`,
    '',
  ].join('\n');
}

async function gatewaySection(): Promise<string> {
  if (process.env.IMAGEGATE_SAFETY_MODE) throw new Error('unset IMAGEGATE_SAFETY_MODE: the bench starts one gateway with the check off and one with it on');
  let section = '';
  await withTrio({ targets: ['direct', 'imagegate'], upstreamLatencyMs: 0 }, async ({ processes }) => {
    const simulator = processes.get('direct');
    const unchecked = processes.get('imagegate');
    if (simulator === undefined || unchecked === undefined) throw new Error('the simulator or imagegate did not start');
    // A second gateway on the same upstream, checking every image (the operator's policy; a caller's nsfw_checker does the same).
    const checked = await startServer({
      name: 'imagegate (check on)',
      file: builtServer('gateway'),
      args: [simulator.ready.url],
      env: { IMAGEGATE_SAFETY_MODE: 'block' },
    });
    try {
      const generate = (gateway: string) => async (): Promise<number> => {
        const started = performance.now();
        const res = await fetch(`${gateway}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${GATEWAY_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-image-2', prompt: 'bench', size: '1024x1024', response_format: 'b64_json' }),
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${gateway} answered ${res.status}: ${text.slice(0, 300)}`);
        return performance.now() - started;
      };
      const off = generate(unchecked.ready.url);
      const on = generate(checked.ready.url);
      const rssIdle = rssMb(checked.pid);
      const firstOn = await on();
      const rssUp = rssMb(checked.pid);
      const times = await measureInterleaved(
        new Map([
          ['off', off],
          ['on', on],
        ]),
        { requests: REQUESTS, warmup: WARMUP },
        5,
      );
      const offTimes = times.get('off') ?? [];
      const onTimes = times.get('on') ?? [];
      const poolStarted = rssIdle !== null && rssUp !== null && rssUp - rssIdle > 50;
      section = [
        '### Through the gateway',
        '',
        `gpt-image-2, 1024x1024, b64_json, the simulator's fixed noise PNG; two gateways on it, one with every check off, one with ` +
          `IMAGEGATE_SAFETY_MODE=block (each image scored before it is delivered; pool: IMAGEGATE_SAFETY_WORKERS=${process.env.IMAGEGATE_SAFETY_WORKERS ?? '1, the default'}); ` +
          `${REQUESTS} generations each, interleaved in 5 turns after ${WARMUP} untimed.`,
        '',
        '| check | p50 ms | p99 ms |',
        '|---|--:|--:|',
        `| off | ${p(offTimes, 50)} | ${p(offTimes, 99)} |`,
        `| on | ${p(onTimes, 50)} | ${p(onTimes, 99)} |`,
        `| added by the check | ${ms(percentile(onTimes, 50) - percentile(offTimes, 50))} | ${ms(percentile(onTimes, 99) - percentile(offTimes, 99))} |`,
        '',
        `The first checked generation, which starts the pool: ${ms(firstOn)} ms. RSS of the checking gateway: ${mb(rssIdle)} MB before its first check, ${mb(rssUp)} MB once its pool is up.` +
          (poolStarted ? '' : ' **Its RSS did not grow: the check may not have run.**'),
        '',
      ].join('\n');
    } finally {
      await checked.stop();
    }
  });
  return section;
}

const loadAtStart = loadAverage();
const sections: string[] = [];
if (only === undefined || only === 'classifier') sections.push(await classifierSection());
if (only === undefined || only === 'gateway') sections.push(await gatewaySection());
const m = machine();
const report = [
  `Run ${new Date().toISOString()} at commit ${commit()} — \`npm run bench:safety ${argv.join(' ')}\``.trimEnd(),
  `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ${m.os}. Load average (1, 5, 15 min) at the start: ${loadAtStart}; at the end: ${loadAverage()}.`,
  '',
  ...sections,
].join('\n');
process.stdout.write(report);
if (write) {
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'safety.md'), report);
}
