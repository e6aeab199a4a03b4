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
 * Requests in flight are not a bare counter (an instance that dies would leak its increments
 * forever) but a sorted set of admission ids, each scored by the end of its lease. The script
 * prunes expired members before counting; the instance holding an admission renews its lease
 * every leaseMs / 3 while it is held, and release() removes its member (ZREM: idempotent on the
 * server as well as on the client, and it cannot go below zero). An instance that dies without
 * releasing frees its slots when their leases run out, at most leaseMs later. A lease that ran
 * out (say Redis was unreachable for longer than leaseMs) is not revived by renewal: its slot may
 * already have been given to someone else.
 *
 * Keys, for an API key id K under the prefix P (default `imagegate:rl:`):
 *   P{K}:rpm       hash { used, at, rpm }     TTL: until the budget has refilled
 *   P{K}:inflight  zset admission id → lease end (ms)   TTL: the lease
 * The `{K}` hash tag keeps both keys of one API key in one Redis Cluster slot.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
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

/** The clock, as the scripts read it: ARGV `now` in ms, or '' for the server's TIME. */
const LUA_NOW = `
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME, then writes
local function int(n) return string.format('%.0f', n) end -- exact integer text, never 1.7e+12
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * KEYS: rpm hash, in-flight zset.
 * ARGV: now | '', rpm (0 = none), budget (WINDOW_MS × rpm), request cost, maxConcurrent (0 = none),
 *       admission id, lease ms.
 * Returns { outcome, budget in use }: after this request when admitted, as it stands when refused.
 */
const ADMIT_SCRIPT = luaScript(`${LUA_NOW}
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
if maxConcurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', int(now))
  if redis.call('ZCARD', KEYS[2]) >= maxConcurrent then return {${CONCURRENCY_REFUSED}, int(used)} end
end

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

if maxConcurrent > 0 then
  redis.call('ZADD', KEYS[2], int(now + lease), ARGV[6])
  redis.call('PEXPIRE', KEYS[2], int(lease))
end
return {${ADMITTED}, int(used)}
`);

/**
 * KEYS: in-flight zset. ARGV: now | '', lease ms, admission ids...
 * Extends the leases of the ids still there; returns the ids whose lease had already run out.
 */
const RENEW_SCRIPT = luaScript(`${LUA_NOW}
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
local lost = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', int(now + lease), ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], int(lease)) end
return lost
`);

interface Script {
  readonly source: string;
  readonly sha: string;
}

export class RedisRateLimiter implements RateLimiter {
  private readonly client: Redis;
  /** Whether the client is ours (made from a URL), to quit at close(). */
  private readonly ownsClient: boolean;
  private readonly keyPrefix: string;
  private readonly leaseMs: number;
  private readonly now: (() => number) | undefined;
  private readonly onError: (err: unknown) => void;
  /** Admissions held by this instance (id → its in-flight set), whose leases it renews. */
  private readonly held = new Map<string, string>();
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private closed = false;

  /** `redis`: a client to share (left open at close()) or a URL for a client of its own. */
  constructor(redis: Redis | string, options: RedisRateLimiterOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_RATE_LIMIT_KEY_PREFIX;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    if (!Number.isSafeInteger(this.leaseMs) || this.leaseMs < 3) {
      throw new RangeError(`leaseMs must be an integer of at least 3, got ${this.leaseMs}`);
    }
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
  }

  async admit(keyId: string, limits: KeyLimits): Promise<Admission> {
    const rpm = checkLimit('rpm', limits.rpm);
    const maxConcurrent = checkLimit('maxConcurrent', limits.maxConcurrent);
    if (rpm === null && maxConcurrent === null) return { release: () => {}, headers: {} };
    if (this.closed) throw new Error('RedisRateLimiter is closed');

    const id = randomUUID();
    const rpmKey = this.key(keyId, 'rpm');
    const inFlightKey = this.key(keyId, 'inflight');
    const reply = await this.run(ADMIT_SCRIPT, [rpmKey, inFlightKey], [
      this.clockArg(),
      String(rpm ?? 0),
      String(rpm === null ? 0 : WINDOW_MS * rpm),
      String(REQUEST_COST),
      String(maxConcurrent ?? 0),
      id,
      String(this.leaseMs),
    ]);
    const { outcome, used } = parseAdmitReply(reply);
    const rpmView: RpmView | null = rpm === null ? null : { limit: rpm, used };
    if (outcome === CONCURRENCY_REFUSED && maxConcurrent !== null) throw concurrencyRefusal(maxConcurrent, rpmView);
    if (outcome === RPM_REFUSED && rpmView) throw rpmRefusal(rpmView);
    if (outcome !== ADMITTED) throw new Error(`Unexpected rate limit script outcome ${outcome}`);

    const headers = rpmView ? rpmHeaders(rpmView) : {};
    if (maxConcurrent === null) return { headers, release: () => {} }; // no slot was taken
    this.hold(id, inFlightKey);
    return {
      headers,
      release: once(() => {
        this.held.delete(id);
        if (this.held.size === 0) this.stopRenewing();
        if (this.closed && this.ownsClient) return; // our connection is gone; the lease frees the slot
        this.client.zrem(inFlightKey, id).catch((err: unknown) => this.onError(err));
      }),
    };
  }

  /**
   * Extends the lease of every admission this instance holds. Runs by itself every leaseMs / 3
   * while any is held; exposed for tests. Admissions whose lease had already run out are dropped
   * (not revived).
   */
  async renew(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    try {
      const bySet = new Map<string, string[]>();
      for (const [id, setKey] of this.held) {
        const ids = bySet.get(setKey);
        if (ids) ids.push(id);
        else bySet.set(setKey, [id]);
      }
      await Promise.all(
        [...bySet].map(async ([setKey, ids]) => {
          const lost = await this.run(RENEW_SCRIPT, [setKey], [this.clockArg(), String(this.leaseMs), ...ids]);
          if (Array.isArray(lost)) for (const id of lost) if (typeof id === 'string') this.held.delete(id);
        }),
      );
      if (this.held.size === 0) this.stopRenewing();
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Stops renewing and, when the client was made from a URL, quits it. Admissions still held are
   * not released: their slots free when their leases run out.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopRenewing();
    this.held.clear();
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

  private clockArg(): string {
    return this.now ? String(Math.floor(this.now())) : '';
  }

  private hold(id: string, setKey: string): void {
    this.held.set(id, setKey);
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => {
      this.renew().catch((err: unknown) => this.onError(err));
    }, Math.floor(this.leaseMs / 3));
    this.renewTimer.unref();
  }

  private stopRenewing(): void {
    if (!this.renewTimer) return;
    clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  /** EVALSHA, falling back to EVAL (which caches the script) when the server does not have it. */
  private async run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return this.client.eval(script.source, keys.length, ...keys, ...args);
    }
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

function luaScript(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}
