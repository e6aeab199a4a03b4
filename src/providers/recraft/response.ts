/**
 * Recraft's answers -> ProviderResult / UpstreamFailure.
 *
 * A success is OpenAI's ImagesResponse with Recraft's extras (`credits`, each image's
 * `image_id`): `{created, credits, data: [{image_id, url | b64_json, revised_prompt?}]}`, read by
 * the OpenAI reader. `url` images are Recraft's links, which expire (about 24 hours, its API
 * reference says): output/ downloads and stores them like any url upstream's, so the client's
 * link is the gateway's. A vector model's image is SVG text (its b64_json is that text in base64).
 *
 * Errors: Recraft documents a non-2xx status whose body is plain text or JSON (its "Errors" page:
 * 401 `request unauthorized`, 404 `404 page not found`, as text/plain). The JSON is read as
 * `{code, message}`, or `{error: {code, message}}`, or `{message}` / `{detail}`, whichever it is.
 * Two kinds of refusal are recognized by their words, since Recraft documents no codes for them:
 * - a safety refusal (its NSFW filter) is the client's 400 `content_policy_violation` with
 *   Recraft's reason, whatever status it came with (a 403 must not disable the key);
 * - an exhausted balance of API units is a 402: that account cannot pay, another channel may
 *   (routing fails over on 402 and 429 alike).
 */
import type { ProviderResult } from '../../core/job.js';
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { parseImagesResponse } from '../openai/response.js';
import type { UpstreamResponse } from '../transport.js';

const SAFETY_WORDS = /nsfw|safety|moderat|inappropriate|content[ _-]?polic|prohibited content/i;
const BALANCE_WORDS = /not enough (?:api )?(?:units|credits)|insufficient (?:api )?(?:units|credits|balance)|balance|quota/i;
/** The most of a text body kept as the reason (Recraft's text errors are one line). */
const MAX_TEXT_REASON = 300;

export function parseRecraftAnswer(res: UpstreamResponse): ProviderResult {
  if (res.status < 200 || res.status >= 300) throw failureFromRecraft(res);
  return parseImagesResponse(res);
}

export function failureFromRecraft(res: UpstreamResponse): UpstreamFailure {
  const { code, message } = errorFields(res);
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  const words = `${code ?? ''} ${message ?? ''}`;
  const said = (extra: UpstreamErrorBody): UpstreamErrorBody => ({ ...(message !== undefined ? { message } : {}), ...extra });
  if (res.status >= 400 && res.status < 500 && res.status !== 429 && SAFETY_WORDS.test(words)) {
    return contentRefusal(
      `upstream refused the prompt (${res.status})${message ? `: ${message}` : ''}`,
      message ?? 'Recraft refused the prompt under its content policy.',
    );
  }
  const status = res.status >= 400 && res.status < 500 && res.status !== 429 && BALANCE_WORDS.test(words) ? 402 : res.status;
  const failure = `upstream answered ${res.status}${status !== res.status ? ` (out of API units: ${status})` : ''}${message ? `: ${message}` : ''}`;
  return new UpstreamFailure('http', failure, status, said({ code: code ?? null }), retryAfterMs);
}

/** Recraft's code and message, from whichever shape its body has. */
function errorFields(res: UpstreamResponse): { code?: string; message?: string } {
  const text = res.body.toString('utf8').trim();
  const json = objectOf(parseJson(text));
  if (json === undefined) return text === '' ? {} : { message: text.slice(0, MAX_TEXT_REASON) };
  const inner = objectOf(json.error) ?? json;
  const message = stringOf(inner.message) ?? stringOf(inner.detail) ?? stringOf(json.error) ?? stringOf(json.detail);
  const code = stringOf(inner.code) ?? (typeof inner.code === 'number' ? String(inner.code) : undefined);
  return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
