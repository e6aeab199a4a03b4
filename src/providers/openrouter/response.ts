/**
 * OpenRouter's chat completion answer -> the images of one call, or UpstreamFailure.
 *
 * Images are `choices[0].message.images[].image_url.url`, base64 data URIs (read from the answer
 * as it arrived, the base64 never a JS string); an https URL is taken as a URL image. Errors are
 * `{error: {code, message, metadata?}}`, with the HTTP status of `code` when the request itself
 * failed, or inside a 200 answer when the model failed after OpenRouter accepted it:
 * - 401 (a disabled or unknown key) stays 401: routing disables the key;
 * - 402 (the account or key is out of credits) stays 402: another channel may pay;
 * - 429 (rate limited) fails over after Retry-After;
 * - 403 whose metadata lists `reasons` (OpenRouter's moderation flagged the input): the client's
 *   400 content_policy_violation with the reasons and the flagged text; a 403 without them
 *   (a key not allowed the model) stays 403;
 * - 400 is the client's 400, naming our field where OpenRouter's message names its own;
 * - no image and the model's safety refusal (finish_reason `content_filter`, a Google safety
 *   native_finish_reason such as IMAGE_SAFETY, or a `refusal`): the client's 400
 *   content_policy_violation with the reason; no image otherwise: an unusable answer.
 * `usage` (prompt_tokens, completion_tokens, completion_tokens_details.image_tokens) becomes
 * OpenAI's image usage.
 */
import type { ImageUsage, UpstreamImage } from '../../core/job.js';
import { ropeFrom, ropeIndexOf, ropeLength, ropeSlice, type Rope } from '../../core/rope.js';
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { objectOf, stringOf } from '../google/errors.js';
import { parseJsonLifting, type LiftedJson } from '../lifted-json.js';
import type { UpstreamResponse } from '../transport.js';

export interface OpenRouterCallResult {
  readonly images: readonly UpstreamImage[];
  readonly usage?: ImageUsage;
  /** The images' format as their data URI named it (png, jpeg, webp). */
  readonly outputFormat?: string;
}

const SAFETY_FINISH = new Set([
  'content_filter',
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'IMAGE_PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'IMAGE_RECITATION',
]);
const MAX_TEXT_REASON = 300;
/** Enough of a data URI for its `data:image/png;base64,` head. */
const DATA_URI_HEAD = 64;

/** Words of OpenRouter's 400 messages -> the client's field they are about. */
const FIELD_WORDS: readonly (readonly [RegExp, string])[] = [
  [/aspect_ratio|image_size|image_config/, 'size'],
  [/image_url|input image|images? (?:is|are) (?:too|not)/i, 'image'],
  [/\bmodel\b/, 'model'],
  [/\bseed\b/, 'seed'],
  [/\buser\b/, 'user'],
  [/messages|content|prompt/i, 'prompt'],
];

export function parseOpenRouterAnswer(res: UpstreamResponse): OpenRouterCallResult {
  if (res.status < 200 || res.status >= 300) throw failureFromOpenRouter(res.status, res.body, res.headers['retry-after']);
  let parsed: LiftedJson;
  try {
    parsed = parseJsonLifting(res.chunks ?? [res.body], ['url']);
  } catch {
    throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  }
  const json = objectOf(parsed.value);
  if (!json) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  // The model failed after OpenRouter accepted the request: the error rides in a 200 answer.
  if (objectOf(json.error)) throw failureOf(objectOf(json.error) ?? {}, res.status, res.headers['retry-after']);
  const choice = objectOf(Array.isArray(json.choices) ? json.choices[0] : undefined);
  const message = objectOf(choice?.message);
  const images: UpstreamImage[] = [];
  let format: string | undefined;
  for (const entry of Array.isArray(message?.images) ? message.images : []) {
    const url = objectOf(objectOf(entry)?.image_url)?.url;
    const image = imageOf(parsed.lifted(url) ?? (typeof url === 'string' ? [Buffer.from(url, 'latin1')] : undefined));
    if (!image) continue;
    images.push(image.image);
    format ??= image.format;
  }
  if (images.length === 0) throw noImage(choice, message);
  const usage = usageOf(objectOf(json.usage));
  return { images, ...(usage ? { usage } : {}), ...(format ? { outputFormat: format } : {}) };
}

