/**
 * Per-key admission control: requests per minute (RPM) and concurrent requests.
 *
 * `RateLimiter` is the seam: this file has the in-memory limiter for one instance; a Redis-backed
 * one (shared by several instances) implements the same interface with the same arithmetic (one
 * number per key for RPM, one counter for concurrency), which is why `admit` is async.
 *
 * RPM uses GCRA (the generic cell rate algorithm), i.e. a token bucket of `rpm` requests that
 * refills continuously at `rpm` per minute. Per key it keeps one number (how much of the budget
 * is in use, and when that was last brought up to date): O(1) time and memory per key, against
 * O(rpm) for a log of timestamps. It is exact in integers: the state is measured in units where
 * a request costs 60 000 and one millisecond drains `rpm`, so nothing is ever rounded and no
 * float drift can refuse the Nth request of a burst of N (60 000 / 7 ms is not a float you want
 * to add up seven times).
 *
 * What it means for a client: a fresh key may send `rpm` requests at once; after that one
 * request's worth returns every 60 000 / rpm ms (smoothly, not all at once a minute later). Note
 * that this is not "at most rpm in any 60 s window": a burst of N followed by the steady refill
 * can put up to 2N − 1 requests into one 60-second span. Enforcing that strictly needs the
 * timestamps of the last N requests (a sliding log), which is what GCRA avoids. Continuous
 * refill is also what OpenAI's own headers show: at 5 000 RPM with 4 999 remaining,
 * `x-ratelimit-reset-requests` is `12ms`, i.e. exactly one request's refill time (60 000 / 5 000).
 *
 * Headers follow OpenAI's (https://platform.openai.com/docs/guides/rate-limits, "Rate limits in
 * headers"): `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests` and
 * `x-ratelimit-reset-requests`, the last being "the time until the rate limit (based on requests)
 * resets to its initial state" written as a Go duration (`1s`, `6m0s`, `12ms`); see
 * formatResetDuration.
 *
 * Memory: an entry exists only while it holds something — budget in use or requests in flight.
 * Once its budget has fully refilled and nothing is in flight it is indistinguishable from a new
 * key and is dropped: at release() when possible, otherwise by a sweep over all entries that runs
 * from admit() at most once per minute (amortised O(1)) or when sweep() is called. Every entry's
 * budget refills within 60 s of its last request, so while requests keep arriving an entry is
 * gone at most about two minutes after its key's last activity (or last release); a process that
 * goes quiet keeps what it had until the next admit() or sweep(). Keys with neither limit get no
 * entry at all.
 */
import { gatewayError, GatewayError } from '../core/errors.js';
import type { RateLimitMetricsSink, RateLimitReason } from '../core/metrics-sink.js';

/** A key's limits; null = unlimited. Both, when set, must be positive integers. */
export interface KeyLimits {
  rpm: number | null;
  maxConcurrent: number | null;
}

export interface RateLimitHeaders {
  'x-ratelimit-limit-requests': string;
  'x-ratelimit-remaining-requests': string;
  'x-ratelimit-reset-requests': string;
}

export interface Admission {
  /** Frees the concurrency slot. Idempotent: calling it again does nothing. */
  release(): void;
  /** The x-ratelimit headers for the answer (empty when the key has no RPM limit). */
  headers: Record<string, string>;
}

export interface RateLimiter {
  /**
   * Admits one request or throws a 429 GatewayError (`rate_limit_error` / `rate_limit_exceeded`)
   * carrying Retry-After and, when the key has an RPM limit, the x-ratelimit headers. A request
   * refused for one limit consumes nothing of the other.
   */
  admit(keyId: string, limits: KeyLimits): Promise<Admission>;
}

export const WINDOW_MS = 60_000;
/** What one request adds to `used`; the budget is WINDOW_MS × rpm and drains rpm per ms. */
export const REQUEST_COST = WINDOW_MS;
const SWEEP_INTERVAL_MS = WINDOW_MS;

