/**
 * OpenAI's image stream (SSE: `image_generation.*` / `image_edit.*` events) -> partial images
 * forwarded as they arrive, and the completed images as a ProviderResult. The events carry no
 * image index: OpenAI sends each image's partials before its completed event, so partials
 * belong to the image after the last completed one.
 */
import type { PartialImageListener, ProviderResult, UpstreamImage } from '../../core/job.js';
import { ropeLength, type Rope } from '../../core/rope.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { parseJsonLifting, type LiftedJson } from '../lifted-json.js';
import { parseSse } from '../sse.js';
import { errorBodyOf, isUsage } from './response.js';

type Json = Record<string, unknown>;

export async function readImageStream(body: AsyncIterable<Buffer>, onPartial: PartialImageListener): Promise<ProviderResult> {
  const images: UpstreamImage[] = [];
  let last: Json = {};
  for await (const event of parseSse(body)) {
    const parsed = parseEvent(event.data);
    const json = parsed.value as Json;
    const type = typeof json.type === 'string' ? json.type : (event.event ?? '');
    if (type === 'error' || json.error !== undefined) throw streamFailure(json.error);
    const base64 = imageOf(json, parsed);
    if (type.endsWith('.partial_image') && base64) {
      const index = typeof json.partial_image_index === 'number' ? json.partial_image_index : 0;
      onPartial({ imageIndex: images.length, partialIndex: index, base64, ...described(json) });
    } else if (type.endsWith('.completed') && base64) {
      images.push({ kind: 'b64', base64 });
      last = json;
    }
  }
  if (images.length === 0) throw new UpstreamFailure('connection', 'the upstream stream ended before an image was completed');
  return { images, ...(isUsage(last.usage) ? { usage: last.usage } : {}), ...described(last) };
}

function parseEvent(data: Buffer): LiftedJson {
  try {
    const parsed = parseJsonLifting([data], ['b64_json']);
    if (typeof parsed.value === 'object' && parsed.value !== null && !Array.isArray(parsed.value)) return parsed;
  } catch {
    // reported below
  }
  throw new UpstreamFailure('protocol', 'upstream streamed an event that is not a JSON object');
}

function imageOf(json: Json, parsed: LiftedJson): Rope | undefined {
  const lifted = parsed.lifted(json.b64_json);
  const rope = lifted ?? (typeof json.b64_json === 'string' ? [Buffer.from(json.b64_json, 'latin1')] : undefined);
  return rope && ropeLength(rope) > 0 ? rope : undefined;
}

function described(json: Json): { size?: string; quality?: string; background?: string; outputFormat?: string } {
  const text = (key: string) => (typeof json[key] === 'string' ? (json[key] as string) : undefined);
  const size = text('size');
  const quality = text('quality');
  const background = text('background');
  const outputFormat = text('output_format');
  return {
    ...(size ? { size } : {}),
    ...(quality ? { quality } : {}),
    ...(background ? { background } : {}),
    ...(outputFormat ? { outputFormat } : {}),
  };
}

/** An error event: the caller's fault (400) when OpenAI says invalid_request_error, else a 500. */
function streamFailure(error: unknown): UpstreamFailure {
  const body = errorBodyOf(error);
  const status = body.type === 'invalid_request_error' ? 400 : 500;
  return new UpstreamFailure('http', `upstream stream failed${body.message ? `: ${body.message}` : ''}`, status, body);
}
