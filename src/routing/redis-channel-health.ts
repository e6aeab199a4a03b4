/**
 * Circuit breakers and Retry-After parking shared by every instance through Redis: a channel one
 * instance finds failing is skipped by all the others without their failing first, and after
 * the cooldown, once one instance has sent the probe, the others wait for its answer.
 *
 * The state machine is CircuitBreakers' (circuit-breaker.ts) written as one Lua script over one
 * hash per channel, on the Redis server's clock; what is read back is judged by the same
 * functions as in memory.
 *
 * Each instance also feeds its own in-memory breakers with what it sees. While Redis is
 * unreachable those decide, per instance, as without Redis; they are warm when it goes.
 *
 * Key, for a channel id C under the prefix P (`<IMAGEGATE_REDIS_PREFIX>:ch:`):
 *   P{C}:breaker  hash { state, failures, open_until, probe_until, retry_after_until, last_error }
 *   TTL: a day past its last change, or past its parking if that is later.
 */
import { clockArg, LUA_NOW, luaScript, runScript } from '../redis/lua-scripts.js';
import type { RedisLink } from '../redis/redis-link.js';
import {
  availableAtOf,
  CircuitBreakers,
  isAvailableAt,
  snapshotOf,
  type BreakerEntry,
  type BreakerSettings,
  type BreakerSnapshot,
  type BreakerState,
  type ChannelBreakers,
} from './circuit-breaker.js';

/** KEYS: breaker hash. ARGV: now | ''. Returns its fields (nil when missing) and the clock. */
const READ_SCRIPT = luaScript(`${LUA_NOW}
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'open_until', 'probe_until', 'retry_after_until', 'last_error')
return { h[1], h[2], h[3], h[4], h[5], h[6], int(now) }
`);

/**
 * KEYS: breaker hash. ARGV: now | '', event (attempt | success | failure | retry-after),
 * failure threshold, cooldown ms, then the failure's reason or the Retry-After in ms.
 * The transitions of CircuitBreakers, event for event.
 */
const EVENT_SCRIPT = luaScript(`${LUA_NOW}
local KEEP_MS = 86400000
local event, threshold, cooldown = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'open_until', 'probe_until', 'retry_after_until')
local exists = h[1] ~= false
local state = h[1] or 'closed'
local failures = tonumber(h[2] or '0')
local openUntil = tonumber(h[3] or '0')
local probeUntil = tonumber(h[4] or '0')
local retryAfterUntil = tonumber(h[5] or '0')

if event == 'attempt' then
  if not exists then return 0 end
  if state == 'open' and now >= openUntil then state = 'half-open' end
  if state == 'half-open' then probeUntil = now + cooldown end
elseif event == 'success' then
  if not exists then return 0 end
  state, failures, probeUntil = 'closed', 0, 0
elseif event == 'failure' then
  failures = failures + 1
  probeUntil = 0
  redis.call('HSET', KEYS[1], 'last_error', ARGV[5])
  if state == 'half-open' or failures >= threshold then
    state = 'open'
    openUntil = now + cooldown
  end
elseif event == 'retry-after' then
  retryAfterUntil = math.max(retryAfterUntil, now + tonumber(ARGV[5]))
else
  return redis.error_reply('unknown breaker event ' .. tostring(event))
end

redis.call('HSET', KEYS[1], 'state', state, 'failures', int(failures), 'open_until', int(openUntil), 'probe_until', int(probeUntil), 'retry_after_until', int(retryAfterUntil))
redis.call('PEXPIRE', KEYS[1], int(math.max(KEEP_MS, openUntil - now + KEEP_MS, retryAfterUntil - now + KEEP_MS)))
return 1
`);

type BreakerEvent = 'attempt' | 'success' | 'failure' | 'retry-after';

export interface RedisChannelHealthOptions {
  /** Prefix of every key written, e.g. `imagegate:ch:`. */
  keyPrefix: string;
  /** The clock, in ms. Default: the Redis server's. Only tests should pass one. */
  now?: () => number;
}

export class RedisCircuitBreakers implements ChannelBreakers {
  /** What this instance saw itself: the answer while Redis is away. */
  private readonly local: CircuitBreakers;

  constructor(
    private readonly link: RedisLink,
    private readonly settings: BreakerSettings,
    private readonly options: RedisChannelHealthOptions,
  ) {
    this.local = new CircuitBreakers(settings, options.now);
  }

  isAvailable(channelId: string): Promise<boolean> {
    return this.decide(channelId, isAvailableAt, () => this.local.isAvailable(channelId));
  }

  availableAt(channelId: string): Promise<number | null> {
    return this.decide(channelId, availableAtOf, () => this.local.availableAt(channelId));
  }

  snapshot(channelId: string): Promise<BreakerSnapshot> {
    return this.decide(channelId, snapshotOf, () => this.local.snapshot(channelId));
  }

  /** The shared state read through `view`; this instance's own while Redis is away. */
  private decide<T>(channelId: string, view: (entry: BreakerEntry | undefined, now: number) => T, local: () => Promise<T>): Promise<T> {
    return this.link.orLocal(async () => {
      const { entry, now } = await this.read(channelId);
      return view(entry, now);
    }, local);
  }

  async onAttempt(channelId: string): Promise<void> {
    await this.local.onAttempt(channelId);
    await this.tell(channelId, 'attempt');
  }

  async onSuccess(channelId: string): Promise<void> {
    await this.local.onSuccess(channelId);
    await this.tell(channelId, 'success');
  }

  async onFailure(channelId: string, reason: string): Promise<void> {
    await this.local.onFailure(channelId, reason);
    await this.tell(channelId, 'failure', reason);
  }

  async retryAfter(channelId: string, ms: number): Promise<void> {
    await this.local.retryAfter(channelId, ms);
    await this.tell(channelId, 'retry-after', String(Math.max(0, Math.round(ms))));
  }

  /** Records an event in Redis (when it is reachable: otherwise only this instance knows). */
  private async tell(channelId: string, event: BreakerEvent, detail = ''): Promise<void> {
    const args = [clockArg(this.options.now), event, String(this.settings.failureThreshold), String(this.settings.cooldownMs), detail];
    await this.link.orLocal(
      () => runScript(this.link.client, EVENT_SCRIPT, [this.key(channelId)], args),
      () => undefined,
    );
  }

  private async read(channelId: string): Promise<{ entry: BreakerEntry | undefined; now: number }> {
    const reply = await runScript(this.link.client, READ_SCRIPT, [this.key(channelId)], [clockArg(this.options.now)]);
    return parseReadReply(reply);
  }

  private key(channelId: string): string {
    return `${this.options.keyPrefix}{${channelId}}:breaker`;
  }
}

const STATES: readonly string[] = ['closed', 'open', 'half-open'] satisfies BreakerState[];

function parseReadReply(reply: unknown): { entry: BreakerEntry | undefined; now: number } {
  if (!Array.isArray(reply) || reply.length !== 7) throw new Error(`Unexpected breaker script reply: ${JSON.stringify(reply)}`);
  const [state, failures, openUntil, probeUntil, retryAfterUntil, lastError, now] = reply as unknown[];
  const number = (value: unknown) => (typeof value === 'string' ? Number(value) : 0);
  if (typeof state !== 'string' || !STATES.includes(state)) return { entry: undefined, now: number(now) };
  return {
    entry: {
      state: state as BreakerState,
      failures: number(failures),
      openUntil: number(openUntil),
      probeUntil: number(probeUntil),
      retryAfterUntil: number(retryAfterUntil),
      lastError: typeof lastError === 'string' ? lastError : null,
    },
    now: number(now),
  };
}