interface KeyState {
  /** Budget in use at `at`, in REQUEST_COST units (used / REQUEST_COST requests' worth). */
  used: number;
  /** Clock reading `used` refers to. */
  at: number;
  /** The rpm `used` drains at (per ms) from `at`; 0 when the key had no RPM limit. */
  rpm: number;
  /** Admitted and not yet released requests (counted only while the key has maxConcurrent). */
  inFlight: number;
}

/** A key's RPM budget at one moment (shared with the Redis limiter, which computes it in Lua). */
export interface RpmView {
  limit: number;
  /** Budget in use now, after refill. */
  used: number;
}

export class InMemoryRateLimiter implements RateLimiter {
  private readonly keys = new Map<string, KeyState>();
  private lastSweep: number;

  constructor(private readonly now: () => number = Date.now) {
    this.lastSweep = now();
  }

  /** How many keys hold state (for tests and metrics). */
  get size(): number {
    return this.keys.size;
  }

  async admit(keyId: string, limits: KeyLimits): Promise<Admission> {
    return this.admitSync(keyId, limits);
  }

  /** Drops every key whose budget has refilled and that has nothing in flight. */
  sweep(): void {
    const now = this.now();
    this.lastSweep = now;
    for (const [keyId, state] of this.keys) {
      if (state.inFlight === 0 && isDrained(state, now)) {
        this.keys.delete(keyId);
      }
    }
  }

  /** Everything happens in one synchronous step, so check-then-commit cannot interleave. */
  private admitSync(keyId: string, limits: KeyLimits): Admission {
    const rpm = checkLimit('rpm', limits.rpm);
    const maxConcurrent = checkLimit('maxConcurrent', limits.maxConcurrent);
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep();
    if (rpm === null && maxConcurrent === null) return { release: () => {}, headers: {} };

    const existing = this.keys.get(keyId);
    const state: KeyState = existing ?? { used: 0, at: now, rpm: 0, inFlight: 0 };
    // Refill up to now at the rate in force since `at`. `used` counts requests' worth, so it carries
    // over a change of rpm as it is, capped at the new budget so the reset stays within a minute.
    const rpmView: RpmView | null = rpm === null ? null : { limit: rpm, used: Math.min(refilled(state, now), WINDOW_MS * rpm) };

    // Concurrency first, without taking a slot: a refusal here leaves the RPM budget untouched.
    if (maxConcurrent !== null && state.inFlight >= maxConcurrent) throw concurrencyRefusal(maxConcurrent, rpmView);

    let headers: Record<string, string> = {};
    if (rpmView) {
      const after = rpmView.used + REQUEST_COST;
      // Refused before any slot is taken; the state is left as it was (a refusal changes nothing).
      if (after > WINDOW_MS * rpmView.limit) throw rpmRefusal(rpmView);
      state.used = after;
      state.at = Math.max(state.at, now); // a clock stepping back must not grant a refill later
      state.rpm = rpmView.limit;
      headers = rpmHeaders({ limit: rpmView.limit, used: after });
    } else {
      // No RPM limit now: whatever budget was in use no longer matters.
      state.used = 0;
      state.at = now;
      state.rpm = 0;
    }

    const counted = maxConcurrent !== null;
    if (counted) state.inFlight += 1;
    if (!existing) this.keys.set(keyId, state);

    return {
      headers,
      release: once(() => {
        if (!counted) return;
        state.inFlight -= 1;
        if (state.inFlight === 0 && isDrained(state, this.now()) && this.keys.get(keyId) === state) this.keys.delete(keyId);
      }),
    };
  }
}

/** `release` may be called more than once (error paths, close events); only the first counts. */
export function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

/** Budget in use at `now`: `used` less the refill since `at` (never below zero). */
function refilled(state: KeyState, now: number): number {
  const elapsed = now - state.at;
  if (elapsed <= 0 || state.used === 0) return state.used;
  return Math.max(0, state.used - elapsed * state.rpm);
}

/** Whether the budget has fully refilled by `now`: the entry then equals a fresh one. */
function isDrained(state: KeyState, now: number): boolean {
  return refilled(state, now) === 0;
}

/**
 * The 429 for a key at its concurrency limit: Retry-After 1 s, plus the x-ratelimit headers of
 * its RPM budget (untouched by the refusal) when it has one.
 */
