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

/** The one code every refusal of content carries, whichever vendor (or the gateway itself) refused. */
export const CONTENT_POLICY_CODE = 'content_policy_violation';

/**
 * An upstream refused the content (the prompt, an input image or what it generated) by its own
 * safety filter: every provider reports it through this, whatever its vendor calls it (OpenAI's
 * `moderation_blocked`, Gemini's `blockReason`, DashScope's `DataInspectionFailed`...). Routing
 * makes it the client's 400 `content_policy_violation` with `reason`, never retried elsewhere.
 * `detail`: the operator's log line (the vendor's own code kept there).
 */
export function contentRefusal(detail: string, reason: string): UpstreamFailure {
  return new UpstreamFailure('http', detail, 400, { code: CONTENT_POLICY_CODE, message: reason, param: null });
}

/** Whether a failure is an upstream's content refusal (contentRefusal). */
export function isContentRefusal(failure: UpstreamFailure): boolean {
  return failure.kind === 'http' && failure.status === 400 && failure.upstreamError?.code === CONTENT_POLICY_CODE;
}

/** Retry-After: seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
