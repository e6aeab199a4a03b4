/**
 * Google's error answers -> UpstreamFailure. Both APIs answer google.rpc.Status as JSON:
 * `{error: {code, message, status, details: [{"@type": "…/google.rpc.ErrorInfo", reason}, {"@type":
 * "…/google.rpc.RetryInfo", retryDelay: "30s"}]}}`. Read for what routing must know:
 * - a key the Gemini API does not know is a 400 INVALID_ARGUMENT whose ErrorInfo says
 *   API_KEY_INVALID: a 401 here, so the key is disabled (and UNAUTHENTICATED is 401 too);
 * - RESOURCE_EXHAUSTED (429: quota or rate) fails over, after RetryInfo's delay when given;
 * - a project without billing (FAILED_PRECONDITION naming billing) is a 402: that account cannot
 *   pay, another may;
 * - a prompt Google's Responsible AI filters refused (Imagen on Vertex AI answers 400 for it) is the
 *   client's 400 content_policy_violation with Google's reason.
 */
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import type { UpstreamResponse } from '../transport.js';

const SAFETY_WORDS = /responsible ai|safety|sensitive words|prohibited|violat(?:e|es|ing) (?:our|google)/i;
const BILLING_WORDS = /billing/i;
const MAX_TEXT_REASON = 300;

interface GoogleError {
  code?: number;
  message?: string;
  status?: string;
  reason?: string;
  retryDelayMs?: number;
}

export function failureFromGoogle(res: UpstreamResponse): UpstreamFailure {
  const error = googleError(res.body);
  const message = error.message;
  const said = (extra: UpstreamErrorBody): UpstreamErrorBody => ({ ...(message !== undefined ? { message } : {}), ...extra });
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']) ?? error.retryDelayMs;
  if (res.status === 400 && message !== undefined && SAFETY_WORDS.test(message) && error.reason !== 'API_KEY_INVALID') {
    return contentPolicyFailure(message);
  }
  const status =
    error.reason === 'API_KEY_INVALID' || error.status === 'UNAUTHENTICATED'
      ? 401
      : error.status === 'FAILED_PRECONDITION' && BILLING_WORDS.test(message ?? '')
        ? 402
        : res.status;
  const changed = status !== res.status ? ` (read as ${status}: ${error.reason ?? error.status})` : '';
  return new UpstreamFailure(
    'http',
    `upstream answered ${res.status}${changed}${message ? `: ${message}` : ''}`,
    status,
    said({ code: error.status ?? null }),
    retryAfterMs,
  );
}

/** A refusal by Google's safety filters: the client's 400 content_policy_violation with Google's reason. */
export function contentPolicyFailure(reason: string): UpstreamFailure {
  return contentRefusal(`upstream refused the prompt: ${reason}`, reason);
}

function googleError(body: Buffer): GoogleError {
  const text = body.toString('utf8').trim();
  const json = objectOf(parseJson(text));
  const error = objectOf(json?.error);
  if (!error) return text === '' ? {} : { message: text.slice(0, MAX_TEXT_REASON) };
  const details = Array.isArray(error.details) ? error.details.map(objectOf) : [];
  const reason = details.map((d) => stringOf(d?.reason)).find((r) => r !== undefined);
  const delay = details.map((d) => stringOf(d?.retryDelay)).find((r) => r !== undefined);
  const seconds = delay !== undefined ? /^(\d+(?:\.\d+)?)s$/.exec(delay)?.[1] : undefined;
  const message = stringOf(error.message);
  const status = stringOf(error.status);
  return {
    ...(typeof error.code === 'number' ? { code: error.code } : {}),
    ...(message !== undefined ? { message } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(seconds !== undefined ? { retryDelayMs: Math.round(Number(seconds) * 1000) } : {}),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
