/**
 * After traffic, once nothing is in flight for a few seconds, the gateway runs one full
 * collection, so the buffers its answers left behind go back (seen by V8's own GC entries,
 * flagged forced); while a request is still in flight, it does not.
 */
import { connect } from 'node:net';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { IDLE_COLLECT_MS } from '../src/http/idle-collect.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { startGateway } from './helpers/gateway.js';

closeAfterEach();

/** Times (performance.now()) of forced full collections in this process from here on. */
function watchForcedCollections(): number[] {
  const at: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number; flags?: number } })[]) {
      const { kind = 0, flags = 0 } = entry.detail ?? {};
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR && (flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0) at.push(entry.startTime);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  afterEach(() => observer.disconnect());
  return at;
}

describe('a full collection when the gateway goes quiet', () => {
  it('comes a few seconds after the last request ends, not while one is still in flight', async () => {
    const forced = watchForcedCollections();
    const gw = later(await startGateway());
    // A request that stays in flight: its headers are in, its body is not (yet).
    const slow = connect(Number(new URL(gw.origin).port), '127.0.0.1');
    onCleanup(async () => void slow.destroy());
    slow.on('error', () => {});
    const body = JSON.stringify({ model: 'gpt-image-2', prompt: 'slow' });
    slow.write(
      `POST /v1/images/generations HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    // Other traffic comes and goes meanwhile.
    const models = await fetch(`${gw.baseURL}/models`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(models.status).toBe(200);
    const quietFrom = performance.now();
    await sleep(IDLE_COLLECT_MS + 1_500);
    expect(forced.filter((t) => t > quietFrom)).toEqual([]);
    // The slow request ends (its body arrives, it is answered, the client leaves): now it is quiet.
    const ended = performance.now();
    slow.end(body);
    await new Promise((resolve) => slow.once('close', resolve));
    await expect.poll(() => forced.filter((t) => t > ended).length, { timeout: IDLE_COLLECT_MS * 4, interval: 200 }).toBeGreaterThan(0);
    const first = forced.find((t) => t > ended) ?? 0;
    expect(first - ended).toBeGreaterThanOrEqual(IDLE_COLLECT_MS - 50);
  }, 60_000);

  it('then hands the freed memory back to the system (glibc malloc_trim), once per quiet spell', async () => {
    const raw: string[] = [];
    const gw = later(await startGateway({}, { logger: pino({ level: 'debug' }, { write: (text: string) => void raw.push(text) }) }));
    const trims = () =>
      raw
        .map((text) => JSON.parse(text) as { msg?: string; rssBeforeMb?: number; rssAfterMb?: number; released?: boolean })
        .filter((l) => l.msg === 'quiet: memory handed back to the system');
    const generate = () =>
      fetch(`${gw.baseURL}/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-image-2', prompt: 'a wave', size: '1024x1024' }),
      });
    const answers = await Promise.all(Array.from({ length: 4 }, generate));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    await Promise.all(answers.map((a) => a.arrayBuffer()));
    await expect.poll(() => trims().length, { timeout: IDLE_COLLECT_MS * 4, interval: 200 }).toBe(1);
    const [trim] = trims();
    expect(typeof trim?.released).toBe('boolean');
    expect(trim?.rssAfterMb).toBeLessThanOrEqual(trim?.rssBeforeMb ?? 0);
    // Quiet without traffic since: no second collection, no second trim.
    await sleep(IDLE_COLLECT_MS + 1_500);
    expect(trims()).toHaveLength(1);
  }, 60_000);
});
