/** The last upstream failure -> the one clear error the client sees. Never leaks a secret. */
import { contentPolicyViolation, gatewayError, upstreamInvalidResponse, upstreamRejected, type GatewayError } from '../core/errors.js';
import { isContentRefusal, type UpstreamFailure } from '../core/upstream-failure.js';

const SECRET_PATTERNS = [/\b(sk|ig|key)-[A-Za-z0-9_-]{6,}/g, /Bearer\s+\S+/gi];
const MAX_MESSAGE = 500;

export function sanitizeUpstreamMessage(message: string, secrets: readonly string[]): string {
  let text = message;
  for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join('***');
  for (const pattern of SECRET_PATTERNS) text = text.replace(pattern, '***');
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

export function clientErrorFor(failure: UpstreamFailure, secrets: readonly string[]): GatewayError {
  switch (failure.kind) {
    case 'timeout':
      return gatewayError('upstream_timeout', `The upstream did not answer in time (${failure.message}).`);
    case 'connection':
      return gatewayError('upstream_unavailable', 'The upstream could not be reached or closed the connection.');
    case 'protocol':
      return upstreamInvalidResponse(`The upstream sent an unusable answer: ${failure.message}.`);
    case 'task_failed':
      return gatewayError('upstream_task_failed', `The upstream task failed: ${sanitizeUpstreamMessage(failure.message, secrets)}`);
    case 'aborted':
      return gatewayError('client_closed_request', 'The client closed the request.');
    case 'http':
      return httpError(failure, secrets);
  }
}

function httpError(failure: UpstreamFailure, secrets: readonly string[]): GatewayError {
  const status = failure.status ?? 502;
  const upstream = failure.upstreamError ?? {};
  const reason = upstream.message ? sanitizeUpstreamMessage(upstream.message, secrets) : undefined;
  // Every vendor's safety refusal, one shape: 400 content_policy_violation with the vendor's reason.
  if (isContentRefusal(failure)) return contentPolicyViolation(reason ?? 'The upstream refused the content under its content policy.');
  // The caller's own mistake (bad parameter, content policy): theirs to fix, with the upstream's reason.
  if (status === 400 || status === 422) {
    return upstreamRejected(upstream.code, upstream.param ?? null, reason ?? 'The upstream rejected the request.');
  }
  if (status === 429) {
    const retry: Record<string, string> = failure.retryAfterMs !== undefined ? { 'retry-after': String(Math.ceil(failure.retryAfterMs / 1000)) } : {};
    return gatewayError('upstream_rate_limited', 'The upstream is rate limiting this gateway; try again shortly.', { headers: retry });
  }
  if (status === 401 || status === 403) {
    return gatewayError('upstream_auth_failed', 'The gateway could not authenticate with the upstream.');
  }
  if (status === 408 || status === 504) {
    return gatewayError('upstream_timeout', 'The upstream timed out.');
  }
  return gatewayError('upstream_error', `The upstream failed with status ${status}.`);
}
