import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { InMemoryRateLimiter, type Admission, type KeyLimits, type RateLimiter } from '../src/billing/rate-limits.js';
import { RedisRateLimiter, type RedisRateLimiterOptions } from '../src/billing/redis-rate-limits.js';
import { GatewayError } from '../src/core/errors.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { createTestRedis, deleteKeys, keysUnder, REDIS_URL, redisAvailable, testKeyPrefix } from './helpers/redis.js';
import { clock, concurrent, expectConcurrencyRefusalsKeepRpm, expectRpm5Refusal, refusal, rpm } from './helpers/rate-limit-kit.js';
import { seededRandom } from './helpers/seeded-random.js';

const runRedis = await redisAvailable();
const PREFIX = testKeyPrefix('rate-limits');
closeAfterEach();

let redis: Redis;
let keyCounter = 0;
/** An API key id no other test uses (they all share this file's prefix). */
const freshKey = (): string => `key-${++keyCounter}`;

/** A limiter on the shared test client; closed after the test. */
function limiter(options: RedisRateLimiterOptions = {}): RedisRateLimiter {
  return later(new RedisRateLimiter(redis, { keyPrefix: PREFIX, ...options }));
}

/** A limiter on a client of its own, as another gateway instance would have; both closed after the test. */
function instance(options: RedisRateLimiterOptions = {}): RedisRateLimiter {
  const client = createTestRedis();
  onCleanup(async () => void (await client.quit().catch(() => client.disconnect())));
  return later(new RedisRateLimiter(client, { keyPrefix: PREFIX, ...options }));
}

