/**
 * `stream: true` in the OpenAI dialect: server-sent events as OpenAI sends them.
 * `image_generation.partial_image` (or `image_edit.*`) as the upstream streams them, then one
 * `*.completed` per image with its usage. The status line waits for the first event or the first
 * keep-alive, so a quick failure still gets its JSON error and status; after that, failures are an
 * `error` event. Keep-alive comments keep proxies with idle limits (100 s is common) from cutting
 * a slow generation.
 */
import type { FastifyReply } from 'fastify';
import type { KeyIdentity } from '../billing/api-keys.js';
import { internalError } from '../core/errors.js';
import type { ImageJob, PartialImage, PartialImageListener } from '../core/job.js';
import { resolveParameters, type OutputParameters } from '../core/resolved-parameters.js';
import type { MemoryHold } from '../core/memory-budget.js';
import type { Rope } from '../core/rope.js';
import type { DeliveredImage } from '../output/image-output.js';
import type { ImagePipeline, ImagesResult, RunObserver } from '../pipeline.js';
import { toGatewayError } from './errors.js';

export interface ImageStreamContext {
  pipeline: ImagePipeline;
  keepAliveMs: number;
  key: KeyIdentity | null;
  keyId: string | null;
  signal: AbortSignal;
  answered: Promise<void>;
  memory?: MemoryHold | undefined;
  /** The request's log line (request-line.ts). */
  observer?: RunObserver;
}

export async function streamImages(job: ImageJob, reply: FastifyReply, ctx: ImageStreamContext): Promise<void> {
  const events = new SseWriter(reply);
  const prefix = job.operation === 'edit' ? 'image_edit' : 'image_generation';
  const keepAlive = setInterval(() => events.comment('keep-alive'), ctx.keepAliveMs);
  keepAlive.unref();
  try {
    const result = await ctx.pipeline.run(job, {
      mode: { kind: 'sync' },
      settlement: { kind: 'reserve-now' },
      key: ctx.key,
      keyId: ctx.keyId,
      signal: ctx.signal,
      answered: ctx.answered,
      memory: ctx.memory,
      includeBase64: true,
      onPartial: partialEvents(events, `${prefix}.partial_image`, job),
      ...(ctx.observer ? { observer: ctx.observer } : {}),
    });
    for (const image of result.data) events.event(`${prefix}.completed`, completedEvent(`${prefix}.completed`, image, result, job));
    events.end();
  } catch (err) {
    if (!events.started) throw err;
    // Cut off inside a partial image: there is no well-formed way to finish that event.
    if (events.inEvent) return events.cut();
    const known = toGatewayError(err) ?? internalError();
    events.event('error', [Buffer.from(JSON.stringify({ type: 'error', ...known.toEnvelope() }))]);
    events.end();
  } finally {
    clearInterval(keepAlive);
  }
}

/** Writes SSE to the raw response; the status line goes out with the first write. */
class SseWriter {
  started = false;
  /** An event is being written piece by piece (a partial image passing through). */
  inEvent = false;

  constructor(private readonly reply: FastifyReply) {}

  event(type: string, data: readonly Buffer[]): void {
    this.write([Buffer.from(`event: ${type}\ndata: `), ...data, EVENT_END]);
  }

  /** Starts an event whose data follows in pieces (more), until close. */
  open(type: string, head: Buffer): void {
    this.write([Buffer.from(`event: ${type}\ndata: `), head]);
    this.inEvent = true;
  }

  more(piece: Buffer): void {
    this.write([piece]);
  }

  close(tail: Buffer): void {
    this.write([tail, EVENT_END]);
    this.inEvent = false;
  }

  /** The stream ends without finishing its open event: the connection is cut, never left looking whole. */
  cut(): void {
    this.reply.raw.destroy();
  }

  comment(text: string): void {
    // Never inside an event: a comment there would become part of its data.
    if (!this.inEvent) this.write([Buffer.from(`: ${text}\n\n`)]);
  }

  end(): void {
    if (this.started && !this.reply.raw.destroyed) this.reply.raw.end();
  }

  private write(chunks: readonly Buffer[]): void {
    const raw = this.reply.raw;
    if (raw.destroyed) return;
    if (!this.started) {
      this.started = true;
      // From here on Fastify leaves the response to us.
      this.reply.hijack();
      for (const [name, value] of Object.entries(this.reply.getHeaders())) if (value !== undefined) raw.setHeader(name, value);
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    }
    // One write per call: an event written whole is joined once; a passing one goes piece by piece.
    raw.write(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  }
}

const EVENT_END = Buffer.from('\n\n');

/** Serialized with JSON.stringify: a field still unknown (undefined) is left out. */
interface EventFields {
  size: string | undefined;
  quality: string | undefined;
  background: string | undefined;
  output_format: string | undefined;
}

/** Fields every image event carries (the spec requires them): the upstream's word, else the job's, else the model's defaults. */
function eventFields(job: ImageJob, known: OutputParameters): EventFields {
  const { size, quality, background, outputFormat } = resolveParameters(job, known, 'complete');
  return { size, quality, background, output_format: outputFormat };
}

/** Each partial image passes through as it arrives: the event opens at its first base64, its fields close it. */
function partialEvents(events: SseWriter, type: string, job: ImageJob): PartialImageListener {
  return {
    start: () => events.open(type, base64Head(type)),
    piece: (base64) => events.more(base64),
    end: (partial: PartialImage) => {
      const fields = { created_at: now(), ...eventFields(job, partial), partial_image_index: partial.partialIndex };
      events.close(base64Tail(fields));
    },
  };
}

function completedEvent(type: string, image: DeliveredImage, result: ImagesResult, job: ImageJob): Buffer[] {
  const fields = {
    created_at: now(),
    ...eventFields(job, result),
    ...(image.url ? { url: image.url } : {}),
    ...(image.revised_prompt ? { revised_prompt: image.revised_prompt } : {}),
    ...(result.usage ? { usage: result.usage } : {}),
  };
  return withBase64(type, image.b64_json ?? [], fields);
}

/** `{"type":..., "b64_json":"<bytes as they are>", ...fields}` without stringifying megabytes. */
function withBase64(type: string, base64: Rope, fields: Record<string, unknown>): Buffer[] {
  return [base64Head(type), ...base64, base64Tail(fields)];
}

function base64Head(type: string): Buffer {
  return Buffer.from(`{"type":${JSON.stringify(type)},"b64_json":"`);
}

function base64Tail(fields: Record<string, unknown>): Buffer {
  return Buffer.from(`",${JSON.stringify(fields).slice(1)}`);
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
