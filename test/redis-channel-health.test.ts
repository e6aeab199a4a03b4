/**
 * Channel health in Redis, against the in-memory versions: the Lua breaker answers exactly as
 * CircuitBreakers over a random run; channel slots hold one cap across instances, free a dead
 * instance's slots when their leases run out, and fall back to a per-instance cap without Redis.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { RedisLink } from '../src/redis/redis-link.js';
import { CircuitBreakers, type BreakerSettings, type ChannelBreakers } from '../src/routing/circuit-breaker.js';
import { RedisCircuitBreakers } from '../src/routing/redis-channel-health.js';
import { RedisChannelSlots } from '../src/routing/redis-concurrency.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { clock } from './helpers/rate-limit-kit.js';
import { createTestRedis, deleteKeys, REDIS_URL, redisAvailable, testKeyPrefix } from './helpers/redis.js';
import { seededRandom } from './helpers/seeded-random.js';

const runRedis = await redisAvailable();
const PREFIX = testKeyPrefix('channel-health');
closeAfterEach();

let redis: Redis;
let channelCounter = 0;
/** A channel id no other test uses (they all share this file's prefix). */
const freshChannel = (): string => `ch-${++channelCounter}`;

/** A connection as one gateway instance has it; closed after the test. */
async function link(url = REDIS_URL): Promise<RedisLink> {
  const made = later(new RedisLink(url, { commandTimeoutMs: 1_000, logger: pino({ level: 'silent' }) }));
  if (url === REDIS_URL) expect(await made.waitUntilUp(5_000)).toBe(true);
  return made;
}

describe.skipIf(!runRedis)('channel health in Redis', () => {
  beforeAll(() => {
    redis = createTestRedis();
  });
  afterAll(async () => {
    await deleteKeys(redis, PREFIX);
    await redis.quit();
  });

  it('the breaker answers exactly as the in-memory one over a random run of events and time', async () => {
    const random = seededRandom(0x1f2e3d4c).int;
    const c = clock();
    const settings: BreakerSettings = { failureThreshold: 3, cooldownMs: 5_000 };
    const memory = new CircuitBreakers(settings, c.now);
    const shared = new RedisCircuitBreakers(await link(), settings, { keyPrefix: PREFIX, now: c.now });
    const channels = [freshChannel(), freshChannel()];
    const view = async (b: ChannelBreakers, id: string) => ({
      available: await b.isAvailable(id),
      at: await b.availableAt(id),
      snapshot: await b.snapshot(id),
    });
    const seen = new Set<string>();
    for (let step = 0; step < 400; step++) {
      const id = channels[random(channels.length)] ?? 'x';
      const action = random(10);
      const waitMs = 1_000 * random(4);
      for (const b of [memory, shared]) {
        if (action < 2) await b.onAttempt(id);
        else if (action < 4) await b.onSuccess(id);
        else if (action < 7) await b.onFailure(id, `failure ${step}`);
        else if (action < 8) await b.retryAfter(id, waitMs);
      }
      if (action >= 8) c.advance(random(3) === 0 ? random(8_000) : random(1_500));
      for (const channel of channels) {
        const expected = await view(memory, channel);
        expect(await view(shared, channel), `step ${step}, ${channel}`).toEqual(expected);
        seen.add(expected.snapshot.state);
      }
    }
    expect([...seen].sort()).toEqual(['closed', 'half-open', 'open']); // the run went through every state
  });

  it('a channel opened by one instance is skipped by another, and one probe goes out in all after the cooldown', async () => {
    const c = clock();
    const settings: BreakerSettings = { failureThreshold: 2, cooldownMs: 1_000 };
    const a = new RedisCircuitBreakers(await link(), settings, { keyPrefix: PREFIX, now: c.now });
    const b = new RedisCircuitBreakers(await link(), settings, { keyPrefix: PREFIX, now: c.now });
    const id = freshChannel();
    await a.onFailure(id, 'HTTP 500');
    await a.onFailure(id, 'HTTP 500');
    expect(await b.isAvailable(id)).toBe(false);
    expect(await b.snapshot(id)).toEqual({ state: 'open', consecutiveFailures: 2, unavailableUntil: c.now() + 1_000, lastError: 'HTTP 500' });
    c.advance(1_000);
    expect(await b.isAvailable(id)).toBe(true);
    await b.onAttempt(id); // b's probe
    expect(await a.isAvailable(id)).toBe(false); // a waits for it
    await b.onSuccess(id);
    expect(await a.isAvailable(id)).toBe(true);
  });

  it('slots: one cap across instances; a release on one frees a slot for the other', async () => {
    const a = new RedisChannelSlots(await link(), { keyPrefix: PREFIX, onError: (err) => expect.fail(String(err)) });
    const b = new RedisChannelSlots(await link(), { keyPrefix: PREFIX, onError: (err) => expect.fail(String(err)) });
    const id = freshChannel();
    const taken = await Promise.all([a, b, a, b, a, b].map((s) => s.tryAcquire(id, 2)));
    const held = taken.filter((r) => r !== null);
    expect(held).toHaveLength(2);
    expect(await a.hasRoom(id, 2)).toBe(false);
    expect(await b.hasRoom(id, 3)).toBe(true);
    held[0]?.();
    held[0]?.(); // again: frees nothing more
    await expect.poll(() => b.hasRoom(id, 2)).toBe(true);
    const third = await b.tryAcquire(id, 2);
    expect(third).not.toBeNull();
    expect(await a.tryAcquire(id, 2)).toBeNull();
    third?.();
    held[1]?.();
    // Uncapped channels never touch Redis, and are counted per instance.
    const free = await a.tryAcquire(freshChannel(), 0);
    expect(free).not.toBeNull();
  });

  it("slots: a dead instance's slots free when their leases run out", async () => {
    const c = clock();
    const id = freshChannel();
    const doomed = new RedisChannelSlots(await link(), { keyPrefix: PREFIX, leaseMs: 30_000, now: c.now, onError: () => undefined });
    const survivor = new RedisChannelSlots(await link(), { keyPrefix: PREFIX, leaseMs: 30_000, now: c.now, onError: () => undefined });
    expect(await doomed.tryAcquire(id, 1)).not.toBeNull();
    doomed.close(); // dies holding it: no release, no renewal
    expect(await survivor.tryAcquire(id, 1)).toBeNull();
    c.advance(29_999);
    expect(await survivor.tryAcquire(id, 1)).toBeNull();
    c.advance(1);
    const taken = await survivor.tryAcquire(id, 1);
    expect(taken).not.toBeNull();
    taken?.();
  });

  it('without Redis each instance holds the cap by itself, and the breakers decide per instance', async () => {
    const away = await link('redis://127.0.0.1:1'); // nothing listens there
    const slots = new RedisChannelSlots(away, { keyPrefix: PREFIX, onError: () => undefined });
    const id = freshChannel();
    const first = await slots.tryAcquire(id, 1);
    expect(first).not.toBeNull();
    expect(await slots.tryAcquire(id, 1)).toBeNull();
    first?.();
    expect(await slots.tryAcquire(id, 1)).not.toBeNull();

    const breakers = new RedisCircuitBreakers(away, { failureThreshold: 1, cooldownMs: 60_000 }, { keyPrefix: PREFIX });
    await breakers.onFailure(id, 'HTTP 502');
    expect(await breakers.snapshot(id)).toMatchObject({ state: 'open', consecutiveFailures: 1, lastError: 'HTTP 502' });
  });
});
