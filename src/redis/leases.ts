/**
 * Leased slots in Redis, for "how many are in flight" across instances. Not a bare counter (an
 * instance that dies would leak its increments forever) but a sorted set of ids, each scored by
 * the end of its lease. Scripts prune expired members before counting; the instance holding a
 * slot renews its lease every leaseMs / 3 while it holds it, and a release removes its member
 * (ZREM: idempotent, and it cannot go below zero). A dead instance's slots free when their leases
 * run out, at most leaseMs later. A lease that ran out (say Redis was unreachable for longer than
 * leaseMs) is not revived by renewal: its slot may already have been given to someone else.
 */
import type { Redis } from 'ioredis';
import { clockArg, LUA_NOW, luaScript, runScript } from './lua-scripts.js';

/**
 * Lua helpers for scripts that begin with LUA_NOW: liveLeases(key) prunes expired members and
 * counts the rest; takeLease(key, id, lease) adds one whose lease ends `lease` ms from now.
 */
export const LUA_LEASES = `
local function liveLeases(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now))
  return redis.call('ZCARD', key)
end
local function takeLease(key, id, lease)
  redis.call('ZADD', key, int(now + lease), id)
  redis.call('PEXPIRE', key, int(lease))
end
`;

/**
 * KEYS: a leased set. ARGV: now | '', lease ms, ids...
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

/** A release Redis could not take is sent again this often, until its lease would have ended anyway. */
const RELEASE_RETRY_MS = 1_000;

export interface HeldLeasesOptions {
  leaseMs: number;
  /** What fails outside a caller's await: renewals and releases Redis refused. */
  onError: (err: unknown) => void;
  /** The scripts' clock (see LUA_NOW); default the server's. */
  now?: () => number;
}

/** The leases this instance holds: renewed while held, removed when released. */
export class HeldLeases {
  /** Held lease id → its set. */
  private readonly held = new Map<string, string>();
  /** Released while Redis was away: lease id → its set and when the lease ends at the latest. */
  private readonly unreleased = new Map<string, { setKey: string; until: number }>();
  private renewTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private closed = false;
  private readonly leaseMs: number;

  constructor(
    private readonly client: Redis,
    private readonly options: HeldLeasesOptions,
  ) {
    this.leaseMs = options.leaseMs;
    if (!Number.isSafeInteger(this.leaseMs) || this.leaseMs < 3) {
      throw new RangeError(`leaseMs must be an integer of at least 3, got ${this.leaseMs}`);
    }
  }

  hold(id: string, setKey: string): void {
    this.held.set(id, setKey);
    if (this.renewTimer) return;
    this.renewTimer = setInterval(
      () => {
        this.renew().catch((err: unknown) => this.options.onError(err));
      },
      Math.floor(this.leaseMs / 3),
    );
    this.renewTimer.unref();
  }

  /**
   * Stops renewing and removes the member. Should Redis be unreachable, the removal is sent again
   * every second: a slot left taken after a Redis outage would otherwise stay taken for a lease.
   */
  release(id: string, setKey: string): void {
    this.held.delete(id);
    if (this.held.size === 0) this.stopRenewing();
    this.sendRelease(id, setKey);
  }

  /**
   * Extends the lease of every held id. Runs by itself every leaseMs / 3 while any is held;
   * exposed for tests. Ids whose lease had already run out are dropped (not revived).
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
          const lost = await runScript(this.client, RENEW_SCRIPT, [setKey], [clockArg(this.options.now), String(this.leaseMs), ...ids]);
          if (Array.isArray(lost)) for (const id of lost) if (typeof id === 'string') this.held.delete(id);
        }),
      );
      if (this.held.size === 0) this.stopRenewing();
    } finally {
      this.renewing = false;
    }
  }

  /** Stops renewing and retrying; what is still held frees when its lease runs out. */
  close(): void {
    this.closed = true;
    this.stopRenewing();
    this.held.clear();
    this.unreleased.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private sendRelease(id: string, setKey: string): void {
    this.client.zrem(setKey, id).then(
      () => this.unreleased.delete(id),
      (err: unknown) => {
        if (this.closed) return;
        const until = this.unreleased.get(id)?.until ?? Date.now() + this.leaseMs;
        if (Date.now() < until) this.unreleased.set(id, { setKey, until });
        else this.unreleased.delete(id);
        this.scheduleRetry();
        this.options.onError(err);
      },
    );
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.unreleased.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      for (const [id, { setKey }] of this.unreleased) this.sendRelease(id, setKey);
    }, RELEASE_RETRY_MS);
    this.retryTimer.unref();
  }

  private stopRenewing(): void {
    if (!this.renewTimer) return;
    clearInterval(this.renewTimer);
    this.renewTimer = null;
  }
}
