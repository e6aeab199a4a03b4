/**
 * fal queue answers -> request URLs / UpstreamTaskState / ProviderResult / UpstreamFailure (fal's
 * queue documentation and its JS client, @fal-ai/client: queue.ts, response.ts, types/common.ts).
 *
 * - submit, `POST {base}/{app}`: `{request_id, response_url, status_url, cancel_url}`; an app with
 *   sub-paths (fal-ai/flux/dev) gets URLs under its base app (fal-ai/flux): the gateway uses the
 *   ones fal returns, once checked to be on the channel's origin (its key goes nowhere else).
 * - `GET status_url`: `{status: IN_QUEUE | IN_PROGRESS | COMPLETED, queue_position, response_url,
 *   logs?}`; COMPLETED also when the app failed (fal says so when the result is fetched).
 * - `GET response_url`: the app's output, `{images: [{url, content_type, width, height}], seed,
 *   has_nsfw_concepts?: boolean[]}`, or its error: 422 `{detail: [{loc, msg, type}]}` (or
 *   `detail` as a string), 5xx for a failed runner.
 *
 * Errors:
 * - `has_nsfw_concepts: true` for an image (fal's safety checker blacked it out): the image is left
 *   out; for every image, or a 422 whose detail type is `content_policy_violation`: the client's
 *   400 `content_policy_violation`;
 * - 401, 403: the key is refused (routing disables it); but a 403 "exhausted balance" (fal locks an
 *   account whose credit ran out) and a 402 are the account's credit: fail over (402); 429 too;
 * - 422 (validation): the client's 400, naming the field (fal's input name -> the gateway's param).
 * fal's image URLs live on its CDN; output/ downloads and stores them at once.
 */
