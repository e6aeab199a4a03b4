/**
 * Channel concurrency caps (max_concurrent) held across every instance through Redis: one leased
 * set of requests in flight per channel (redis/leases.ts), so three instances together keep a
 * channel at its cap, and the slots of an instance killed mid-request free within a lease.
 *
 * Each instance also counts its own requests in memory: a request needs room in both, and while
 * Redis is unreachable the local count alone holds the cap, per instance (as without Redis).
 * Channels without a cap never touch Redis.
 *
 * Key, for a channel id C under the prefix P (`<IMAGEGATE_REDIS_PREFIX>:ch:`):
 *   P{C}:inflight  zset request id → lease end (ms)   TTL: the lease
 */
import { randomUUID } from 'node:crypto';
import { HeldLeases, LUA_LEASES } from '../redis/leases.js';
import { clockArg, LUA_NOW, luaScript, runScript } from '../redis/lua-scripts.js';
import type { RedisLink } from '../redis/redis-link.js';
import { ConcurrencyLimiter, type ChannelSlots } from './concurrency.js';

/** How long a slot holds without renewal (renewed every third of it): a killed instance's slots free within it. */
export const DEFAULT_SLOT_LEASE_MS = 30_000;

/** KEYS: in-flight set. ARGV: now | '', cap. Returns 1 when there is room. */
const ROOM_SCRIPT = luaScript(`${LUA_NOW}${LUA_LEASES}
return liveLeases(KEYS[1]) < tonumber(ARGV[2]) and 1 or 0
`);

/** KEYS: in-flight set. ARGV: now | '', cap, request id, lease ms. Returns 1 when the slot was taken. */
const ACQUIRE_SCRIPT = luaScript(`${LUA_NOW}${LUA_LEASES}
if liveLeases(KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
takeLease(KEYS[1], ARGV[3], tonumber(ARGV[4]))
return 1
`);

export interface RedisChannelSlotsOptions {
  /** Prefix of every key written, e.g. `imagegate:ch:`. */
  keyPrefix: string;
  leaseMs?: number;
  /** The clock, in ms. Default: the Redis server's. Only tests should pass one. */
  now?: () => number;
  /** Renewals and releases Redis refused (quiet during an outage). */
  onError: (err: unknown) => void;
}

export class RedisChannelSlots implements ChannelSlots {
  /** This instance's own requests: the cap while Redis is away. */
  private readonly local = new ConcurrencyLimiter();
  private readonly leases: HeldLeases;
  private readonly leaseMs: number;

  constructor(
    private readonly link: RedisLink,
    private readonly options: RedisChannelSlotsOptions,
  ) {
    this.leaseMs = options.leaseMs ?? DEFAULT_SLOT_LEASE_MS;
    this.leases = new HeldLeases(link.client, { leaseMs: this.leaseMs, onError: options.onError, ...(options.now ? { now: options.now } : {}) });
  }

  async hasRoom(channelId: string, cap: number): Promise<boolean> {
    if (cap <= 0) return true;
    if (!(await this.local.hasRoom(channelId, cap))) return false;
    return this.link.orLocal(
      async () => (await runScript(this.link.client, ROOM_SCRIPT, [this.key(channelId)], [clockArg(this.options.now), String(cap)])) === 1,
      () => true,
    );
  }

  async tryAcquire(channelId: string, cap: number): Promise<(() => void) | null> {
    const releaseLocal = this.local.take(channelId, cap);
    if (!releaseLocal || cap <= 0) return releaseLocal;
    const id = randomUUID();
    const key = this.key(channelId);
    const taken = await this.link.orLocal(
      async () =>
        (await runScript(this.link.client, ACQUIRE_SCRIPT, [key], [clockArg(this.options.now), String(cap), id, String(this.leaseMs)])) === 1
          ? 'shared'
          : 'full',
      () => 'local' as const,
    );
    if (taken === 'full') {
      releaseLocal();
      return null;
    }
    if (taken === 'local') return releaseLocal;
    this.leases.hold(id, key);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      releaseLocal();
      this.leases.release(id, key);
    };
  }

  count(channelId: string): number {
    return this.local.count(channelId);
  }

  /** Stops renewing: what is still held frees when its lease runs out. */
  close(): void {
    this.leases.close();
  }

  private key(channelId: string): string {
    return `${this.options.keyPrefix}{${channelId}}:inflight`;
  }
}
