/**
 * How an upstream call failed, in terms routing can act on (retry? fail over? tell the client?).
 * Providers throw it; routing turns the last one into the client's GatewayError.
 */
export type UpstreamFailureKind =
  /** Could not connect, or the connection broke (also a body cut short). */
  | 'connection'
  /** No complete answer within the channel's timeout. */
  | 'timeout'
  /** The upstream answered with a non-2xx status. */
  | 'http'
  /** A 2xx answer we cannot use: malformed JSON, no images, not an image. */
  | 'protocol'
  /** An async upstream task ended in its failed state (the upstream's reason in the message). */
  | 'task_failed'
  /** The client went away; nothing to retry. */
  | 'aborted';

export interface UpstreamErrorBody {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
    readonly status?: number,
    readonly upstreamError?: UpstreamErrorBody,
    /** From the upstream's Retry-After header. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'UpstreamFailure';
  }

  /**
   * Connection errors, timeouts, 408, 429 and 5xx may succeed elsewhere or later; so may 402
   * (that upstream account is out of credit) and 404 (that channel lacks the model or deployment).
   */
  get retryable(): boolean {
    if (this.kind === 'aborted' || this.kind === 'task_failed') return false;
    if (this.kind !== 'http') return true;
    const s = this.status ?? 0;
    return s === 402 || s === 404 || s === 408 || s === 429 || s >= 500;
  }
}

/** Retry-After: seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