import { answeredFormat } from '../answered-format.js';
import { CONTENT_POLICY_CODE, contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { isJsonObject, nonEmpty, parseJsonObject, urlImages, type JsonObject } from '../async-task-kit.js';
import type { UpstreamTaskState } from '../provider.js';
import type { UpstreamResponse } from '../transport.js';

/** fal's input names -> the gateway's params, for a 422 that names one. */
const PARAM_OF_INPUT: Readonly<Record<string, string>> = {
  prompt: 'prompt',
  image_size: 'size',
  aspect_ratio: 'size',
  resolution: 'size',
  num_images: 'n',
  output_format: 'output_format',
  image_url: 'image',
  image_urls: 'image',
  style: 'style',
};

/** The queue's URLs for one request, as fal answered a submit. */
export interface FalQueueUrls {
  readonly requestId: string;
  readonly responseUrl: string;
  readonly statusUrl: string;
  readonly cancelUrl: string;
}

export function parseSubmitAnswer(res: UpstreamResponse): FalQueueUrls {
  const json = successJson(res);
  const requestId = nonEmpty(json.request_id);
  const responseUrl = nonEmpty(json.response_url);
  const statusUrl = nonEmpty(json.status_url);
  const cancelUrl = nonEmpty(json.cancel_url);
  if (!requestId || !responseUrl || !statusUrl || !cancelUrl)
    throw new UpstreamFailure('protocol', 'fal answered the submit without request_id, response_url, status_url and cancel_url');
  return { requestId, responseUrl, statusUrl, cancelUrl };
}

/** Where a request stands; `resultUrl`: where a completed one's output is (fal's response_url, when it gives one). */
export function parseStatusAnswer(res: UpstreamResponse): { state: 'pending' | 'running'; position?: number } | { state: 'completed'; resultUrl?: string } {
  const json = successJson(res);
  switch (json.status) {
    case 'IN_QUEUE':
      return typeof json.queue_position === 'number' ? { state: 'pending', position: json.queue_position } : { state: 'pending' };
    case 'IN_PROGRESS':
      return { state: 'running' };
    case 'COMPLETED': {
      const resultUrl = nonEmpty(json.response_url);
      return resultUrl ? { state: 'completed', resultUrl } : { state: 'completed' };
    }
    default:
      throw new UpstreamFailure('protocol', `fal's queue answered an unknown status: ${JSON.stringify(json.status)}`);
  }
}

/**
 * A completed request's images. An image fal's safety checker flagged (`has_nsfw_concepts`, the
 * image blacked out) is left out, and only those delivered are charged; all flagged refuses the answer.
 */
export function parseResultAnswer(res: UpstreamResponse): UpstreamTaskState {
  const json = successJson(res);
  const flags = Array.isArray(json.has_nsfw_concepts) ? json.has_nsfw_concepts : [];
  const images = (Array.isArray(json.images) ? json.images : []).flatMap((image: unknown, index) => {
    const url = isJsonObject(image) ? nonEmpty(image.url) : undefined;
    const format = isJsonObject(image) ? formatOf(image.content_type) : undefined;
    return url === undefined ? [] : [{ url, format, flagged: flags[index] === true }];
  });
  const delivered = images.filter((image) => !image.flagged);
  // The app's own format (Kontext answers JPEG where the catalogue's default is PNG): answers and stream events report it.
  const format = delivered[0]?.format;
  if (delivered.length > 0)
    return { status: 'succeeded', result: { images: urlImages(delivered.map((image) => image.url)), ...(format ? { outputFormat: format } : {}) } };
  if (images.length > 0)
    throw contentRefusal("fal's safety checker flagged every image (has_nsfw_concepts)", "fal's safety checker flagged the image (NSFW concepts)");
  throw new UpstreamFailure('protocol', 'fal answered without images');
}

/** An image's content_type (`image/jpeg`) as an output format; undefined when it is none of ours. */
function formatOf(contentType: unknown): string | undefined {
  return typeof contentType === 'string' ? answeredFormat(/^image\/([a-z]+)/i.exec(contentType.trim())?.[1]) : undefined;
}

/** A non-2xx fal answer, in terms routing acts on. */
export function failureFromFal(res: UpstreamResponse): UpstreamFailure {
  const json = parseJsonObject(res.body);
  const detail = json?.detail;
  const first = Array.isArray(detail) ? detail.find(isJsonObject) : undefined;
  const message = nonEmpty(detail) ?? nonEmpty(first?.msg) ?? nonEmpty(json?.message) ?? nonEmpty(json?.error);
  const type = nonEmpty(first?.type) ?? nonEmpty(json?.error_type);
  if (type === CONTENT_POLICY_CODE) {
    const reason = message ?? 'fal refused the content';
    return contentRefusal(`fal answered ${res.status} content_policy_violation: ${reason}`, reason);
  }
  const status = statusFor(res.status, message);
  const param = status === 400 ? paramOf(first) : undefined;
  const said: UpstreamErrorBody = { ...(message !== undefined ? { message } : {}), code: type ?? null, ...(param !== undefined ? { param } : {}) };
  const what = `fal answered ${res.status}${status !== res.status ? ` (as ${status})` : ''}${message ? `: ${message}` : ''}`;
  return new UpstreamFailure('http', what, status, said, parseRetryAfter(res.headers['retry-after']));
}

/** fal's statuses whose meaning routing reads otherwise: a validation error is the client's 400, a locked account out of credit a 402. */
function statusFor(status: number, message: string | undefined): number {
  if (status === 422) return 400;
  if ((status === 403 || status === 401) && message !== undefined && /exhausted balance|insufficient (balance|credit)/i.test(message)) return 402;
  return status;
}

/** The gateway's param for a 422's `loc` (`["body", "image_size", ...]`). */
function paramOf(error: JsonObject | undefined): string | undefined {
  const loc = Array.isArray(error?.loc) ? error.loc : [];
  const input = loc.find((part: unknown): part is string => typeof part === 'string' && part !== 'body');
  if (input === undefined) return undefined;
  return PARAM_OF_INPUT[input] ?? input;
}

function successJson(res: UpstreamResponse): JsonObject {
  if (res.status < 200 || res.status >= 300) throw failureFromFal(res);
  const json = parseJsonObject(res.body);
  if (!json) throw new UpstreamFailure('protocol', 'fal answered with malformed JSON');
  return json;
}
