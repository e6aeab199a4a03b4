/**
 * Ark's answers (Volcengine Ark, BytePlus ModelArk) -> ProviderResult / UpstreamFailure.
 *
 * A success: `{model, created, data: [{url | b64_json, size} | {error: {code, message}}], usage:
 * {generated_images, output_tokens, total_tokens}}`. An item with an error is one image of a group
 * that failed (a moderation refusal does not stop the group); the others are delivered and billed.
 * `url` images are Ark's links (valid 24 hours): output/ stores them like any url upstream's.
 *
 * A stream (`stream: true`) is server-sent events, each `data:` a JSON object whose `type` says
 * what it is, then `data: [DONE]`:
 * - `image_generation.partial_succeeded`: one finished image (url or b64_json, size, image_index).
 *   Despite the name it is never a preview: it is read as a completed image (OpenAI's
 *   `image_generation.completed`), and the gateway's stream sends it as one;
 * - `image_generation.partial_failed`: one image failed (error), as a failed group item above;
 * - `image_generation.completed`: the end, with usage (and an error when the whole request failed).
 *
 * Errors: `{error: {code, message, param, type}}` with the HTTP status Ark documents:
 * - a moderation refusal (`InputTextSensitiveContentDetected`, `InputImageSensitiveContentDetected`,
 *   `OutputImageSensitiveContentDetected`, `...SensitiveContentDetected`) is the client's 400
 *   `content_policy_violation` with Ark's reason, whatever its status;
 * - `AccountOverdueError` (403: the account is in arrears) is a 402: that account cannot pay,
 *   another channel may (a 403 would disable the key, which is not at fault);
 * - 429 (`RateLimitExceeded...`, `QuotaExceeded`, `ServerOverloaded`) fails over as it is;
 * - 401 (`AuthenticationError`) disables the key, as any 401.
 */
import type { ImageUsage, ProviderResult, UpstreamImage } from '../../core/job.js';
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { parseJsonLifting, type LiftedJson } from '../lifted-json.js';
import { imageOf, stringBytes } from '../openai/response.js';
import { parseSse } from '../sse.js';
import type { UpstreamResponse } from '../transport.js';

type Json = Record<string, unknown>;

const SENSITIVE_CODE = /SensitiveContentDetected/;
const ARREARS_CODE = /^AccountOverdue/;
/** The keys whose values may be megabytes of base64. */
const IMAGE_KEYS = ['b64_json', 'url'];

/** What one Ark call gave: its images, the failed images' errors, what it said besides. */
export interface SeedreamAnswer {
  readonly images: readonly UpstreamImage[];
  readonly failures: readonly UpstreamErrorBody[];
  readonly size?: string;
  readonly usage?: ImageUsage;
}

export function readSeedreamJson(res: UpstreamResponse): SeedreamAnswer {
  if (res.status < 200 || res.status >= 300) throw failureFromSeedream(res.status, res.body, res.headers['retry-after']);
  let parsed: LiftedJson;
  try {
    parsed = parseJsonLifting(res.chunks ?? [res.body], IMAGE_KEYS);
  } catch {
    throw new UpstreamFailure('protocol', 'Seedream answered with malformed JSON');
  }
  const json = objectOf(parsed.value);
  // A 200 may carry only an error for the whole request (then it is that error); otherwise data[] is due.
  if (json === undefined || (!Array.isArray(json.data) && (json.error === undefined || json.error === null))) {
    throw new UpstreamFailure('protocol', 'Seedream answer has no data array');
  }
  const answer = new AnswerBuilder();
  for (const item of Array.isArray(json.data) ? json.data : []) answer.item(objectOf(item), parsed);
  answer.end(json);
  return answer.result();
}

/** A streamed answer: its events until `[DONE]` (or the stream's end). */
export async function readSeedreamStream(body: AsyncIterable<Buffer>): Promise<SeedreamAnswer> {
  const answer = new AnswerBuilder();
  for await (const event of parseSse(body)) {
    const text = event.data.toString('utf8').trim();
    if (text === '' || text === '[DONE]') continue;
    let parsed: LiftedJson;
    try {
      parsed = parseJsonLifting([event.data], IMAGE_KEYS);
    } catch {
      throw new UpstreamFailure('protocol', 'Seedream streamed an event that is not JSON');
    }
    const json = objectOf(parsed.value);
    if (json === undefined) continue;
    if (json.type === 'image_generation.partial_succeeded' || json.type === 'image_generation.partial_failed') answer.item(json, parsed);
    else if (json.type === 'image_generation.completed' || json.error !== undefined) answer.end(json);
  }
  return answer.result();
}

/** The images of one or more calls as one result; a call with no image is its failures' refusal. */
export function resultOf(answers: readonly SeedreamAnswer[]): ProviderResult {
  const images = answers.flatMap((a) => a.images);
  if (images.length === 0) throw failureOfItems(answers.flatMap((a) => a.failures));
  const size = answers.find((a) => a.size !== undefined)?.size;
  const usage = sumUsage(answers.flatMap((a) => (a.usage ? [a.usage] : [])));
  return { images, ...(size !== undefined ? { size } : {}), ...(usage ? { usage } : {}) };
}

