/** Command-line options of `npm run bench -- ...`. */
import { parseArgs } from 'node:util';
import { FORMATS, TARGETS, type Format, type Target } from './http.js';

export interface Options {
  durationS: number;
  warmupS: number;
  /** Each cell's duration is split into this many slices, taking turns with the other targets. */
  rounds: number;
  concurrency: number[];
  formats: Format[];
  targets: Target[];
  /** Directory for a CPU profile of the gateway child; undefined = no profile. */
  profileDir: string | undefined;
  /** The client parses every b64 answer and decodes the image, as an SDK would. */
  clientParse: boolean;
  /** The simulator waits this long before each answer (a stand-in for generation time). */
  upstreamLatencyMs: number;
  /** Where imagegate's data dir (images, SQLite) is made; undefined = the OS temp dir. */
  dataDir: string | undefined;
  /** Side of the simulator's square noise PNG (1024: ~2.17 MB). */
  imageSide: number;
  write: boolean;
}

export const USAGE = `npm run bench -- [options]
  --duration S        measured seconds per cell (default 10; --quick: 3)
  --warmup S          warm-up seconds per cell (default 2; --quick: 1)
  --rounds N          slices per cell, interleaved across targets (default 5; --quick: 3)
  --concurrency LIST  default 1,16
  --formats LIST      default b64_json,url
  --targets LIST      default direct,pipe,imagegate
  --quick             short cells, for a sanity check
  --client-parse      the client JSON-parses each b64 answer and decodes the image (SDK-like,
                      costs the client CPU); default: read and count the bytes only
  --upstream-latency MS  the simulator waits MS before each answer (default 0: pure relay cost;
                      real generations take 10-130 s)
  --data-dir DIR      make imagegate's data dir (stored images, SQLite) under DIR, e.g. /dev/shm
                      to leave the disk out (default: the OS temp dir)
  --image-side PX     the simulator's noise PNG is PX square (default 1024: ~2.17 MB, ~2.9 MB of
                      b64; 64: ~8.6 KB, what a relay costs apart from moving the image)
  --profile DIR       write a CPU profile of the imagegate process to DIR (source-mapped to src/)
  --no-write          do not write bench/results/latest.{json,md}`;

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      concurrency: { type: 'string', default: '1,16' },
      formats: { type: 'string', default: FORMATS.join(',') },
      targets: { type: 'string', default: TARGETS.join(',') },
      quick: { type: 'boolean', default: false },
      'client-parse': { type: 'boolean', default: false },
      profile: { type: 'string' },
      'upstream-latency': { type: 'string', default: '0' },
      'data-dir': { type: 'string' },
      'image-side': { type: 'string', default: '1024' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  return {
    durationS: seconds('--duration', values.duration ?? (values.quick ? '3' : '10')),
    warmupS: seconds('--warmup', values.warmup ?? (values.quick ? '1' : '2')),
    rounds: positiveInt('--rounds', values.rounds ?? (values.quick ? '3' : '5')),
    concurrency: list('--concurrency', values.concurrency).map((v) => positiveInt('--concurrency', v)),
    formats: oneOf('--formats', list('--formats', values.formats), FORMATS),
    targets: oneOf('--targets', list('--targets', values.targets), TARGETS),
    profileDir: values.profile,
    clientParse: values['client-parse'],
    upstreamLatencyMs: seconds('--upstream-latency', values['upstream-latency']),
    dataDir: values['data-dir'],
    imageSide: positiveInt('--image-side', values['image-side']),
    write: !values['no-write'],
  };
}

function seconds(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: '${value}' is not a number of seconds`);
  return n;
}

function list(name: string, value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new Error(`${name}: empty list`);
  return items;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: '${value}' is not a positive integer`);
  return n;
}

function oneOf<T extends string>(name: string, items: string[], allowed: readonly T[]): T[] {
  return items.map((item) => {
    const found = allowed.find((a) => a === item);
    if (found === undefined) throw new Error(`${name}: '${item}' is not one of ${allowed.join(', ')}`);
    return found;
  });
}
