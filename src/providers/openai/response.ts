/** OpenAI's ImagesResponse and error envelope -> ProviderResult / UpstreamFailure. */
import { base64FromDataUri } from '../../core/image-bytes.js';
import type { ImageUsage, ProviderResult, ResultFields, UpstreamImage } from '../../core/job.js';
import { ropeLength, type Rope } from '../../core/rope.js';
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { parseJsonLifting, type LiftedJson } from '../lifted-json.js';
import type { UpstreamResponse } from '../transport.js';

export type Json = Record<string, unknown>;

export function parseImagesResponse(res: UpstreamResponse): ProviderResult {
  if (res.status < 200 || res.status >= 300) throw failureFromResponse(res);
  let parsed: LiftedJson;
  try {
    parsed = parseJsonLifting(res.chunks ?? [res.body], IMAGE_KEYS);
  } catch {
    throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  }
  const json = parsed.value;
  if (!isObject(json)) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  if (!Array.isArray(json.data)) throw new UpstreamFailure('protocol', 'upstream answer has no data array');
  const images = json.data.map((item) => parseImage(item, parsed)).filter((img): img is UpstreamImage => img !== null);
  if (images.length === 0) throw new UpstreamFailure('protocol', 'upstream answer holds no images');
  return { images, ...resultFieldsOf(json) };
}

/** What an ImagesResponse says about its result besides the images. */
export function resultFieldsOf(json: Json): ResultFields {
  return {
    ...(isUsage(json.usage) ? { usage: json.usage } : {}),
    ...stringField(json, 'size', 'size'),
    ...stringField(json, 'quality', 'quality'),
    ...stringField(json, 'background', 'background'),
    ...stringField(json, 'output_format', 'outputFormat'),
    ...(json.metadata !== undefined && json.metadata !== null ? { metadata: json.metadata } : {}),
  };
}

/** The keys whose values may be megabytes of base64 (url: relays' data URIs). */
const IMAGE_KEYS = ['b64_json', 'url'];

function parseImage(item: unknown, parsed: LiftedJson): UpstreamImage | null {
  if (!isObject(item)) return null;
  return imageOf(item, (value) => bytesOf(value, parsed));
}

/** A data[] item's revised prompt, when it has one. */
export function revisedPromptOf(item: Json): { revisedPrompt?: string } {
  const { revised_prompt: revised } = item;
  return typeof revised === 'string' && revised.length > 0 ? { revisedPrompt: revised } : {};
}

/** A data[] item as an image: its b64_json, else its url (a data URI is base64 too); null without either. */
export function imageOf(item: Json, bytesOf: (value: unknown) => Rope | undefined): UpstreamImage | null {
  const revisedPrompt = revisedPromptOf(item);
  const b64 = bytesOf(item.b64_json);
  if (b64 && ropeLength(b64) > 0) return { kind: 'b64', base64: base64FromDataUri(b64) ?? b64, ...revisedPrompt };
  const url = bytesOf(item.url);
  if (!url || ropeLength(url) === 0) return null;
  const inline = base64FromDataUri(url);
  return inline !== null ? { kind: 'b64', base64: inline, ...revisedPrompt } : { kind: 'url', url: Buffer.concat(url).toString('utf8'), ...revisedPrompt };
}

/** A string field as bytes, whether it was lifted out or parsed normally. */
function bytesOf(value: unknown, parsed: LiftedJson): Rope | undefined {
  return parsed.lifted(value) ?? stringBytes(value);
}

/** A parsed string field as bytes. */
export function stringBytes(value: unknown): Rope | undefined {
  return typeof value === 'string' ? [Buffer.from(value, 'utf8')] : undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** OpenAI's `error` object (or a bare string) as far as it is well-formed. */
export function errorBodyOf(error: unknown): UpstreamErrorBody {
  const body: UpstreamErrorBody = {};
  if (typeof error === 'string') body.message = error;
  if (typeof error !== 'object' || error === null) return body;
  const e = error as Json;
  if (typeof e.message === 'string') body.message = e.message;
  if (typeof e.type === 'string') body.type = e.type;
  if (typeof e.code === 'string' || e.code === null) body.code = e.code;
  if (typeof e.param === 'string' || e.param === null) body.param = e.param;
  return body;
}

/** OpenAI's code for a request its safety system refused (the prompt, an input or the image made). */
const OPENAI_REFUSAL_CODE = 'moderation_blocked';

/** OpenAI's refusal, in the one refusal shape (core/upstream-failure.ts); other failures as they are. */
export function refusalOr(failure: UpstreamFailure): UpstreamFailure {
  const said = failure.upstreamError;
  if (said?.code !== OPENAI_REFUSAL_CODE) return failure;
  return contentRefusal(`${failure.message} (${OPENAI_REFUSAL_CODE})`, said.message ?? 'The upstream safety system refused the request.');
}

export function failureFromResponse(res: UpstreamResponse): UpstreamFailure {
  const body = errorBodyOf(parseJsonObject(res.body)?.error);
  return refusalOr(
    new UpstreamFailure(
      'http',
      `upstream answered ${res.status}${body.message ? `: ${body.message}` : ''}`,
      res.status,
      body,
      parseRetryAfter(res.headers['retry-after']),
    ),
  );
}

function parseJsonObject(body: Buffer): Json | null {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

export function isUsage(value: unknown): value is ImageUsage {
  return typeof value === 'object' && value !== null && typeof (value as Json).total_tokens === 'number';
}

function stringField<K extends string>(json: Json, from: string, to: K): Partial<Record<K, string>> {
  const value = json[from];
  return typeof value === 'string' ? ({ [to]: value } as Partial<Record<K, string>>) : {};
}
