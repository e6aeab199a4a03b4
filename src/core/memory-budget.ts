/**
 * A process-wide bound on the bytes held in flight: request bodies being read and kept, and
 * upstream answers on their way to the client. New work that would pass it is refused (503, to
 * be retried), so a wave of large uploads meets a busy answer instead of an out-of-memory.
 * Work already accepted is never refused: what it holds is counted, even past the bound.
 */
import { gatewayError, requestTooLarge, type GatewayError } from './errors.js';

/** How long a refused client is told to wait: long enough for in-flight uploads to drain. */
export const MEMORY_RETRY_AFTER_SECONDS = 5;

export class MemoryBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get inUse(): number {
    return this.used;
  }

  /** Takes `bytes` if they fit under the limit; false (and nothing taken) when they do not. */
  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** Counts bytes already held by accepted work, past the limit if need be. */
  force(bytes: number): void {
    this.used += bytes;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

/**
 * What one request holds of the budget. Released when the request ends, or later when
 * something it started (storing its images) pins it past its end.
 */
export class MemoryHold {
  private held = 0;
  /** Bytes of the request body reserved so far (its declared length, or what has arrived). */
  private bodyReserved = 0;
  private bodyReceived = 0;
  /** The request itself, plus one per pin. */
  private pins = 1;
  private ended = false;

  constructor(private readonly budget: MemoryBudget) {}

  /**
   * Reserves a body's declared length before it is read. Throws 503 server_busy when it does
   * not fit now, 413 when this request could never fit.
   */
  reserveBody(bytes: number): void {
    this.take(bytes);
    this.bodyReserved += bytes;
  }

  /** Body bytes as they arrive: only what passes the reservation is taken (chunked bodies). */
  receivedBody(bytes: number): void {
    this.bodyReceived += bytes;
    const beyond = this.bodyReceived - this.bodyReserved;
    if (beyond <= 0) return;
    this.take(beyond);
    this.bodyReserved += beyond;
  }

  /** Bytes of work already accepted (an upstream's answer): counted, never refused. */
  add(bytes: number): void {
    if (this.pins === 0) return;
    this.budget.force(bytes);
    this.held += bytes;
  }

  /** Keeps what is held past the request's end until the returned function is called. */
  pin(): () => void {
    if (this.pins === 0) return () => {};
    this.pins++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.unpin();
    };
  }

  /** The request is over: its bytes go back once nothing pins them. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unpin();
  }

  private take(bytes: number): void {
    // Released already (the client went away): nothing more is counted for it.
    if (this.pins === 0) return;
    if (this.held + bytes > this.budget.limit) throw tooLargeToHold(this.budget.limit);
    if (!this.budget.tryTake(bytes)) throw serverBusy();
    this.held += bytes;
  }

  private unpin(): void {
    if (--this.pins > 0) return;
    this.budget.release(this.held);
    this.held = 0;
  }
}

/** 503: the gateway holds as much in flight as it may; the request can be sent again shortly. */
export function serverBusy(): GatewayError {
  return gatewayError('server_busy', 'The server is busy with other uploads and answers right now. Retry shortly.', {
    headers: { 'retry-after': String(MEMORY_RETRY_AFTER_SECONDS) },
  });
}

function tooLargeToHold(limit: number): GatewayError {
  return requestTooLarge(`The request is larger than the ${Math.floor(limit / 1048576)} MB this gateway holds in flight at once (IMAGEGATE_MEMORY_BUDGET).`);
}
