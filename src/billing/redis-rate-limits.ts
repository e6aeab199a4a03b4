/**
 * The Redis-backed RateLimiter: the same admission control as InMemoryRateLimiter (same GCRA
 * arithmetic, same x-ratelimit headers, same 429s), held in Redis so that every instance of the
 * gateway draws on one budget per key.
 *
 * Each admit() is one Lua script, so check-then-commit is atomic across instances:
 *  1. the clock is the Redis server's (`TIME`), so instances whose own clocks disagree still
 *     agree on the budget (a clock can be passed in instead, for tests);
 *  2. concurrency is checked first, without taking a slot: a refusal there leaves the RPM
 *     budget untouched;
 *  3. then RPM (GCRA, exactly as in rate-limits.ts: one hash of `used`, `at`, `rpm` per key, in
 *     integer units): a refusal there takes no concurrency slot;
 *  4. only then are both committed.
 *
 * RPM state lives exactly as long as it matters: its TTL is the time until the budget is full
 * again, after which a missing key and a fresh one are the same thing.
 *
 * Requests in flight are a leased set (redis/leases.ts): a sorted set of admission ids, each
 * scored by the end of its lease, renewed every leaseMs / 3 while the request is held and removed
 * at release(). An instance that dies without releasing frees its slots when their leases run
 * out, at most leaseMs later.
 *
 * Keys, for an API key id K under the prefix P (default `imagegate:rl:`):
 *   P{K}:rpm       hash { used, at, rpm }     TTL: until the budget has refilled
 *   P{K}:inflight  zset admission id → lease end (ms)   TTL: the lease
 * The `{K}` hash tag keeps both keys of one API key in one Redis Cluster slot.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { HeldLeases, LUA_LEASES } from '../redis/leases.js';
import { clockArg, LUA_NOW, luaScript, runScript } from '../redis/lua-scripts.js';
import {
  checkLimit,
  concurrencyRefusal,
  REQUEST_COST,
  once,
  rpmHeaders,
  rpmRefusal,
  WINDOW_MS,
  type Admission,
  type KeyLimits,
  type RateLimiter,
  type RpmView,
} from './rate-limits.js';

export const DEFAULT_RATE_LIMIT_KEY_PREFIX = 'imagegate:rl:';
/** How long an admission holds its slot without renewal; renewed every third of it while held. */
export const DEFAULT_LEASE_MS = 10 * 60_000;

export interface RedisRateLimiterOptions {
  /** Prefix of every key this limiter writes. Default `imagegate:rl:`. */
  keyPrefix?: string;
  /** Concurrency lease in ms (see above). Default 10 minutes. */
  leaseMs?: number;
  /**
   * The clock, in ms. Default: the Redis server's clock, which is what several instances should
   * use. Only tests should pass one (key TTLs still run on real time).
   */
  now?: () => number;
  /**
   * Called with what fails outside a caller's await: a release or lease renewal that Redis
   * refused, and the connection errors of a client this limiter created. Default: console.error.
   */
  onError?: (err: unknown) => void;
}

const ADMITTED = 0;
const CONCURRENCY_REFUSED = 1;
const RPM_REFUSED = 2;

/**
 * KEYS: rpm hash, in-flight zset.
 * ARGV: now | '', rpm (0 = none), budget (WINDOW_MS × rpm), request cost, maxConcurrent (0 = none),
 *       admission id, lease ms.
 * Returns { outcome, budget in use }: after this request when admitted, as it stands when refused.
 */
const ADMIT_SCRIPT = luaScript(`${LUA_NOW}${LUA_LEASES}
local rpm = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local maxConcurrent = tonumber(ARGV[5])
local lease = tonumber(ARGV[7])

-- The budget in use now: refilled at the rate in force since 'at', capped at the current budget
-- (so a lowered limit reports, and resets, within a minute).
local used, at = 0, now
if rpm > 0 then
  local state = redis.call('HMGET', KEYS[1], 'used', 'at', 'rpm')
  if state[1] and state[2] and state[3] then
    used = tonumber(state[1])
    at = tonumber(state[2])
    local elapsed = now - at
    if elapsed > 0 and used > 0 then used = math.max(0, used - elapsed * tonumber(state[3])) end
  end
  used = math.min(used, budget)
end

-- Concurrency first, taking nothing: a refusal here leaves the RPM budget as it was.
if maxConcurrent > 0 and liveLeases(KEYS[2]) >= maxConcurrent then return {${CONCURRENCY_REFUSED}, int(used)} end

if rpm > 0 then
  local after = used + cost
  if after > budget then return {${RPM_REFUSED}, int(used)} end
  if now > at then at = now end -- a clock stepping back must not grant a refill later
  redis.call('HSET', KEYS[1], 'used', int(after), 'at', int(at), 'rpm', int(rpm))
  redis.call('PEXPIRE', KEYS[1], int(math.max(1, at - now + math.ceil(after / rpm))))
  used = after
else
  redis.call('DEL', KEYS[1]) -- no RPM limit now: whatever budget was in use no longer matters
end

if maxConcurrent > 0 then takeLease(KEYS[2], ARGV[6], lease) end
return {${ADMITTED}, int(used)}
`);

