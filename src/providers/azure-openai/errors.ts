/**
 * Azure OpenAI answers -> ProviderResult / UpstreamFailure. Successes and the common error fields
 * are OpenAI's (reused from ../openai/response.ts); this adds what Azure does differently:
 * codes that are just the status ("401", "404") or Azure names ("DeploymentNotFound"),
 * content-filter details under `inner_error` / `innererror`, and no `type`.
 */
import type { ProviderResult } from '../../core/job.js';
import { CONTENT_POLICY_CODE, contentRefusal, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { failureFromResponse, parseImagesResponse } from '../openai/response.js';
import type { UpstreamResponse } from '../transport.js';

type Json = Record<string, unknown>;

/** Azure's spellings of a content-filter refusal (images docs: contentFilter; chat: content_filter). */
const AZURE_CONTENT_FILTER_CODES = new Set(['contentFilter', 'content_filter', CONTENT_POLICY_CODE]);

export function parseAzureImagesResponse(res: UpstreamResponse): ProviderResult {
  if (res.status < 200 || res.status >= 300) throw azureFailureFromResponse(res);
  try {
    return parseImagesResponse(res);
  } catch (err) {
    // Azure's DALL-E docs show a refusal as `{created, error}`: report the reason, not "no data".
    const error = errorObject(res.body);
    if (!(err instanceof UpstreamFailure) || err.kind !== 'protocol' || error === undefined) throw err;
    const body = errorBody(error);
    const message = `upstream answered ${res.status} with an error instead of images${describe(error, body)}`;
    throw new UpstreamFailure('protocol', message, res.status, body);
  }
}

/** OpenAI's reading of a non-2xx answer (message, param, Retry-After), with Azure's codes made useful. */
export function azureFailureFromResponse(res: UpstreamResponse): UpstreamFailure {
  const base = failureFromResponse(res);
  const error = errorObject(res.body);
  if (error === undefined) return base;
  const body = errorBody(error);
  const detail = `upstream answered ${res.status}${describe(error, body)}`;
  if (body.code === CONTENT_POLICY_CODE) return contentRefusal(detail, body.message ?? 'Azure OpenAI refused the content under its content policy.');
  return new UpstreamFailure('http', detail, res.status, body, base.retryAfterMs);
}

/** The error fields routing and clients see. */
function errorBody(error: Json): UpstreamErrorBody {
  const body: UpstreamErrorBody = {};
  const message = [stringOf(error.message), innerSummary(error)].filter((part) => part !== undefined && part !== '').join(' ');
  if (message !== '') body.message = message;
  const type = stringOf(error.type);
  if (type !== undefined) body.type = type;
  if (typeof error.param === 'string' || error.param === null) body.param = error.param;
  const code = normalizeCode(rawCode(error), innerOf(error));
  if (code !== undefined) body.code = code;
  return body;
}

/** " (Code): message" for the failure's own message, keeping Azure's original code for operators. */
function describe(error: Json, body: UpstreamErrorBody): string {
  const code = rawCode(error);
  return `${code !== undefined ? ` (${code})` : ''}${body.message ? `: ${body.message}` : ''}`;
}

function normalizeCode(code: string | undefined, inner: Json | undefined): string | undefined {
  if (code !== undefined && AZURE_CONTENT_FILTER_CODES.has(code)) return CONTENT_POLICY_CODE;
  if (code === undefined && stringOf(inner?.code) === 'ResponsibleAIPolicyViolation') return CONTENT_POLICY_CODE;
  // Azure's gateway errors carry the status as their code ("401", "404"): no information, and a
  // client-facing 400 would otherwise get "400" as its code.
  if (code !== undefined && /^\d{3}$/.test(code)) return undefined;
  return code;
}

/** "[ResponsibleAIPolicyViolation: violence, hate]" from Azure's inner error, if any. */
function innerSummary(error: Json): string | undefined {
  const inner = innerOf(error);
  if (inner === undefined) return undefined;
  const code = stringOf(inner.code);
  const results = objectOf(inner.content_filter_results) ?? objectOf(inner.content_filter_result);
  const filtered = results === undefined ? [] : Object.keys(results).filter((key) => objectOf(results[key])?.filtered === true);
  if (code === undefined && filtered.length === 0) return undefined;
  return `[${[code ?? 'filtered', filtered.join(', ')].filter((part) => part !== '').join(': ')}]`;
}

/** Images use `inner_error` (the REST spec), chat uses `innererror`; accept both. */
function innerOf(error: Json): Json | undefined {
  return objectOf(error.inner_error) ?? objectOf(error.innererror);
}

/** Azure sends codes as strings, but some gateways send the status as a number. */
function rawCode(error: Json): string | undefined {
  if (typeof error.code === 'number') return String(error.code);
  return stringOf(error.code);
}

function errorObject(body: Buffer): Json | undefined {
  try {
    return objectOf(objectOf(JSON.parse(body.toString('utf8')) as unknown)?.error);
  } catch {
    return undefined;
  }
}

function objectOf(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
