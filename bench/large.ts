/**
 * Large answers: the simulator answers every generation with a noise PNG sized so the b64
 * answer is --answer-mb MiB (default 17), and a closed loop of --concurrency clients (default 4)
 * keeps asking, direct, through the pipe and through imagegate taking turns. Per target: p50 and
 * the answering process's peak RSS (sampled every ~100 ms, and VmHWM).
 *
 * `npx tsx bench/large.ts [--answer-mb 17] [--concurrency 4] [--duration 10] [--warmup 2] [--rounds 5]`
 */
import { parseArgs } from 'node:util';
import { closeEndpoints, endpoints, measureCells, type CellOptions } from './lib/cells.js';
import { TARGETS } from './lib/http.js';
import { isMain } from './lib/meta.js';
import { cellTable } from './lib/report.js';
import type { Cell } from './lib/stats.js';
import { withTrio } from './lib/trio.js';

export interface LargeOptions {
  answerMiB: number;
  concurrency: number;
  durationS: number;
  warmupS: number;
  rounds: number;
}

export interface LargeResult {
  options: LargeOptions;
  imageSide: number;
  imageBytes: number;
  cells: Cell[];
}

/** The renderNoiseImage PNG costs ~2.07 bytes a pixel (its noise defeats deflate). */
const NOISE_PNG_BYTES_PER_PIXEL = 2.07;

/** The square side whose noise PNG makes a b64 answer of about `mib` MiB (base64: 4 bytes per 3). */
export function sideForAnswer(mib: number): number {
  return Math.round(Math.sqrt((mib * 2 ** 20 * 0.75) / NOISE_PNG_BYTES_PER_PIXEL));
}

export function measureLarge(opts: LargeOptions): Promise<LargeResult> {
  const imageSide = sideForAnswer(opts.answerMiB);
  return withTrio({ targets: TARGETS, upstreamLatencyMs: 0, imageSide }, async (servers) => {
    const eps = endpoints(TARGETS, servers, opts.concurrency);
    const cellOptions: CellOptions = { ...opts, concurrency: [opts.concurrency], formats: ['b64_json'], targets: [...TARGETS], clientParse: false };
    try {
      return { options: opts, imageSide, imageBytes: servers.imageBytes, cells: await measureCells(cellOptions, eps, servers) };
    } finally {
      await closeEndpoints(eps);
    }
  });
}

export function largeMarkdown(result: LargeResult): string {
  const answerMb = (result.imageBytes * 4) / 3 / 2 ** 20;
  return [
    `~${answerMb.toFixed(1)} MiB b64 answers (a ${result.imageBytes} byte, ${result.imageSide} px noise PNG), ` +
      `c=${result.options.concurrency}, ${result.options.durationS} s per target in ${result.options.rounds} slices; ` +
      'peak RSS is the answering process (the simulator for direct):',
    '',
    cellTable(result.cells),
    '',
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      'answer-mb': { type: 'string', default: '17' },
      concurrency: { type: 'string', default: '4' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '5' },
    },
  });
  const result = await measureLarge({
    answerMiB: Number(values['answer-mb']),
    concurrency: Number(values.concurrency),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    rounds: Number(values.rounds),
  });
  process.stdout.write(largeMarkdown(result));
}
