/** imagegate itself, configured as an operator would: env config, one OpenAI-compatible upstream. */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destination, pino } from 'pino';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { growHeapForTraffic } from '../../src/heap-growth.js';
import { SHARD_NAMES } from '../../src/storage/fs-store.js';
import { GATEWAY_API_KEY, UPSTREAM_API_KEY } from '../lib/keys.js';
import { announceReady, closeOnShutdown, upstreamArg } from './child.js';
import { startProfiler } from './profiler.js';

// As `imagegate serve` runs.
growHeapForTraffic();
const upstream = upstreamArg();
const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
const stopProfiler = profileDir ? await startProfiler(profileDir, 'imagegate') : undefined;
// BENCH_DATA_DIR (from --data-dir) picks where images are written, e.g. /dev/shm to take the
// disk out of the measurement.
const dataDir = await mkdtemp(join(process.env.BENCH_DATA_DIR ?? tmpdir(), 'imagegate-bench-'));
// A data dir in service has its 4,096 shard folders (made in the background after its first
// image, once in its life: 0.5-4 s of kernel CPU on this VM's ext4). Made here first, so that
// one-time cost is not counted as the first cells' CPU per request.
for (const shard of SHARD_NAMES) mkdirSync(join(dataDir, 'images', shard), { recursive: true });
const config = loadConfig({
  // Settings a bench run wants to vary (task workers, limits...) come through as they are.
  ...Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[0].startsWith('IMAGEGATE_') && entry[1] !== undefined)),
  PORT: '0',
  IMAGEGATE_DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  IMAGEGATE_API_KEYS: GATEWAY_API_KEY,
  OPENAI_API_KEY: UPSTREAM_API_KEY,
  OPENAI_BASE_URL: `${upstream.origin}/v1`,
});
// Logs go to stderr: stdout carries only the ready line.
const app = await createApp(config, { logger: pino({ level: config.logLevel }, destination(2)) });
const url = await app.listen();
closeOnShutdown(async () => {
  await app.close();
  await rm(dataDir, { recursive: true, force: true });
  if (stopProfiler) process.stderr.write(`[imagegate] CPU profile: ${await stopProfiler()}\n`);
});
announceReady({ url });
