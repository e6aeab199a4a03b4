/**
 * A circuit breaker per channel (per instance): after `failureThreshold` consecutive failures the
 * channel is skipped for `cooldownMs`; then one probe request may try it (half-open); success
 * closes the circuit, failure opens it again. A Retry-After from the upstream also parks it.
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

interface Entry {
  state: BreakerState;
  failures: number;
  openUntil: number;
  probing: boolean;
  retryAfterUntil: number;
  lastError: string | null;
}

export class CircuitBreakers {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly settings: BreakerSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** May a request go to this channel now? (Does not change state.) */
  isAvailable(channelId: string): boolean {
    const e = this.entries.get(channelId);
    if (!e) return true;
    const now = this.now();
    if (e.retryAfterUntil > now) return false;
    if (e.state === 'closed') return true;
    if (e.state === 'open') return now >= e.openUntil;
    return !e.probing;
  }

  /** When a skipped channel becomes available again (null if it is available or unknown). */
  availableAt(channelId: string): number | null {
    const e = this.entries.get(channelId);
    if (!e || this.isAvailable(channelId)) return null;
    return Math.max(e.retryAfterUntil, e.state === 'open' ? e.openUntil : 0) || null;
  }

  /** Call when a request is sent; an open circuit past its cooldown becomes the half-open probe. */
  onAttempt(channelId: string): void {
    const e = this.entries.get(channelId);
    if (!e) return;
    if (e.state === 'open' && this.now() >= e.openUntil) e.state = 'half-open';
    if (e.state === 'half-open') e.probing = true;
  }

  onSuccess(channelId: string): void {
    const e = this.entries.get(channelId);
    if (!e) return;
    e.state = 'closed';
    e.failures = 0;
    e.probing = false;
  }

  onFailure(channelId: string, reason: string): void {
    const e = this.entry(channelId);
    e.failures += 1;
    e.lastError = reason;
    e.probing = false;
    if (e.state === 'half-open' || e.failures >= this.settings.failureThreshold) {
      e.state = 'open';
      e.openUntil = this.now() + this.settings.cooldownMs;
    }
  }

  /** The upstream asked us to wait (429 Retry-After): skip the channel until then. */
  retryAfter(channelId: string, ms: number): void {
    const e = this.entry(channelId);
    e.retryAfterUntil = Math.max(e.retryAfterUntil, this.now() + ms);
  }

  snapshot(channelId: string): BreakerSnapshot {
    const e = this.entries.get(channelId);
    if (!e) return { state: 'closed', consecutiveFailures: 0, unavailableUntil: null, lastError: null };
    const state = e.state === 'open' && this.now() >= e.openUntil ? 'half-open' : e.state;
    return { state, consecutiveFailures: e.failures, unavailableUntil: this.availableAt(channelId), lastError: e.lastError };
  }

  private entry(channelId: string): Entry {
    let e = this.entries.get(channelId);
    if (!e) {
      e = { state: 'closed', failures: 0, openUntil: 0, probing: false, retryAfterUntil: 0, lastError: null };
      this.entries.set(channelId, e);
    }
    return e;
  }
}