export function failureFromSeedream(status: number, body: Buffer, retryAfter?: string): UpstreamFailure {
  const error = errorBodyOf(objectOf(parseJson(body.toString('utf8')))?.error);
  const said = error.message ? `: ${error.message}` : '';
  if (SENSITIVE_CODE.test(error.code ?? '')) {
    return contentRefusal(`Seedream refused the request (${error.code})${said}`, error.message ?? 'Seedream refused the request under its content policy.');
  }
  if (ARREARS_CODE.test(error.code ?? '')) {
    return new UpstreamFailure('http', `Seedream answered ${status} (${error.code}: the account is in arrears, 402)${said}`, 402, error);
  }
  return new UpstreamFailure('http', `Seedream answered ${status}${error.code ? ` (${error.code})` : ''}${said}`, status, error, parseRetryAfter(retryAfter));
}

// ---------------------------------------------------------------------------

class AnswerBuilder {
  private readonly images: UpstreamImage[] = [];
  private readonly failures: UpstreamErrorBody[] = [];
  private size: string | undefined;
  private usage: ImageUsage | undefined;
  private error: UpstreamErrorBody | undefined;

  /** One data[] item or per-image event: an image, or a failed image's error. */
  item(item: Json | undefined, parsed: LiftedJson): void {
    if (item === undefined) return;
    if (item.error !== undefined && item.error !== null) {
      this.failures.push(errorBodyOf(item.error));
      return;
    }
    const image = imageOf(item, (value) => parsed.lifted(value) ?? stringBytes(value));
    if (image === null) return;
    this.images.push(image);
    if (typeof item.size === 'string' && this.size === undefined) this.size = item.size;
  }

  /** The answer's own fields: usage, and an error for the whole request. */
  end(json: Json): void {
    this.usage = usageOf(json.usage) ?? this.usage;
    if (json.error !== undefined && json.error !== null) this.error = errorBodyOf(json.error);
  }

  result(): SeedreamAnswer {
    // An error for the whole request with nothing delivered is that error (a stream's 200 carries it).
    if (this.images.length === 0 && this.error !== undefined) throw failureOfItems([this.error]);
    return {
      images: this.images,
      failures: this.failures,
      ...(this.size !== undefined ? { size: this.size } : {}),
      ...(this.usage !== undefined ? { usage: this.usage } : {}),
    };
  }
}

/** No image came: a moderation refusal among the reasons is the client's 400; anything else an unusable answer. */
function failureOfItems(failures: readonly UpstreamErrorBody[]): UpstreamFailure {
  const refusal = failures.find((f) => SENSITIVE_CODE.test(f.code ?? ''));
  if (refusal) {
    return contentRefusal(
      `Seedream refused the request (${refusal.code})${refusal.message ? `: ${refusal.message}` : ''}`,
      refusal.message ?? 'Seedream refused the request under its content policy.',
    );
  }
  const first = failures[0];
  return new UpstreamFailure('protocol', `Seedream delivered no image${first ? ` (${first.code ?? 'error'}: ${first.message ?? ''})` : ''}`);
}

/** Ark's usage as the gateway's: it counts output tokens only (its total is their sum), and the images. */
function usageOf(value: unknown): ImageUsage | undefined {
  const usage = objectOf(value);
  if (usage === undefined || typeof usage.output_tokens !== 'number') return undefined;
  const output = usage.output_tokens;
  const total = typeof usage.total_tokens === 'number' ? usage.total_tokens : output;
  return {
    total_tokens: total,
    input_tokens: Math.max(0, total - output),
    output_tokens: output,
    ...(typeof usage.generated_images === 'number' ? { generated_images: usage.generated_images } : {}),
  };
}

function sumUsage(usages: readonly ImageUsage[]): ImageUsage | undefined {
  if (usages.length === 0) return undefined;
  if (usages.length === 1) return usages[0];
  const sum = (key: string) => usages.reduce((total, u) => total + (typeof u[key] === 'number' ? (u[key] as number) : 0), 0);
  return {
    total_tokens: sum('total_tokens'),
    input_tokens: sum('input_tokens'),
    output_tokens: sum('output_tokens'),
    generated_images: sum('generated_images'),
  };
}

function errorBodyOf(value: unknown): UpstreamErrorBody {
  const error = objectOf(value);
  if (error === undefined) return typeof value === 'string' ? { message: value } : {};
  return {
    ...(typeof error.code === 'string' ? { code: error.code } : {}),
    ...(typeof error.message === 'string' ? { message: error.message } : {}),
    ...(typeof error.type === 'string' ? { type: error.type } : {}),
    ...(typeof error.param === 'string' && error.param !== '' ? { param: error.param } : {}),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function objectOf(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}
