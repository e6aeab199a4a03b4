/**
 * Circuit breakers per channel: after `failureThreshold` consecutive failures the channel is
 * skipped for `cooldownMs`; then one probe request may try it (half-open); success closes the
 * circuit, failure opens it again. A probe not heard back from within a cooldown lets another
 * go. A Retry-After from the upstream also parks the channel.
 *
 * `ChannelBreakers` is the seam: `CircuitBreakers` here keeps the state in memory, for one
 * instance; with Redis, redis-channel-health.ts keeps the same state for every instance. Both
 * judge an entry with the functions below.
 */
export interface BreakerSettings {
  failureThreshold: number;
  cooldownMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  /** Until when the channel is skipped (breaker open or Retry-After), epoch ms. */
  unavailableUntil: number | null;
  lastError: string | null;
}

export interface ChannelBreakers {
  /** May a request go to this channel now? (Does not change state.) */
  isAvailable(channelId: string): Promise<boolean>;
  /** When a skipped channel becomes available again (null if it is available, unknown, or being probed). */
  availableAt(channelId: string): Promise<number | null>;
  /** Call when a request is sent; an open circuit past its cooldown becomes the half-open probe. */
  onAttempt(channelId: string): Promise<void>;
  onSuccess(channelId: string): Promise<void>;
  onFailure(channelId: string, reason: string): Promise<void>;
  /** The upstream asked us to wait (Retry-After): skip the channel until then. */
  retryAfter(channelId: string, ms: number): Promise<void>;
  snapshot(channelId: string): Promise<BreakerSnapshot>;
}

/** One channel's breaker, wherever it is kept. */
export interface BreakerEntry {
  state: BreakerState;
  failures: number;
  openUntil: number;
  /** While half-open: until when the probe sent is waited for (0: none out). */
  probeUntil: number;
  retryAfterUntil: number;
  lastError: string | null;
}

export function isAvailableAt(e: BreakerEntry | undefined, now: number): boolean {
  if (!e) return true;
  if (e.retryAfterUntil > now) return false;
  if (e.state === 'closed') return true;
  if (e.state === 'open') return now >= e.openUntil;
  return e.probeUntil <= now;
}

export function availableAtOf(e: BreakerEntry | undefined, now: number): number | null {
  if (!e || isAvailableAt(e, now)) return null;
  return Math.max(e.retryAfterUntil, e.state === 'open' ? e.openUntil : 0) || null;
}

export function snapshotOf(e: BreakerEntry | undefined, now: number): BreakerSnapshot {
  if (!e) return { state: 'closed', consecutiveFailures: 0, unavailableUntil: null, lastError: null };
  const state = e.state === 'open' && now >= e.openUntil ? 'half-open' : e.state;
  return { state, consecutiveFailures: e.failures, unavailableUntil: availableAtOf(e, now), lastError: e.lastError };
}

export class CircuitBreakers implements ChannelBreakers {
  private readonly entries = new Map<string, BreakerEntry>();

  constructor(
    private readonly settings: BreakerSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async isAvailable(channelId: string): Promise<boolean> {
    return isAvailableAt(this.entries.get(channelId), this.now());
  }

  async availableAt(channelId: string): Promise<number | null> {
    return availableAtOf(this.entries.get(channelId), this.now());
  }

  async onAttempt(channelId: string): Promise<void> {
    const e = this.entries.get(channelId);
    if (!e) return;
    const now = this.now();
    if (e.state === 'open' && now >= e.openUntil) e.state = 'half-open';
    if (e.state === 'half-open') e.probeUntil = now + this.settings.cooldownMs;
  }

  async onSuccess(channelId: string): Promise<void> {
    const e = this.entries.get(channelId);
    if (!e) return;
    e.state = 'closed';
    e.failures = 0;
    e.probeUntil = 0;
  }

  async onFailure(channelId: string, reason: string): Promise<void> {
    const e = this.entry(channelId);
    e.failures += 1;
    e.lastError = reason;
    e.probeUntil = 0;
    if (e.state === 'half-open' || e.failures >= this.settings.failureThreshold) {
      e.state = 'open';
      e.openUntil = this.now() + this.settings.cooldownMs;
    }
  }

  async retryAfter(channelId: string, ms: number): Promise<void> {
    const e = this.entry(channelId);
    e.retryAfterUntil = Math.max(e.retryAfterUntil, this.now() + ms);
  }

  async snapshot(channelId: string): Promise<BreakerSnapshot> {
    return snapshotOf(this.entries.get(channelId), this.now());
  }

  private entry(channelId: string): BreakerEntry {
    let e = this.entries.get(channelId);
    if (!e) {
      e = { state: 'closed', failures: 0, openUntil: 0, probeUntil: 0, retryAfterUntil: 0, lastError: null };
      this.entries.set(channelId, e);
    }
    return e;
  }
}
