/**
 * Why a run's signal was aborted, where it matters upstream: a run stopped because the gateway is
 * shutting down is resumed later by its stored upstream id, so its upstream work must go on; any
 * other abort (the caller gone, the deadline past) abandons it, and a queue that can cancel may.
 */
export class GatewayShutdown extends Error {
  override name = 'GatewayShutdown';

  constructor() {
    super('imagegate is shutting down');
  }
}

/** Aborted, and not by a shutdown: nobody will come back for the upstream work. */
export function abandoned(signal: AbortSignal): boolean {
  return signal.aborted && !(signal.reason instanceof GatewayShutdown);
}