/** A data URI's base64 as a rope (no copy), or an http(s) URL as a URL image. */
function imageOf(url: Rope | undefined): { image: UpstreamImage; format?: string } | undefined {
  if (!url || ropeLength(url) === 0) return undefined;
  const head = ropeSlice(url, 0, Math.min(DATA_URI_HEAD, ropeLength(url))).toString('latin1');
  if (/^https?:\/\//i.test(head)) return { image: { kind: 'url', url: Buffer.concat(url).toString('utf8') } };
  const match = /^data:image\/([a-z0-9.+-]+);base64,/i.exec(head);
  if (!match) return undefined;
  const comma = ropeIndexOf(url, 0x2c);
  const base64 = ropeFrom(url, comma + 1);
  if (ropeLength(base64) === 0) return undefined;
  return { image: { kind: 'b64', base64 }, format: (match[1] ?? '').toLowerCase() };
}

function noImage(choice: Record<string, unknown> | undefined, message: Record<string, unknown> | undefined): UpstreamFailure {
  const finish = stringOf(choice?.finish_reason);
  const native = stringOf(choice?.native_finish_reason);
  const refusal = stringOf(message?.refusal);
  const said = typeof message?.content === 'string' ? message.content.slice(0, 200) : '';
  if (refusal !== undefined) return openRouterRefusal(`the model refused: ${refusal}`);
  const safety = [native, finish].find((reason) => reason !== undefined && SAFETY_FINISH.has(reason));
  if (safety !== undefined) return openRouterRefusal(`the model made no image (${safety})${said ? `: ${said}` : ''}`);
  return new UpstreamFailure('protocol', `OpenRouter answered no image (finish_reason ${finish ?? 'none'})${said ? `: ${said}` : ''}`);
}

/** An OpenRouter error answer (a non-2xx status) -> UpstreamFailure. */
export function failureFromOpenRouter(status: number, body: Buffer, retryAfter: string | undefined): UpstreamFailure {
  const text = body.toString('utf8').trim();
  const error = objectOf(objectOf(parseJson(text))?.error);
  if (!error) {
    const message = text.slice(0, MAX_TEXT_REASON);
    return new UpstreamFailure(
      'http',
      `upstream answered ${status}${message ? `: ${message}` : ''}`,
      status,
      message ? { message } : {},
      parseRetryAfter(retryAfter),
    );
  }
  return failureOf(error, status, retryAfter);
}

function failureOf(error: Record<string, unknown>, httpStatus: number, retryAfter: string | undefined): UpstreamFailure {
  const code = typeof error.code === 'number' && error.code >= 400 && error.code < 600 ? error.code : httpStatus >= 400 ? httpStatus : 502;
  const metadata = objectOf(error.metadata);
  const message = stringOf(error.message) ?? `OpenRouter error ${code}`;
  const reasons = Array.isArray(metadata?.reasons) ? metadata.reasons.filter((r): r is string => typeof r === 'string') : [];
  if (code === 403 && reasons.length > 0) {
    const flagged = stringOf(metadata?.flagged_input);
    return openRouterRefusal(`OpenRouter's moderation flagged the input (${reasons.join(', ')})${flagged ? `: "${flagged}"` : ''}`);
  }
  const raw = stringOf(metadata?.raw);
  const detail = raw && raw !== message ? `${message} (${raw.slice(0, MAX_TEXT_REASON)})` : message;
  const said: UpstreamErrorBody = { message: detail, code: typeof error.code === 'string' ? error.code : null };
  if (code === 400 || code === 422) said.param = paramOf(detail);
  return new UpstreamFailure('http', `upstream answered ${code}: ${detail}`, code, said, parseRetryAfter(retryAfter));
}

/** Our field an OpenRouter 400 is about, from the words of its message (null when it names none we know). */
function paramOf(message: string): string | null {
  return FIELD_WORDS.find(([words]) => words.test(message))?.[1] ?? null;
}

function usageOf(usage: Record<string, unknown> | undefined): ImageUsage | undefined {
  const input = count(usage?.prompt_tokens);
  const output = count(usage?.completion_tokens);
  if (input === undefined || output === undefined) return undefined;
  const imageOutput = count(objectOf(usage?.completion_tokens_details)?.image_tokens);
  return {
    total_tokens: count(usage?.total_tokens) ?? input + output,
    input_tokens: input,
    output_tokens: output,
    ...(imageOutput !== undefined
      ? { output_tokens_details: { image_tokens: Math.min(output, imageOutput), text_tokens: Math.max(0, output - imageOutput) } }
      : {}),
  };
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A refusal by OpenRouter's moderation or the model's safety filter: the client's content-policy 400. */
function openRouterRefusal(reason: string): UpstreamFailure {
  return contentRefusal(`OpenRouter refused the content: ${reason}`, reason);
}
