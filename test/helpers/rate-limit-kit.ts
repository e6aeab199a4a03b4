/** Shared by the in-memory and Redis rate limiter suites. */
import { expect } from 'vitest';
import type { Admission, KeyLimits } from '../../src/billing/rate-limits.js';
import { GatewayError } from '../../src/core/errors.js';

export const T0 = 1_700_000_000_000;

/** A clock the test moves by hand. */
export function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = T0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** The GatewayError an admission is refused with; fails the test when it is admitted. */
export async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a refusal, got an admission');
}

export const rpm = (n: number): KeyLimits => ({ rpm: n, maxConcurrent: null });
export const concurrent = (n: number): KeyLimits => ({ rpm: null, maxConcurrent: n });

/** The exact 429 both limiters give a 6th request on `rpm: 5`: OpenAI's wording, Retry-After 12 s, the budget back in a minute. */
export function expectRpm5Refusal(err: GatewayError): void {
  expect(err.status).toBe(429);
  expect(err.toEnvelope()).toEqual({
    error: {
      message: 'Rate limit reached for requests per minute (RPM): limit 5. Please try again in 12s.',
      type: 'rate_limit_error',
      param: null,
      code: 'rate_limit_exceeded',
    },
  });
  expect(err.headers).toEqual({
    'retry-after': '12',
    'x-ratelimit-limit-requests': '5',
    'x-ratelimit-remaining-requests': '0',
    'x-ratelimit-reset-requests': '1m0s',
  });
}

/**
 * Shared by both limiters: with rpm 3 and one slot, ten concurrency refusals leave the RPM
 * budget where the one admission put it; after the release the next admission takes the 2nd unit.
 */
export async function expectConcurrencyRefusalsKeepRpm(admit: (limits: KeyLimits) => Promise<Admission>): Promise<void> {
  const limits: KeyLimits = { rpm: 3, maxConcurrent: 1 };
  const a = await admit(limits);
  expect(a.headers['x-ratelimit-remaining-requests']).toBe('2');
  for (let i = 0; i < 10; i++) {
    const err = await refusal(admit(limits));
    expect(err.message).toContain('concurrent requests');
    expect(err.headers).toEqual({
      'retry-after': '1',
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '2',
      'x-ratelimit-reset-requests': '20s',
    });
  }
  a.release();
  expect((await admit(limits)).headers['x-ratelimit-remaining-requests']).toBe('1');
}
