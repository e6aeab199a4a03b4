/** Per-channel caps on requests in flight (per instance). */
export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();

  /** A release function, or null when the channel is at its cap (0 = no cap). */
  tryAcquire(channelId: string, cap: number): (() => void) | null {
    const current = this.inFlight.get(channelId) ?? 0;
    if (cap > 0 && current >= cap) return null;
    this.inFlight.set(channelId, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight.set(channelId, (this.inFlight.get(channelId) ?? 1) - 1);
    };
  }

  hasRoom(channelId: string, cap: number): boolean {
    return cap <= 0 || (this.inFlight.get(channelId) ?? 0) < cap;
  }

  count(channelId: string): number {
    return this.inFlight.get(channelId) ?? 0;
  }
}