describe.skipIf(!runRedis)('RedisRateLimiter', () => {
  beforeAll(() => {
    redis = createTestRedis();
  });
  afterAll(async () => {
    await deleteKeys(redis, PREFIX);
    await redis.quit();
  });

  describe('requests per minute', () => {
    it('admits rpm requests, then refuses with a 429, Retry-After and the x-ratelimit headers', async () => {
      const c = clock();
      const rl = limiter({ now: c.now });
      const key = freshKey();
      const seen: Record<string, string>[] = [];
      for (let i = 0; i < 5; i++) seen.push((await rl.admit(key, rpm(5))).headers);
      expect(seen).toEqual(
        [4, 3, 2, 1, 0].map((remaining, i) => ({
          'x-ratelimit-limit-requests': '5',
          'x-ratelimit-remaining-requests': String(remaining),
          'x-ratelimit-reset-requests': ['12s', '24s', '36s', '48s', '1m0s'][i],
        })),
      );

      expectRpm5Refusal(await refusal(rl.admit(key, rpm(5))));
      await expect(rl.admit(freshKey(), rpm(5))).resolves.toBeDefined(); // other keys have their own budget
    });

    it('gives the budget back smoothly as time passes', async () => {
      const c = clock();
      const rl = limiter({ now: c.now });
      const key = freshKey();
      for (let i = 0; i < 5; i++) await rl.admit(key, rpm(5));

      c.advance(11_999);
      const early = await refusal(rl.admit(key, rpm(5)));
      expect(early.headers).toEqual({
        'retry-after': '1',
        'x-ratelimit-limit-requests': '5',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '48.001s',
      });
      expect(early.message).toBe('Rate limit reached for requests per minute (RPM): limit 5. Please try again in 1s.');

      c.advance(1);
      expect((await rl.admit(key, rpm(5))).headers).toMatchObject({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s' });
      expect((await refusal(rl.admit(key, rpm(5)))).headers['retry-after']).toBe('12');

      c.advance(24_000);
      await rl.admit(key, rpm(5));
      await rl.admit(key, rpm(5));
      await refusal(rl.admit(key, rpm(5)));

      c.advance(60_000);
      expect((await rl.admit(key, rpm(5))).headers['x-ratelimit-remaining-requests']).toBe('4');
    });

    it('is exact where 60 s / rpm is not a whole number of milliseconds', async () => {
      const c = clock();
      const rl = limiter({ now: c.now });
      const key = freshKey();
      const headers: Record<string, string>[] = [];
      for (let i = 0; i < 7; i++) headers.push((await rl.admit(key, rpm(7))).headers);
      expect(headers[0]?.['x-ratelimit-reset-requests']).toBe('8.572s');
      expect(headers[6]).toEqual({ 'x-ratelimit-limit-requests': '7', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s' });
      expect((await refusal(rl.admit(key, rpm(7)))).headers['retry-after']).toBe('9');
      c.advance(8_571);
      await refusal(rl.admit(key, rpm(7)));
      c.advance(1);
      await rl.admit(key, rpm(7));
    });

    it('carries the requests used over a change of limit', async () => {
      const rl = limiter({ now: clock().now });
      const key = freshKey();
      for (let i = 0; i < 5; i++) await rl.admit(key, rpm(10));
      expect((await refusal(rl.admit(key, rpm(3)))).headers).toEqual({
        'retry-after': '20',
        'x-ratelimit-limit-requests': '3',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '1m0s',
      });
      expect((await rl.admit(key, rpm(100))).headers['x-ratelimit-remaining-requests']).toBe('94');
    });

    it('grants no refill for time a clock stepped back over', async () => {
      const c = clock();
      const rl = limiter({ now: c.now });
      const key = freshKey();
      for (let i = 0; i < 4; i++) await rl.admit(key, rpm(5));
      c.advance(-30_000); // the clock steps back (say, another Redis took over after a failover)
      expect((await rl.admit(key, rpm(5))).headers['x-ratelimit-remaining-requests']).toBe('0');
      c.advance(30_000); // back where it was: no time has really passed since the burst
      expect((await refusal(rl.admit(key, rpm(5)))).headers['retry-after']).toBe('12');
    });

    it('keeps RPM state only until the budget is full again (its TTL), on the server clock', async () => {
      const rl = limiter(); // the Redis server's clock
      const key = freshKey();
      await rl.admit(key, rpm(10)); // one request of 10 per minute refills in 6 s
      const rpmKey = `${PREFIX}{${key}}:rpm`;
      const ttl = await redis.pttl(rpmKey);
      expect(ttl).toBeGreaterThan(5_000);
      expect(ttl).toBeLessThanOrEqual(6_000);
      for (let i = 0; i < 9; i++) await rl.admit(key, rpm(10));
      expect(await redis.pttl(rpmKey)).toBeGreaterThan(59_000); // a full minute's worth in use
      expect(await redis.pttl(rpmKey)).toBeLessThanOrEqual(60_000);
    });
  });

  describe('concurrency', () => {
    it('refuses beyond maxConcurrent, and release() frees exactly one slot however often it is called', async () => {
      const rl = limiter({ now: clock().now });
      const key = freshKey();
      const a = await rl.admit(key, concurrent(2));
      const b = await rl.admit(key, concurrent(2));
      expect(a.headers).toEqual({});

      const err = await refusal(rl.admit(key, concurrent(2)));
      expect(err.status).toBe(429);
      expect(err.type).toBe('rate_limit_error');
      expect(err.code).toBe('rate_limit_exceeded');
      expect(err.message).toBe('Rate limit reached for concurrent requests: limit 2. Please try again in 1s.');
      expect(err.headers).toEqual({ 'retry-after': '1' });

      a.release();
      const c = await rl.admit(key, concurrent(2));
      a.release(); // again: must not free b's or c's slot
      a.release();
      await refusal(rl.admit(key, concurrent(2)));

      b.release();
      const d = await rl.admit(key, concurrent(2));
      await refusal(rl.admit(key, concurrent(2)));
      c.release();
      d.release();
      d.release();
      await redis.ping(); // the releases were sent before this on the same connection
      // Nothing in flight and no RPM limit: no keys left behind.
      expect(await keysUnder(redis, `${PREFIX}{${key}}`)).toEqual([]);
    });

    it('a concurrency refusal does not consume RPM budget', async () => {
      const rl = limiter({ now: clock().now });
      const key = freshKey();
      await expectConcurrencyRefusalsKeepRpm((limits) => rl.admit(key, limits));
    });

    it('an RPM refusal does not hold a concurrency slot', async () => {
      const c = clock();
      const rl = limiter({ now: c.now });
      const key = freshKey();
      const limits: KeyLimits = { rpm: 1, maxConcurrent: 2 };
      const held = await rl.admit(key, limits);
      for (let i = 0; i < 10; i++) {
        expect((await refusal(rl.admit(key, limits))).message).toContain('(RPM)');
      }
      c.advance(60_000);
      const next = await rl.admit(key, limits); // only `held` occupies a slot
      expect(next.headers['x-ratelimit-remaining-requests']).toBe('0');
      await refusal(rl.admit(key, { rpm: null, maxConcurrent: 2 })); // and now both do
      held.release();
      next.release();
    });
  });

  it('makes a client of its own from a URL and quits it at close()', async () => {
    const errors: unknown[] = [];
    const own = new RedisRateLimiter(REDIS_URL, { keyPrefix: PREFIX, onError: (err) => errors.push(err) });
    const key = freshKey();
    const admission = await own.admit(key, { rpm: 2, maxConcurrent: 1 });
    expect(admission.headers['x-ratelimit-remaining-requests']).toBe('1');
    await own.close();
    await expect(own.admit(key, rpm(2))).rejects.toThrow('closed');
    admission.release(); // after close: nothing to send it on, and no error (the lease frees the slot)
    expect(errors).toEqual([]);
    expect(await redis.zcard(`${PREFIX}{${key}}:inflight`)).toBe(1);
  });

  describe('unlimited keys and bad limits', () => {
    it('admits anything for a key without limits and writes nothing for it', async () => {
      const rl = limiter();
      const key = freshKey();
      for (let i = 0; i < 1_000; i++) expect((await rl.admit(key, { rpm: null, maxConcurrent: null })).headers).toEqual({});
      expect(await keysUnder(redis, `${PREFIX}{${key}}`)).toEqual([]);
    });

    it('refuses limits that are not positive integers', async () => {
      const rl = limiter();
      await expect(rl.admit('k', rpm(0))).rejects.toBeInstanceOf(RangeError);
      await expect(rl.admit('k', rpm(1.5))).rejects.toBeInstanceOf(RangeError);
      await expect(rl.admit('k', concurrent(-1))).rejects.toBeInstanceOf(RangeError);
    });
  });

  it('answers exactly as the in-memory limiter over a random run of admissions, releases and time', async () => {
    // A seeded run: same clock, same calls, the same headers and refusals from both.
    const random = seededRandom(0x2545f491).int;
    const c = clock();
    const memory = new InMemoryRateLimiter(c.now);
    const shared = limiter({ now: c.now });
    const keys = [freshKey(), freshKey(), freshKey()];
    // rpm at most 6, so no state's TTL (real time) is shorter than this test takes.
    const choices: KeyLimits[] = [
      { rpm: 3, maxConcurrent: null },
      { rpm: 6, maxConcurrent: 2 },
      { rpm: null, maxConcurrent: 1 },
      { rpm: 4, maxConcurrent: 3 },
      { rpm: 5, maxConcurrent: 1 },
      { rpm: null, maxConcurrent: null },
    ];
    const held: { memory: Admission; redis: Admission }[] = [];
    type Outcome = { seen: unknown; admission: Admission | null };
    const attempt = async (l: RateLimiter, key: string, limits: KeyLimits): Promise<Outcome> => {
      try {
        const admission = await l.admit(key, limits);
        return { seen: { admitted: admission.headers }, admission };
      } catch (err) {
        if (err instanceof GatewayError) return { seen: { refused: err.message, headers: err.headers }, admission: null };
        throw err;
      }
    };
    let admitted = 0;
    let refused = 0;
    for (let step = 0; step < 400; step++) {
      const action = random(10);
      if (action < 6) {
        const key = keys[random(keys.length)] ?? 'k';
        const limits = choices[random(choices.length)] ?? rpm(1);
        const inMemory = await attempt(memory, key, limits);
        const inRedis = await attempt(shared, key, limits);
        expect(inRedis.seen, `step ${step}`).toEqual(inMemory.seen);
        if (inMemory.admission && inRedis.admission) {
          admitted++;
          held.push({ memory: inMemory.admission, redis: inRedis.admission });
        } else {
          refused++;
        }
      } else if (action < 9) {
        // Release a held pair; sometimes one released before (a no-op for both).
        const pair = random(4) === 0 ? held[random(held.length)] : held.splice(random(held.length), 1)[0];
        pair?.memory.release();
        pair?.redis.release();
      } else {
        c.advance(random(4) === 0 ? random(40_000) : random(3_000));
      }
    }
    expect(admitted).toBeGreaterThan(50); // the run covered both answers
    expect(refused).toBeGreaterThan(50);
    for (const pair of held) {
      pair.memory.release();
      pair.redis.release();
    }
  });

  describe('across instances', () => {
    it('shares one RPM budget: 10 concurrent admissions over two instances with rpm 5 admit exactly 5', async () => {
      const a = instance();
      const b = instance();
      const key = freshKey();
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).admit(key, rpm(5))));
      const admitted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(admitted).toHaveLength(5);
      expect(admitted.map((x) => x.headers['x-ratelimit-remaining-requests']).sort()).toEqual(['0', '1', '2', '3', '4']);
      expect(refused).toHaveLength(5);
      for (const err of refused) {
        expect(err).toBeInstanceOf(GatewayError);
        expect((err as GatewayError).status).toBe(429);
        expect((err as GatewayError).message).toContain('(RPM): limit 5');
      }
    });

    it('shares one concurrency limit: 2 of 10 in flight over two instances, and a release on one frees a slot for the other', async () => {
      const a = instance();
      const b = instance();
      const key = freshKey();
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).admit(key, concurrent(2))));
      const admitted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(admitted).toHaveLength(2);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as GatewayError).message).toContain('concurrent requests: limit 2');
      }
      await refusal(a.admit(key, concurrent(2)));
      await refusal(b.admit(key, concurrent(2)));

      admitted[0]?.release();
      admitted[0]?.release();
      // Sent on another connection: wait until it has landed.
      await expect.poll(async () => redis.zcard(`${PREFIX}{${key}}:inflight`)).toBe(1);
      const third = await b.admit(key, concurrent(2));
      await refusal(a.admit(key, concurrent(2)));
      third.release();
      admitted[1]?.release();
    });

    it("reads the Redis server's clock (TIME) when no clock is passed, so instances agree whatever their own clocks say", async () => {
      const a = instance();
      const b = instance();
      const key = freshKey();
      await a.admit(key, rpm(2));
      const second = await b.admit(key, rpm(2));
      expect(second.headers).toEqual({
        'x-ratelimit-limit-requests': '2',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': expect.stringMatching(/^(59\.\d+s|1m0s)$/),
      });
      expect((await refusal(a.admit(key, rpm(2)))).headers['retry-after']).toMatch(/^(29|30)$/);
    });

    it('frees the slot of an instance that dies without releasing once its lease runs out', async () => {
      const c = clock();
      const key = freshKey();
      const doomed = instance({ now: c.now }); // default lease: 10 minutes
      const survivor = instance({ now: c.now });
      await doomed.admit(key, concurrent(1));
      await doomed.close(); // dies: no release, no more renewals

      await refusal(survivor.admit(key, concurrent(1)));
      c.advance(10 * 60_000 - 1);
      await refusal(survivor.admit(key, concurrent(1)));
      c.advance(1);
      const admission = await survivor.admit(key, concurrent(1));
      admission.release();
    });

    it('renews the leases of what it holds, so a long request keeps its slot; a dead holder loses it', async () => {
      const key = freshKey();
      const holder = instance({ leaseMs: 900 }); // server clock, renewed every 300 ms
      const other = instance({ leaseMs: 900 });
      await holder.admit(key, concurrent(1));
      const until = Date.now() + 2_000; // more than two leases
      while (Date.now() < until) {
        await refusal(other.admit(key, concurrent(1)));
        await new Promise((r) => setTimeout(r, 50));
      }
      await holder.close(); // dies holding it
      await expect
        .poll(
          async () => {
            try {
              (await other.admit(key, concurrent(1))).release();
              return 'admitted';
            } catch (err) {
              if (err instanceof GatewayError) return 'refused';
              throw err;
            }
          },
          { timeout: 3_000, interval: 50 },
        )
        .toBe('admitted');
    });

    it('does not revive a lease that has already run out', async () => {
      const c = clock();
      const key = freshKey();
      const slow = instance({ now: c.now, leaseMs: 1_000 });
      const other = instance({ now: c.now, leaseMs: 1_000 });
      await slow.admit(key, concurrent(1));
      c.advance(1_000); // the lease ran out before a renewal could land
      const taken = await other.admit(key, concurrent(1));
      await slow.renew();
      await refusal(slow.admit(key, concurrent(1))); // `other` holds the one slot, not two holders
      taken.release(); // sent on other's connection: wait until it has landed
      await expect.poll(async () => redis.zcard(`${PREFIX}{${key}}:inflight`)).toBe(0);
      (await slow.admit(key, concurrent(1))).release();
    });
  });
});
