/**
 * Per-channel caps on requests in flight (a channel's max_concurrent). `ChannelSlots` is the
 * seam: `ConcurrencyLimiter` here counts in memory, for one instance; with Redis,
 * redis-concurrency.ts holds the cap across every instance.
 */
export interface ChannelSlots {
  /** A release function (idempotent), or null when the channel is at its cap (0 = no cap). */
  tryAcquire(channelId: string, cap: number): Promise<(() => void) | null>;
  hasRoom(channelId: string, cap: number): Promise<boolean>;
  /** Requests this instance has in flight on the channel. */
  count(channelId: string): number;
}

export class ConcurrencyLimiter implements ChannelSlots {
  private readonly inFlight = new Map<string, number>();

  async tryAcquire(channelId: string, cap: number): Promise<(() => void) | null> {
    return this.take(channelId, cap);
  }

  async hasRoom(channelId: string, cap: number): Promise<boolean> {
    return cap <= 0 || this.count(channelId) < cap;
  }

  count(channelId: string): number {
    return this.inFlight.get(channelId) ?? 0;
  }

  /** tryAcquire, in one synchronous step (so nothing else can take the slot in between). */
  take(channelId: string, cap: number): (() => void) | null {
    const current = this.count(channelId);
    if (cap > 0 && current >= cap) return null;
    this.inFlight.set(channelId, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight.set(channelId, (this.inFlight.get(channelId) ?? 1) - 1);
    };
  }
}
