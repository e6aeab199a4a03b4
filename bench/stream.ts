/**
 * `npm run bench:stream`: time to the first partial image of a streamed generation
 * (`stream: true, partial_images: 2`, ~2 MB images), straight to the simulator and through
 * imagegate, one request at a time; the whole stream is read each time.
 * Options: --requests N (default 200), --warmup N (default 20).
 * bench/floor.ts measures the same through the bare pipe too (firstPartialTimes).
 */
import { apiKey, type Target } from './lib/http.js';
import { GATEWAY_API_KEY, UPSTREAM_API_KEY } from './lib/keys.js';
import { isMain } from './lib/meta.js';
import { latencyReport, measureInterleaved, measureSequential, sequentialOptions, withSimulatorAndGateway, type SequentialOptions } from './lib/sequential.js';
import type { Servers } from './lib/trio.js';

const FIRST_PARTIAL = Buffer.from('event: image_generation.partial_image');
const EVENT_END = Buffer.from('\n\n');

/**
 * Milliseconds until the first partial image has fully arrived (its event's closing blank line):
 * a client can show it only then. The rest of the stream is drained.
 */
export async function firstPartial(origin: string, key: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${origin}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-image-2', prompt: 'bench stream', size: '1024x1024', stream: true, partial_images: 2 }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`${origin} answered ${res.status}: ${await res.text()}`);
  let firstAt: number | undefined;
  let inFirst = false;
  let seen = Buffer.alloc(0);
  for await (const chunk of res.body) {
    if (firstAt !== undefined) continue;
    // Keep only a short tail: enough to find the marker or the blank line across chunk edges.
    seen = Buffer.concat([seen.subarray(-FIRST_PARTIAL.length), Buffer.from(chunk)]);
    if (!inFirst) {
      const at = seen.indexOf(FIRST_PARTIAL);
      if (at < 0) continue;
      inFirst = true;
      seen = seen.subarray(at + FIRST_PARTIAL.length);
    }
    if (seen.includes(EVENT_END)) firstAt = performance.now() - started;
  }
  if (firstAt === undefined) throw new Error(`${origin} streamed no partial image`);
  return firstAt;
}

/** The floor's cell: every target of a running trio, taking turns; sorted ms per target. */
export function firstPartialTimes(servers: Servers, opts: SequentialOptions, rounds: number): Promise<Map<Target, number[]>> {
  const calls = new Map<Target, () => Promise<number>>();
  for (const [target, server] of servers.processes) calls.set(target, () => firstPartial(server.ready.url, apiKey(target)));
  return measureInterleaved(calls, opts, rounds);
}

if (isMain(import.meta.url)) {
  const opts = sequentialOptions(process.argv.slice(2), { requests: 200, warmup: 20 });
  await withSimulatorAndGateway(async ({ direct, gateway }) => {
    const straight = await measureSequential(() => firstPartial(direct, UPSTREAM_API_KEY), opts);
    const through = await measureSequential(() => firstPartial(gateway, GATEWAY_API_KEY), opts);
    process.stdout.write(
      latencyReport(`time to the first partial image (fully received), c=1, ${opts.requests} streams of 2 partials + 1 image (~2 MB each)`, straight, through),
    );
  });
}
