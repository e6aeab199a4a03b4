// Streamed answers of the OpenAI simulator (stream=true on generations and edits): server-sent
// events as OpenAI's spec describes them (ImageGenStreamEvent / ImageEditStreamEvent): for each
// image, `partial_images` previews then one completed event, written `event: <type>\ndata: <json>\n\n`.
// This module only frames, paces and breaks streams; what the images are is the caller's.
import type { SimStreamResponse } from '../http-server.js';
import type { ImageFormat } from '../render.js';
import { sleep } from '../wire.js';
import { SimApiError, type GenerationPlan, type JsonObject } from './params.js';
import { nowSeconds } from './responses.js';

/** `image_generation` for generations, `image_edit` for edits. */
export type StreamEventPrefix = 'image_generation' | 'image_edit';

/** How a stream goes wrong (from the fault queue); `truncated` cuts the last event in half. */
export type StreamFault =
  | { kind: 'stream_error'; afterEvents: number; message?: string }
  | { kind: 'stream_cut'; afterEvents: number }
  | { kind: 'hang'; afterEvents: number }
  | { kind: 'truncated' };

/** The fields every event of a stream repeats (spec: required on partial and completed events). */
export interface StreamEventFields {
  size: string;
  quality: string;
  background: string;
  output_format: string;
}

/** What a stream shows: images come as base64 text (ASCII bytes), produced when asked for. */
export interface StreamSource {
  prefix: StreamEventPrefix;
  /** Images in the answer; events go image by image. */
  n: number;
  partialImages: number;
  fields: StreamEventFields;
  /** The usage put on every completed event (see `completedEvent`). */
  usage: JsonObject;
  /** Preview `index` (0..partialImages-1) of image `variant`. */
  partial(variant: number, index: number): Promise<Buffer>;
  /** The final image `variant`; the source may start them all on `startFinals`. */
  final(variant: number): Promise<Buffer>;
  /** Called once the first event's image is ready: the finals render while previews are sent. */
  startFinals(): void;
}

/** The per-event fields: the answer's real size and format (a relay's or the fixed image's may differ from the request's). */
export function streamFields(plan: GenerationPlan, image: { width: number; height: number; format: ImageFormat }): StreamEventFields {
  return { size: `${image.width}x${image.height}`, quality: plan.quality, background: plan.background, output_format: image.format };
}

export interface StreamPacing {
  /** Waited before each event: the latency spread over the events, plus the configured interval. */
  beforeEventMs: number;
  /** Aborts when the client has gone: waits end early and no more events are produced. */
  signal?: AbortSignal | undefined;
}

type EventSpec = { variant: number; partial: number | undefined };

const SSE_HEADERS_BASE = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } as const;

/**
 * Opens a stream: the first event's image is made before answering, so a request whose images
 * cannot be made (say, corrupt input pixels) still gets a plain JSON error rather than a 200
 * that fails later; after that the events follow, paced, as a generator.
 */
export async function openImageStream(
  source: StreamSource,
  pacing: StreamPacing,
  fault: StreamFault | undefined,
  extraHeaders: Record<string, string>,
): Promise<SimStreamResponse> {
  const plan = eventPlan(source);
  const first = plan[0];
  const firstImage = first === undefined ? undefined : await imageFor(source, first);
  if (pacing.signal?.aborted !== true) source.startFinals();
  const cut = fault?.kind === 'stream_cut' || fault?.kind === 'truncated';
  return {
    kind: 'stream',
    status: 200,
    headers: { ...SSE_HEADERS_BASE, ...extraHeaders },
    body: streamEvents(source, plan, firstImage, pacing, fault),
    ...(cut ? { cutAtEnd: true } : {}),
  };
}

/** A 200 event stream whose only event's data is not JSON (the `malformed` fault for streams). */
export function malformedStream(prefix: StreamEventPrefix, extraHeaders: Record<string, string>): SimStreamResponse {
  const type = `${prefix}.completed`;
  const text = `event: ${type}\ndata: {"type":"${type}","b64_json":\n\n`;
  return { kind: 'stream', status: 200, headers: { ...SSE_HEADERS_BASE, ...extraHeaders }, body: once(Buffer.from(text, 'utf8')) };
}

/** Image by image: its partials in order, then its completed event. */
function eventPlan(source: StreamSource): EventSpec[] {
  const plan: EventSpec[] = [];
  for (let variant = 0; variant < source.n; variant++) {
    for (let partial = 0; partial < source.partialImages; partial++) plan.push({ variant, partial });
    plan.push({ variant, partial: undefined });
  }
  return plan;
}

function imageFor(source: StreamSource, spec: EventSpec): Promise<Buffer> {
  return spec.partial === undefined ? source.final(spec.variant) : source.partial(spec.variant, spec.partial);
}

