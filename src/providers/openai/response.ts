/** OpenAI's ImagesResponse and error envelope -> ProviderResult / UpstreamFailure. */
import { base64FromDataUri } from '../../core/image-bytes.js';
import type { ImageUsage, ProviderResult, UpstreamImage } from '../../core/job.js';
import { parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import type { UpstreamResponse } from '../transport.js';

type Json = Record<string, unknown>;

export function parseImagesResponse(res: UpstreamResponse): ProviderResult {
  if (res.status < 200 || res.status >= 300) throw failureFromResponse(res);
  const json = parseJsonObject(res.body);
  if (!json) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  if (!Array.isArray(json.data)) throw new UpstreamFailure('protocol', 'upstream answer has no data array');
  const images = json.data.map(parseImage).filter((img): img is UpstreamImage => img !== null);
  if (images.length === 0) throw new UpstreamFailure('protocol', 'upstream answer holds no images');
  return {
    images,
    ...(isUsage(json.usage) ? { usage: json.usage } : {}),
    ...stringField(json, 'size', 'size'),
    ...stringField(json, 'quality', 'quality'),
    ...stringField(json, 'background', 'background'),
    ...stringField(json, 'output_format', 'outputFormat'),
    ...(json.metadata !== undefined && json.metadata !== null ? { metadata: json.metadata } : {}),
  };
}

function parseImage(item: unknown): UpstreamImage | null {
  if (typeof item !== 'object' || item === null) return null;
  const { b64_json: b64, url, revised_prompt: revised } = item as Json;
  const revisedPrompt = typeof revised === 'string' && revised.length > 0 ? { revisedPrompt: revised } : {};
  if (typeof b64 === 'string' && b64.length > 0) {
    return { kind: 'b64', base64: base64FromDataUri(b64) ?? b64, ...revisedPrompt };
  }
  if (typeof url === 'string' && url.length > 0) {
    const inline = base64FromDataUri(url);
    return inline !== null ? { kind: 'b64', base64: inline, ...revisedPrompt } : { kind: 'url', url, ...revisedPrompt };
  }
  return null;
}

export function failureFromResponse(res: UpstreamResponse): UpstreamFailure {
  const error = parseJsonObject(res.body)?.error;
  const body: UpstreamErrorBody = {};
  if (typeof error === 'object' && error !== null) {
    const e = error as Json;
    if (typeof e.message === 'string') body.message = e.message;
    if (typeof e.type === 'string') body.type = e.type;
    if (typeof e.code === 'string' || e.code === null) body.code = e.code;
    if (typeof e.param === 'string' || e.param === null) body.param = e.param;
  } else if (typeof error === 'string') {
    body.message = error;
  }
  return new UpstreamFailure(
    'http',
    `upstream answered ${res.status}${body.message ? `: ${body.message}` : ''}`,
    res.status,
    body,
    parseRetryAfter(res.headers['retry-after']),
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

function isUsage(value: unknown): value is ImageUsage {
  return typeof value === 'object' && value !== null && typeof (value as Json).total_tokens === 'number';
}

function stringField<K extends string>(json: Json, from: string, to: K): Partial<Record<K, string>> {
  const value = json[from];
  return typeof value === 'string' ? ({ [to]: value } as Partial<Record<K, string>>) : {};
}
