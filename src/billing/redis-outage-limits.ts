/**
 * What rate limiting does while Redis is unreachable (IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN):
 *
 *  - open (the default): each instance holds every key's limits by itself, in memory, as a lone
 *    instance does. Requests keep flowing; with N instances a key may get up to N times its
 *    limits until Redis is back. Credits live in the database and still hold exactly, so no key
 *    spends more than it has: losing the limiter's store is no reason to turn paying traffic away.
 *  - closed: requests of keys with limits are refused with 503 service_unavailable and a
 *    Retry-After, for deployments where a limit guards something that must never see more.
 *
 * Keys without limits never need Redis and are served either way. No request waits for Redis:
 * the link's state is checked first, and a command sent just as Redis goes fails within the
 * link's command timeout.
 */
import { GatewayError, gatewayError } from '../core/errors.js';
import { InMemoryRateLimiter, type Admission, type KeyLimits, type RateLimiter } from './rate-limits.js';

export type RedisDownPolicy = 'open' | 'closed';

/** Seconds a refused client is told to wait: Redis reconnection is tried at least every second. */
export const REDIS_DOWN_RETRY_AFTER_SECONDS = 2;

export class RedisOutageRateLimiter implements RateLimiter {
  /** The limits while Redis is away, under the open policy. */
  private readonly local = new InMemoryRateLimiter();

  constructor(
    private readonly shared: RateLimiter,
    private readonly redis: { isUp(): boolean },
    private readonly policy: RedisDownPolicy,
    /** A Redis failure other than the outage itself (the outage is logged once, by the link). */
    private readonly onError: (err: unknown) => void,
  ) {}

  async admit(keyId: string, limits: KeyLimits): Promise<Admission> {
    if (limits.rpm === null && limits.maxConcurrent === null) return this.local.admit(keyId, limits);
    if (this.redis.isUp()) {
      try {
        return await this.shared.admit(keyId, limits);
      } catch (err) {
        // A 429 is the limiter's answer, a RangeError a bad limit: neither is Redis failing.
        if (err instanceof GatewayError || err instanceof RangeError) throw err;
        this.onError(err);
      }
    }
    if (this.policy === 'closed') throw rateLimitsUnavailable();
    return this.local.admit(keyId, limits);
  }
}

function rateLimitsUnavailable(): GatewayError {
  return gatewayError('service_unavailable', 'The service is temporarily unavailable (rate limits cannot be checked). Retry shortly.', {
    headers: { 'retry-after': String(REDIS_DOWN_RETRY_AFTER_SECONDS) },
  });
}