/** How many events go out before the fault strikes: all of them without one, never more. */
function eventLimit(total: number, fault: StreamFault | undefined): number {
  if (fault === undefined || fault.kind === 'truncated') return total;
  return Math.max(0, Math.min(total, Math.floor(fault.afterEvents)));
}

async function* streamEvents(
  source: StreamSource,
  plan: readonly EventSpec[],
  firstImage: Buffer | undefined,
  pacing: StreamPacing,
  fault: StreamFault | undefined,
): AsyncGenerator<Buffer, void, undefined> {
  const { signal } = pacing;
  const limit = eventLimit(plan.length, fault);
  for (let i = 0; i < limit; i++) {
    const spec = plan[i];
    if (spec === undefined) break;
    // Started before the wait so that making the image overlaps it.
    const image = i === 0 && firstImage !== undefined ? Promise.resolve(firstImage) : imageFor(source, spec);
    image.catch(() => undefined); // we may return during the wait; the failure is read below
    await sleep(pacing.beforeEventMs, signal);
    if (signal?.aborted === true) return;
    let b64: Buffer;
    try {
      b64 = await image;
    } catch (err) {
      yield errorEvent(streamErrorOf(err));
      return;
    }
    const [head, tail] = eventFrame(source, spec);
    if (fault?.kind === 'truncated' && i === plan.length - 1) {
      // The connection drops in the middle of the last event's data (the server then destroys it).
      yield Buffer.concat([head, b64.subarray(0, Math.floor(b64.length / 2))]);
      return;
    }
    yield head;
    yield b64;
    yield tail;
  }
  if (fault?.kind === 'stream_error') yield errorEvent(serverError(fault.message));
  if (fault?.kind === 'hang') await untilAborted(signal); // stalls: no more bytes, no end
}

/**
 * The event around its image: `head` ends just inside the b64_json string, `tail` closes it.
 * Base64 needs no JSON escaping, so megabytes of it go out as they are, not through
 * JSON.stringify (the benchmark path streams the same cached bytes every time).
 */
function eventFrame(source: StreamSource, spec: EventSpec): [Buffer, Buffer] {
  const type = `${source.prefix}.${spec.partial === undefined ? 'completed' : 'partial_image'}`;
  const json = JSON.stringify(spec.partial === undefined ? completedEvent(type, source) : partialEvent(type, source, spec.partial));
  const marker = '"b64_json":"';
  const at = json.indexOf(marker) + marker.length;
  return [Buffer.from(`event: ${type}\ndata: ${json.slice(0, at)}`, 'utf8'), Buffer.from(`${json.slice(at)}\n\n`, 'utf8')];
}

/** Field order as in the spec's examples; `b64_json` is filled in by `eventFrame`. */
function partialEvent(type: string, source: StreamSource, index: number): JsonObject {
  return { type, b64_json: '', created_at: nowSeconds(), ...source.fields, partial_image_index: index };
}

/**
 * Usage: every completed event carries the usage of the whole request, exactly the `usage` a
 * non-streamed answer has. OpenAI documents usage per completed event but not how it splits
 * between images when n > 1; the whole-request figure keeps one completed event equal to the
 * non-streamed answer (and n = 1, the common case, is exact either way). A consumer must
 * therefore take it from one completed event, not add the events up.
 */
function completedEvent(type: string, source: StreamSource): JsonObject {
  return { type, b64_json: '', created_at: nowSeconds(), ...source.fields, usage: source.usage };
}

interface StreamError {
  type: string;
  code: string | null;
  message: string;
  param: string | null;
}

function serverError(message: string | undefined): StreamError {
  return {
    type: 'server_error',
    code: null,
    message: message ?? 'The server had an error while processing your request. Sorry about that!',
    param: null,
  };
}

function streamErrorOf(err: unknown): StreamError {
  if (err instanceof SimApiError) return { type: err.type, code: err.code, message: err.message, param: err.param };
  return serverError(undefined);
}

/**
 * OpenAI's spec defines no error event for image streams (ImageGenStreamEvent and
 * ImageEditStreamEvent list only partial and completed events). This is the shape OpenAI's
 * streams send on failure, and the one its SDKs turn into an APIError: `data.error` is the
 * usual error envelope's body.
 */
function errorEvent(error: StreamError): Buffer {
  const data = JSON.stringify({ type: 'error', error: { type: error.type, code: error.code, message: error.message, param: error.param } });
  return Buffer.from(`event: error\ndata: ${data}\n\n`, 'utf8');
}

async function* once(chunk: Buffer): AsyncGenerator<Buffer, void, undefined> {
  yield chunk;
}

/** Never resolves without a signal: a stalled stream stays stalled until its client leaves. */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
}
