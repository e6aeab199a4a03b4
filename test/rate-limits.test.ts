import { describe, expect, it } from 'vitest';
import { formatResetDuration, InMemoryRateLimiter, type KeyLimits } from '../src/billing/rate-limits.js';
import { clock, concurrent, expectConcurrencyRefusalsKeepRpm, expectRpm5Refusal, refusal, rpm } from './helpers/rate-limit-kit.js';

describe('InMemoryRateLimiter: requests per minute', () => {
  it('admits rpm requests, then refuses with a 429, Retry-After and the x-ratelimit headers', async () => {
    const c = clock();
    const limiter = new InMemoryRateLimiter(c.now);
    const seen: Record<string, string>[] = [];
    for (let i = 0; i < 5; i++) seen.push((await limiter.admit('k', rpm(5))).headers);
    // One request's worth (60 s / 5 = 12 s) comes back at a time, so the reset grows by 12 s.
    expect(seen).toEqual(
      [4, 3, 2, 1, 0].map((remaining, i) => ({
        'x-ratelimit-limit-requests': '5',
        'x-ratelimit-remaining-requests': String(remaining),
        'x-ratelimit-reset-requests': ['12s', '24s', '36s', '48s', '1m0s'][i],
      })),
    );

    expectRpm5Refusal(await refusal(limiter.admit('k', rpm(5))));
    // Other keys have their own budget.
    await expect(limiter.admit('other', rpm(5))).resolves.toBeDefined();
  });

  it('gives the budget back smoothly as time passes', async () => {
    const c = clock();
    const limiter = new InMemoryRateLimiter(c.now);
    for (let i = 0; i < 5; i++) await limiter.admit('k', rpm(5));

    c.advance(11_999);
    const early = await refusal(limiter.admit('k', rpm(5)));
    expect(early.headers).toEqual({
      'retry-after': '1', // 1 ms to go: rounded up, never 0
      'x-ratelimit-limit-requests': '5',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '48.001s',
    });
    expect(early.message).toBe('Rate limit reached for requests per minute (RPM): limit 5. Please try again in 1s.');

    c.advance(1); // 12 s after the burst: one request's worth is back, not the whole minute's
    expect((await limiter.admit('k', rpm(5))).headers).toMatchObject({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s' });
    expect((await refusal(limiter.admit('k', rpm(5)))).headers['retry-after']).toBe('12');

    c.advance(24_000); // two more
    await limiter.admit('k', rpm(5));
    await limiter.admit('k', rpm(5));
    await refusal(limiter.admit('k', rpm(5)));

    c.advance(60_000); // a full minute idle: the whole budget
    expect((await limiter.admit('k', rpm(5))).headers['x-ratelimit-remaining-requests']).toBe('4');
  });

  it('is exact where 60 s / rpm is not a whole number of milliseconds', async () => {
    const c = clock();
    const limiter = new InMemoryRateLimiter(c.now);
    const headers: Record<string, string>[] = [];
    for (let i = 0; i < 7; i++) headers.push((await limiter.admit('k', rpm(7))).headers);
    expect(headers[0]?.['x-ratelimit-reset-requests']).toBe('8.572s'); // 8571.43 ms, rounded up
    expect(headers[6]).toEqual({ 'x-ratelimit-limit-requests': '7', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s' });
    expect((await refusal(limiter.admit('k', rpm(7)))).headers['retry-after']).toBe('9');
    c.advance(8_571);
    await refusal(limiter.admit('k', rpm(7)));
    c.advance(1);
    await limiter.admit('k', rpm(7));
  });

  it('carries the requests used over a change of limit', async () => {
    const c = clock();
    const limiter = new InMemoryRateLimiter(c.now);
    for (let i = 0; i < 5; i++) await limiter.admit('k', rpm(10));
    // 5 used against a new limit of 3: over budget, so refused (and reported as capped at 3).
    expect((await refusal(limiter.admit('k', rpm(3)))).headers).toEqual({
      'retry-after': '20',
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1m0s',
    });
    // The refusal changed nothing: 5 used, plus this one.
    expect((await limiter.admit('k', rpm(100))).headers['x-ratelimit-remaining-requests']).toBe('94');
  });
});

describe('InMemoryRateLimiter: concurrency', () => {
  it('refuses beyond maxConcurrent, and release() frees exactly one slot however often it is called', async () => {
    const limiter = new InMemoryRateLimiter(clock().now);
    const a = await limiter.admit('k', concurrent(2));
    const b = await limiter.admit('k', concurrent(2));
    expect(a.headers).toEqual({}); // no RPM limit: no x-ratelimit headers

    const err = await refusal(limiter.admit('k', concurrent(2)));
    expect(err.status).toBe(429);
    expect(err.type).toBe('rate_limit_error');
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.message).toContain('concurrent requests');
    expect(err.message).toContain('limit 2');
    expect(err.headers).toEqual({ 'retry-after': '1' });

    a.release();
    const c = await limiter.admit('k', concurrent(2));
    a.release(); // again: must not free b's or c's slot
    a.release();
    await refusal(limiter.admit('k', concurrent(2)));

    b.release();
    const d = await limiter.admit('k', concurrent(2));
    await refusal(limiter.admit('k', concurrent(2)));
    c.release();
    d.release();
    expect(limiter.size).toBe(0); // nothing in flight and no RPM state: dropped at once
  });

  it('a concurrency refusal does not consume RPM budget', async () => {
    const limiter = new InMemoryRateLimiter(clock().now);
    await expectConcurrencyRefusalsKeepRpm((limits) => limiter.admit('k', limits));
  });

  it('an RPM refusal does not hold a concurrency slot', async () => {
    const c = clock();
    const limiter = new InMemoryRateLimiter(c.now);
    const limits: KeyLimits = { rpm: 1, maxConcurrent: 2 };
    const held = await limiter.admit('k', limits);
    for (let i = 0; i < 10; i++) {
      expect((await refusal(limiter.admit('k', limits))).message).toContain('(RPM)');
    }
    c.advance(60_000);
    const next = await limiter.admit('k', limits); // only `held` occupies a slot
    expect(next.headers['x-ratelimit-remaining-requests']).toBe('0');
    held.release();
    next.release();
  });
});

describe('InMemoryRateLimiter: unlimited keys and memory', () => {
  it('admits anything for a key without limits and keeps no state for it', async () => {
    const limiter = new InMemoryRateLimiter(clock().now);
    for (let i = 0; i < 10_000; i++) {
      const admission = await limiter.admit('k', { rpm: null, maxConcurrent: null });
      expect(admission.headers).toEqual({});
    }
    expect(limiter.size).toBe(0);
  });

  it('refuses limits that are not positive integers', async () => {
    const limiter = new InMemoryRateLimiter(clock().now);
    await expect(limiter.admit('k', rpm(0))).rejects.toBeInstanceOf(RangeError);
    await expect(limiter.admit('k', rpm(1.5))).rejects.toBeInstanceOf(RangeError);
    await expect(limiter.admit('k', concurrent(-1))).rejects.toBeInstanceOf(RangeError);
  });

  it('drops 1,000 keys once they go idle', async () => {
    const c = clock();
    const limiter = new InMemoryRateLimiter(c.now);
    const limits: KeyLimits = { rpm: 10, maxConcurrent: 2 };
    let stillRunning: { release(): void } | null = null;
    for (let i = 0; i < 1_000; i++) {
      const admission = await limiter.admit(`key-${i}`, limits);
      if (i === 500) stillRunning = admission;
      else admission.release();
    }
    expect(limiter.size).toBe(1_000); // budget in use: kept

    // One request of 10 per minute takes 6 s to refill.
    c.advance(5_999);
    limiter.sweep();
    expect(limiter.size).toBe(1_000); // 1 ms of refill to go: kept

    c.advance(1);
    expect(limiter.size).toBe(1_000); // idle now, but nothing has swept yet
    c.advance(59_999);
    await limiter.admit('newcomer', limits); // admit() sweeps once a minute has passed since the last sweep
    expect(limiter.size).toBe(2); // the newcomer and the key with a request in flight
    stillRunning?.release();
    expect(limiter.size).toBe(1); // its budget had refilled: dropped at release

    // Concurrency-only keys are dropped as soon as their last request is released.
    for (let i = 0; i < 1_000; i++) (await limiter.admit(`c-${i}`, concurrent(1))).release();
    expect(limiter.size).toBe(1);
  });
});

describe('formatResetDuration', () => {
  it("writes durations as OpenAI's x-ratelimit-reset-* headers do (Go's time.Duration form)", () => {
    expect(formatResetDuration(0)).toBe('0s');
    expect(formatResetDuration(12)).toBe('12ms');
    expect(formatResetDuration(20)).toBe('20ms');
    expect(formatResetDuration(0.2)).toBe('1ms');
    expect(formatResetDuration(999.5)).toBe('1s');
    expect(formatResetDuration(1_000)).toBe('1s');
    expect(formatResetDuration(8_500)).toBe('8.5s');
    expect(formatResetDuration(8_640)).toBe('8.64s');
    expect(formatResetDuration(8_571.43)).toBe('8.572s');
    expect(formatResetDuration(60_000)).toBe('1m0s');
    expect(formatResetDuration(90_500)).toBe('1m30.5s');
    expect(formatResetDuration(360_000)).toBe('6m0s');
    expect(formatResetDuration(3_600_000)).toBe('1h0m0s');
  });
});
