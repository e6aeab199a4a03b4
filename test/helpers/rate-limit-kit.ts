/** Shared by the in-memory and Redis rate limiter suites. */
import type { KeyLimits } from '../../src/billing/rate-limits.js';
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