export class RedisRateLimiter implements RateLimiter {
  private readonly client: Redis;
  /** Whether the client is ours (made from a URL), to quit at close(). */
  private readonly ownsClient: boolean;
  private readonly keyPrefix: string;
  private readonly leaseMs: number;
  private readonly now: (() => number) | undefined;
  private readonly onError: (err: unknown) => void;
  /** Admissions held by this instance, whose leases it renews. */
  private readonly leases: HeldLeases;
  private closed = false;

  /** `redis`: a client to share (left open at close()) or a URL for a client of its own. */
  constructor(redis: Redis | string, options: RedisRateLimiterOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_RATE_LIMIT_KEY_PREFIX;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.now = options.now;
    this.onError = options.onError ?? ((err) => console.error('[imagegate] Redis rate limiter:', err));
    if (typeof redis === 'string') {
      // Few retries: an admission waits for this answer, so a Redis outage should fail requests
      // quickly rather than hold them.
      this.client = new Redis(redis, { maxRetriesPerRequest: 1, connectTimeout: 5_000 });
      this.client.on('error', (err: unknown) => this.onError(err));
      this.ownsClient = true;
    } else {
      this.client = redis;
      this.ownsClient = false;
    }
    this.leases = new HeldLeases(this.client, { leaseMs: this.leaseMs, onError: this.onError, ...(this.now ? { now: this.now } : {}) });
  }

  async admit(keyId: string, limits: KeyLimits): Promise<Admission> {
    const rpm = checkLimit('rpm', limits.rpm);
    const maxConcurrent = checkLimit('maxConcurrent', limits.maxConcurrent);
    if (rpm === null && maxConcurrent === null) return { release: () => {}, headers: {} };
    if (this.closed) throw new Error('RedisRateLimiter is closed');

    const id = randomUUID();
    const rpmKey = this.key(keyId, 'rpm');
    const inFlightKey = this.key(keyId, 'inflight');
    const reply = await runScript(
      this.client,
      ADMIT_SCRIPT,
      [rpmKey, inFlightKey],
      [
        clockArg(this.now),
        String(rpm ?? 0),
        String(rpm === null ? 0 : WINDOW_MS * rpm),
        String(REQUEST_COST),
        String(maxConcurrent ?? 0),
        id,
        String(this.leaseMs),
      ],
    );
    const { outcome, used } = parseAdmitReply(reply);
    const rpmView: RpmView | null = rpm === null ? null : { limit: rpm, used };
    if (outcome === CONCURRENCY_REFUSED && maxConcurrent !== null) throw concurrencyRefusal(maxConcurrent, rpmView);
    if (outcome === RPM_REFUSED && rpmView) throw rpmRefusal(rpmView);
    if (outcome !== ADMITTED) throw new Error(`Unexpected rate limit script outcome ${outcome}`);

    const headers = rpmView ? rpmHeaders(rpmView) : {};
    if (maxConcurrent === null) return { headers, release: () => {} }; // no slot was taken
    this.leases.hold(id, inFlightKey);
    return {
      headers,
      release: once(() => {
        if (this.closed && this.ownsClient) return; // our connection is gone; the lease frees the slot
        this.leases.release(id, inFlightKey);
      }),
    };
  }

  /**
   * Extends the lease of every admission this instance holds. Runs by itself every leaseMs / 3
   * while any is held; exposed for tests. Admissions whose lease had already run out are dropped
   * (not revived).
   */
  renew(): Promise<void> {
    return this.leases.renew();
  }

  /**
   * Stops renewing and, when the client was made from a URL, quits it. Admissions still held are
   * not released: their slots free when their leases run out.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leases.close();
    if (this.ownsClient) {
      try {
        await this.client.quit();
      } catch {
        this.client.disconnect();
      }
    }
  }

  private key(keyId: string, kind: 'rpm' | 'inflight'): string {
    return `${this.keyPrefix}{${keyId}}:${kind}`;
  }
}

function parseAdmitReply(reply: unknown): { outcome: number; used: number } {
  if (Array.isArray(reply) && reply.length === 2) {
    const [outcome, used] = reply as unknown[];
    const usedNumber = typeof used === 'string' ? Number(used) : NaN;
    if (typeof outcome === 'number' && Number.isFinite(usedNumber)) return { outcome, used: usedNumber };
  }
  throw new Error(`Unexpected rate limit script reply: ${JSON.stringify(reply)}`);
}
