/**
 * Stability's answers -> one image / UpstreamFailure (its v2beta API reference: each endpoint's
 * responses, and "Errors").
 *
 * A success, asked with `Accept: image/*`, is the image's bytes (content-type image/png,
 * image/jpeg or image/webp) with headers `finish-reason` (SUCCESS or CONTENT_FILTERED) and `seed`.
 * (`Accept: application/json`, which a channel's `headers` may ask for instead, gives the same as
 * `{image: base64, finish_reason, seed}`, read too.)
 * CONTENT_FILTERED means Stability's moderation blurred or withheld the result: the client's 400
 * `content_policy_violation`, never an image. The image's own header says its size (Core makes
 * about 1.5 megapixels, the edits answer in the input's shape), reported when the job left it `auto`.
 *
 * Errors are JSON `{id, name, errors: ["field: message", ...]}`:
 * - 400 (bad_request): the client's 400, the field named where an error starts with one (in the
 *   client's terms: aspect_ratio is size, style_preset style);
 * - 403 `content_moderation`: the client's 400 `content_policy_violation` (a 403 must not disable
 *   the key); any other 401 or 403 is a refused key (routing disables it);
 * - 402 (the account's credits are spent): that account cannot pay, another channel may;
 * - 413 (the request is over 10 MiB: the input image): the client's 400 `image_too_large`;
 * - 422 (well-formed but refused, e.g. a language it does not take): the client's mistake, relayed;
 * - 429 and 5xx: retried or failed over (Retry-After kept).
 */
import type { ProviderResult } from '../../core/job.js';
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { readImageHeader } from '../../core/image-header.js';
import { nonEmpty, nonEmptyStrings, parseJsonObject } from '../async-task-kit.js';
import type { UpstreamResponse } from '../transport.js';

/** The code OpenAI's Images API gives a refused prompt; clients of this gateway expect it. */
const MODERATION_NAME = 'content_moderation';
const FILTERED = 'CONTENT_FILTERED';
/** Stability's form fields whose client-side name differs. */
const CLIENT_PARAM: Readonly<Record<string, string>> = { aspect_ratio: 'size', style_preset: 'style', output_format: 'output_format' };
const IMAGE_TYPES = /^image\/(png|jpeg|webp)\b/i;
const JSON_TYPE = /^application\/json\b/i;
/** Base64 of the first 64 KB (4 characters per 3 bytes): enough for any PNG, WebP or JPEG size header a generator writes. */
const HEADER_BASE64_CHARS = 87_384;

/** One image of a 2xx `Accept: image/*` answer; a filtered one is the client's content-policy 400. */
export function parseStabilityImage(res: UpstreamResponse): ProviderResult {
  if (res.status < 200 || res.status >= 300) throw failureFromStability(res);
  const contentType = res.headers['content-type'] ?? '';
  if (JSON_TYPE.test(contentType)) return parseJsonImage(res.body);
  checkFinish(res.headers['finish-reason']);
  if (!IMAGE_TYPES.test(contentType)) throw new UpstreamFailure('protocol', `Stability answered ${contentType || 'no content-type'} where an image was due`);
  // Bytes, not base64, came over the wire (a third smaller); output/ takes base64, made once here.
  return imageResult(res.body, Buffer.from(res.body.toString('base64'), 'latin1'));
}

/** `Accept: application/json` (a channel's `headers` may ask for it): `{image: base64, finish_reason, seed}`. */
function parseJsonImage(body: Buffer): ProviderResult {
  const json = parseJsonObject(body);
  if (json === null) throw new UpstreamFailure('protocol', 'Stability answered with malformed JSON');
  checkFinish(nonEmpty(json.finish_reason));
  const image = nonEmpty(json.image);
  if (image === undefined) throw new UpstreamFailure('protocol', 'Stability answered JSON without an image');
  // The header is in the first bytes: only a prefix is decoded to read it.
  return imageResult(Buffer.from(image.slice(0, HEADER_BASE64_CHARS), 'base64'), Buffer.from(image, 'latin1'));
}

/** CONTENT_FILTERED: Stability's moderation blurred or withheld the image, the client's content-policy 400. */
function checkFinish(finishReason: string | undefined): void {
  if (finishReason?.trim().toUpperCase() !== FILTERED) return;
  const reason = 'Stability’s content moderation filtered the generated image (finish_reason CONTENT_FILTERED).';
  throw contentRefusal(`Stability filtered the image (${FILTERED})`, reason);
}

function imageResult(bytes: Buffer, base64: Buffer): ProviderResult {
  const header = readImageHeader(bytes);
  if (header === null) throw new UpstreamFailure('protocol', 'Stability answered bytes that are not an image');
  return { images: [{ kind: 'b64', base64: [base64] }], size: `${header.width}x${header.height}` };
}

/** A non-2xx Stability answer, in terms routing acts on. */
export function failureFromStability(res: UpstreamResponse): UpstreamFailure {
  const json = parseJsonObject(res.body);
  const name = nonEmpty(json?.name);
  const errors = nonEmptyStrings(json?.errors);
  const message = errors.length > 0 ? errors.join('; ') : (nonEmpty(json?.message) ?? (json ? undefined : textOf(res.body)));
  const what = `Stability answered ${res.status}${name ? ` ${name}` : ''}${message ? `: ${message}` : ''}`;
  if (name === MODERATION_NAME) {
    const reason = message ?? 'Stability’s content moderation refused the request.';
    return contentRefusal(what, reason);
  }
  if (res.status === 413) {
    return new UpstreamFailure('http', what, 400, {
      message: message ?? 'The request is larger than Stability takes (10 MiB).',
      code: 'image_too_large',
      param: 'image',
    });
  }
  const said: UpstreamErrorBody = { ...(message !== undefined ? { message } : {}), code: name ?? null, param: res.status === 400 ? paramOf(errors) : null };
  return new UpstreamFailure('http', what, res.status, said, parseRetryAfter(res.headers['retry-after']));
}

/** The field a 400 names (Stability writes `field: what is wrong`), in the client's terms. */
function paramOf(errors: readonly string[]): string | null {
  const field = /^([a-z_]+)\s*:/.exec(errors[0] ?? '')?.[1];
  return field === undefined ? null : (CLIENT_PARAM[field] ?? field);
}

function textOf(body: Buffer): string | undefined {
  const text = body.toString('utf8').trim();
  return text === '' ? undefined : text.slice(0, 300);
}
