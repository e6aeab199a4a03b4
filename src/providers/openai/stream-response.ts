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
import { SseReader, type SsePart } from '../sse.js';
import { AnswerScanner } from './answer-scanner.js';
import { errorBodyOf, isUsage, refusalOr } from './response.js';

type Json = Record<string, unknown>;

export async function readImageStream(body: AsyncIterable<Buffer>, onPartial: PartialImageListener): Promise<ProviderResult> {
  const stream = new ImageStreamReader(onPartial);
  const reader = new SseReader();
  for await (const chunk of body) for (const part of reader.feed(chunk)) stream.take(part);
  for (const part of reader.finish()) stream.take(part);
  return stream.result();
}

/** A partial image whose event is being passed on as it arrives. */
interface PassingPartial {
  readonly scanner: AnswerScanner;
  started: boolean;
}

/**
 * The stream's events as SSE parts. A `*.partial_image` event (named by its `event:` line) is
 * passed on as it arrives: its b64_json goes to the listener piece by piece, its other fields
 * when it ends. Every other event (and a partial whose name only its JSON says) is read whole.
 */
class ImageStreamReader {
  private readonly images: UpstreamImage[] = [];
  private last: Json = {};
  private passing: PassingPartial | null = null;
  private whole: Buffer[] = [];

  constructor(private readonly onPartial: PartialImageListener) {}

  take(part: SsePart): void {
    if (part.kind === 'data') {
      if (part.first && (part.event ?? '').endsWith('.partial_image'))
        this.passing = { scanner: new AnswerScanner(() => ({ type: 'item-end' }), MAX_EVENT_BYTES, 'root'), started: false };
      if (this.passing) this.pass(this.passing, part.bytes);
      else this.whole.push(part.bytes);
      return;
    }
    if (this.passing) this.endPassing(this.passing);
    else this.readWhole(part.event, Buffer.concat(this.whole));
    this.passing = null;
    this.whole = [];
  }

  result(): ProviderResult {
    if (this.images.length === 0) throw new UpstreamFailure('connection', 'the upstream stream ended before an image was completed');
    return { images: this.images, ...(isUsage(this.last.usage) ? { usage: this.last.usage } : {}), ...described(this.last) };
  }

  private pass(partial: PassingPartial, bytes: Buffer): void {
    for (const event of partial.scanner.feed(bytes)) {
      if (event.type === 'b64-start') {
        partial.started = true;
        this.onPartial.start(this.images.length);
      } else if (event.type === 'b64') {
        this.onPartial.piece(event.bytes);
      }
    }
  }

  private endPassing(partial: PassingPartial): void {
    let json: Json;
    try {
      json = partial.scanner.finish();
    } catch (err) {
      if (err instanceof UpstreamFailure) throw new UpstreamFailure('protocol', 'upstream streamed an event that is not a JSON object');
      throw err;
    }
    if (json.error !== undefined || json.type === 'error') throw streamFailure(json.error);
    if (!partial.started) return; // a partial without an image: nothing to pass on
    const index = typeof json.partial_image_index === 'number' ? json.partial_image_index : 0;
    this.onPartial.end({ imageIndex: this.images.length, partialIndex: index, ...described(json) });
  }

  private readWhole(name: string | undefined, data: Buffer): void {
    const parsed = parseEvent(data);
    const json = parsed.value as Json;
    const type = typeof json.type === 'string' ? json.type : (name ?? '');
    if (type === 'error' || json.error !== undefined) throw streamFailure(json.error);
    const base64 = imageOf(json, parsed);
    if (type.endsWith('.partial_image') && base64) {
      const index = typeof json.partial_image_index === 'number' ? json.partial_image_index : 0;
      this.onPartial.start(this.images.length);
      for (const piece of base64) this.onPartial.piece(piece);
      this.onPartial.end({ imageIndex: this.images.length, partialIndex: index, ...described(json) });
    } else if (type.endsWith('.completed') && base64) {
      this.images.push({ kind: 'b64', base64 });
      this.last = json;
    }
  }
}

/** One event's data at most (a partial image is a few MB of base64). */
const MAX_EVENT_BYTES = 256 * 1024 * 1024;

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
  return refusalOr(new UpstreamFailure('http', `upstream stream failed${body.message ? `: ${body.message}` : ''}`, status, body));
}
