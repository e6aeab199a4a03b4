/**
 * Replicate's answers -> predictions, their state, and UpstreamFailure (Replicate's HTTP API
 * reference and its JavaScript client, replicate-javascript):
 *
 * - A prediction: `{id, model, version, input, output, error, logs, status, created_at,
 *   started_at, completed_at, urls: {get, cancel, stream, web}, metrics}`; status is `starting`,
 *   `processing`, then `succeeded`, `failed`, `canceled` (or `aborted`, a deadline it set). An image
 *   model's output is one URL or an array of URLs (replicate.delivery, valid an hour: output/
 *   downloads and stores them at once; a data URI, which the clients also read, is taken as it is).
 * - Errors are problem details, `{title, detail, status}`: 401 an unknown or disabled token (routing
 *   disables the key), 402 insufficient credit and 429 throttling (`retry_after` in the body and
 *   Retry-After) fail over; 422 (the input fails the model's schema) lists `invalid_fields:
 *   [{type, field: "input.width", description}]` and is the client's 400 naming the field.
 * - A prediction that fails because its safety checker flagged the prompt or the image ("NSFW
 *   content detected", "flagged as sensitive", code E005) is the client's 400
 *   content_policy_violation with Replicate's words, never retried.
 */
import { answeredFormat } from '../answered-format.js';
import { base64FromDataUri } from '../../core/image-bytes.js';
import type { ProviderResult, UpstreamImage } from '../../core/job.js';
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { isJsonObject, nonEmpty, parseJsonObject, type JsonObject } from '../async-task-kit.js';
import type { UpstreamTaskState } from '../provider.js';
import type { UpstreamResponse } from '../transport.js';

/** How Replicate's models word a safety refusal. */
const SAFETY_WORDS = /\bnsfw\b|flagged as sensitive|\(E005\)|content (?:policy|moderation)|safety (?:filter|checker)/i;

const PREDICTION_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface Prediction {
  readonly id: string;
  readonly state: UpstreamTaskState;
}

/** A 2xx prediction (create, get, cancel), its state read; a refusal throws. */
export function parsePrediction(res: UpstreamResponse): Prediction {
  if (res.status < 200 || res.status >= 300) throw failureFromReplicate(res);
  const json = parseJsonObject(res.body);
  if (!json) throw new UpstreamFailure('protocol', 'Replicate answered with malformed JSON');
  const id = nonEmpty(json.id);
  // Stored and joined with commas, then put in URLs: Replicate's ids are letters and digits.
  if (id === undefined || !PREDICTION_ID.test(id)) throw new UpstreamFailure('protocol', 'Replicate answered without a prediction id');
  return { id, state: stateOf(id, json) };
}

function stateOf(id: string, prediction: JsonObject): UpstreamTaskState {
  const status = prediction.status;
  switch (status) {
    case 'starting':
      return { status: 'pending' };
    case 'processing':
      return { status: 'running' };
    case 'succeeded':
      return succeeded(id, prediction.output);
    case 'failed':
      return failed(id, prediction.error);
    case 'canceled':
      return { status: 'failed', reason: `the Replicate prediction ${id} was canceled` };
    case 'aborted':
      return { status: 'failed', reason: `the Replicate prediction ${id} was aborted (its deadline passed before it ran)` };
    default:
      throw new UpstreamFailure('protocol', `Replicate prediction ${id} has an unknown status: ${JSON.stringify(status)}`);
  }
}

/** The output's image URLs: one string, or an array of them (nested arrays read in order). */
export function outputUrls(output: unknown): string[] {
  if (typeof output === 'string') return /^(?:https?:|data:)/.test(output) ? [output] : [];
  return Array.isArray(output) ? output.flatMap(outputUrls) : [];
}

function succeeded(id: string, output: unknown): UpstreamTaskState {
  const urls = outputUrls(output);
  if (urls.length === 0) throw new UpstreamFailure('protocol', `Replicate prediction ${id} succeeded without an image URL in its output`);
  const format = outputFormatOf(urls[0] ?? '');
  return { status: 'succeeded', result: { images: urls.map(outputImage), ...(format ? { outputFormat: format } : {}) } satisfies ProviderResult };
}

/** The format a model answered in (Recraft's WebP where the catalogue's default is PNG), from the file's extension or media type. */
function outputFormatOf(url: string): string | undefined {
  return answeredFormat(/^data:image\/([a-z]+)[;,]/i.exec(url)?.[1] ?? /\.([a-z]+)(?:[?#].*)?$/i.exec(url)?.[1]);
}

/** A replicate.delivery URL (downloaded by output/), or a data URI's base64 as it stands. */
function outputImage(url: string): UpstreamImage {
  if (!url.startsWith('data:')) return { kind: 'url', url };
  const base64 = base64FromDataUri([Buffer.from(url, 'latin1')]);
  if (base64 === null) throw new UpstreamFailure('protocol', 'Replicate answered a data URI that is not base64');
  return { kind: 'b64', base64 };
}

function failed(id: string, error: unknown): UpstreamTaskState {
  const reason = typeof error === 'string' && error.trim() !== '' ? error.trim() : isJsonObject(error) ? JSON.stringify(error) : undefined;
  if (reason !== undefined && SAFETY_WORDS.test(reason)) throw safetyRefusal(`prediction ${id} failed`, reason);
  return { status: 'failed', reason: `the Replicate prediction ${id} failed${reason !== undefined ? `: ${reason}` : ''}` };
}

function safetyRefusal(what: string, reason: string): UpstreamFailure {
  return contentRefusal(`Replicate refused the content (${what}): ${reason}`, reason);
}

/** A non-2xx Replicate answer, in terms routing acts on. */
export function failureFromReplicate(res: UpstreamResponse): UpstreamFailure {
  const json = parseJsonObject(res.body);
  const detail = nonEmpty(json?.detail) ?? nonEmpty(json?.title);
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']) ?? bodyRetryAfter(json?.retry_after);
  if (res.status === 422) return invalidInput(json, detail);
  if (res.status === 400 && detail !== undefined && SAFETY_WORDS.test(detail)) return safetyRefusal(`${res.status}`, detail);
  const said: UpstreamErrorBody = { ...(detail !== undefined ? { message: detail } : {}), code: null };
  return new UpstreamFailure('http', `Replicate answered ${res.status}${detail ? `: ${detail}` : ''}`, res.status, said, retryAfterMs);
}

function bodyRetryAfter(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
}

/** A 422: the first invalid field, named as the model's input names it (`input.width` -> width), as the client's 400. */
function invalidInput(json: JsonObject | null, detail: string | undefined): UpstreamFailure {
  const fields = (Array.isArray(json?.invalid_fields) ? json.invalid_fields : []).filter(isJsonObject);
  const first = fields[0];
  const field = nonEmpty(first?.field)?.replace(/^input\./, '') || undefined;
  const description = nonEmpty(first?.description);
  const message = field !== undefined && description !== undefined ? `${field}: ${description}` : (detail ?? 'Replicate refused the input');
  return new UpstreamFailure('http', `Replicate answered 422: ${detail ?? message}`, 400, { message, code: 'invalid_value', param: field ?? null });
}