export function concurrencyRefusal(maxConcurrent: number, rpm: RpmView | null): GatewayError {
  return refusedFor(
    'concurrency',
    gatewayError('rate_limit_exceeded', `Rate limit reached for concurrent requests: limit ${maxConcurrent}. Please try again in 1s.`, {
      headers: { 'retry-after': '1', ...(rpm ? rpmHeaders(rpm) : {}) },
    }),
  );
}

/** The 429 for a key whose RPM budget (`rpm.used` now) has no room for one more request. */
export function rpmRefusal(rpm: RpmView): GatewayError {
  const waitMs = (rpm.used + REQUEST_COST - WINDOW_MS * rpm.limit) / rpm.limit;
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  return refusedFor(
    'rpm',
    gatewayError('rate_limit_exceeded', `Rate limit reached for requests per minute (RPM): limit ${rpm.limit}. Please try again in ${retryAfter}s.`, {
      headers: { 'retry-after': String(retryAfter), ...rpmHeaders(rpm) },
    }),
  );
}

/** Which limit a 429 refused (for the metrics: core/metrics-sink.ts' RateLimitReason). */
const REFUSAL_REASONS = new WeakMap<GatewayError, RateLimitReason>();

function refusedFor(reason: RateLimitReason, refusal: GatewayError): GatewayError {
  REFUSAL_REASONS.set(refusal, reason);
  return refusal;
}

/** The limit an error from a RateLimiter refused, if it is one of its 429s. */
export function refusalReason(err: unknown): RateLimitReason | undefined {
  return err instanceof GatewayError ? REFUSAL_REASONS.get(err) : undefined;
}

/** A limiter that reports each 429 it answers, by the limit that refused (src/metrics/ counts them). */
export function reportingRefusals(limiter: RateLimiter, metrics: RateLimitMetricsSink): RateLimiter {
  return {
    async admit(keyId, limits) {
      try {
        return await limiter.admit(keyId, limits);
      } catch (err) {
        const reason = refusalReason(err);
        if (reason) metrics.rateLimited(reason);
        throw err;
      }
    },
  };
}

/** The x-ratelimit-*-requests headers for a budget with `used` in use. */
export function rpmHeaders({ limit, used }: RpmView): Record<string, string> & RateLimitHeaders {
  return {
    'x-ratelimit-limit-requests': String(limit),
    'x-ratelimit-remaining-requests': String(Math.floor((WINDOW_MS * limit - used) / REQUEST_COST)),
    // Time until `used` drains to zero, i.e. the full budget is back.
    'x-ratelimit-reset-requests': formatResetDuration(used / limit),
  };
}

/** A limit as given, or a RangeError unless it is null or a positive safe integer. */
export function checkLimit(name: string, value: number | null): number | null {
  if (value === null) return null;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Rate limit ${name} must be a positive integer or null, got ${value}`);
  }
  return value;
}

/**
 * A duration as OpenAI writes x-ratelimit-reset-* (`1s`, `6m0s`, `12ms`): Go's time.Duration
 * String() form at millisecond precision. Under a second: whole milliseconds (`12ms`); from a
 * second: h/m/s with leading zero units left out and the seconds' fraction without trailing
 * zeros (`8.572s`, `1m0s`, `1h0m0s`); zero is `0s`. Rounded up to the millisecond, so a client
 * that waits that long is never early.
 */
export function formatResetDuration(ms: number): string {
  const total = Math.ceil(ms);
  if (!(total > 0)) return '0s';
  if (total < 1000) return `${total}ms`;
  const wholeSeconds = Math.floor(total / 1000);
  const fraction = total % 1000;
  const hours = Math.floor(wholeSeconds / 3600);
  const minutes = Math.floor((wholeSeconds % 3600) / 60);
  const seconds = wholeSeconds % 60;
  const secondsText = fraction === 0 ? String(seconds) : `${seconds}.${String(fraction).padStart(3, '0').replace(/0+$/, '')}`;
  if (hours > 0) return `${hours}h${minutes}m${secondsText}s`;
  if (minutes > 0) return `${minutes}m${secondsText}s`;
  return `${secondsText}s`;
}
