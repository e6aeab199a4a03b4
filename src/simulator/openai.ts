// A faithful, in-memory simulator of the OpenAI Images API (generations, edits and
// variations), used by tests, the demo channel and benchmarks. The core (`handle`) is
// transport-free; `startOpenAISimulator` puts it behind a node:http server. Edit and
// variation requests are parsed in openai-edits.ts; shared validation is openai-params.ts;
// streamed answers (stream=true, server-sent events) are framed in openai-stream.ts.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { startSimulatorServer, type SimRequest, type SimResponse } from './http-server.js';
import { sleep } from './wire.js';
import { describeForm, isMultipart, parseMultipart, type MultipartForm, type RecordedForm } from './multipart.js';
import { parseJsonEdit, parseMultipartEdit, parseVariation, type EditPlan, type VariationPlan } from './openai-edits.js';
import { openImageStream, malformedStream, type StreamEventPrefix, type StreamFault, type StreamSource } from './openai-stream.js';
import { enlargePreview, previewSize, renderEdit, renderImage, renderVariation, type ImageFormat } from './render.js';
import {
  invalidRequest,
  invalidValue,
  isObject,
  isRelayObject,
  MODEL_CATALOGUE,
  modelSpec,
  readCount,
  readDalleResponseFormat,
  readEnum,
  readPrompt,
  readStream,
  readString,
  rejectUnknownParams,
  resolveGptOutput,
  resolveQuality,
  resolveSize,
  SimApiError,
  typeError,
  withRelay,
  type GenerationPlan,
  type GptOutput,
  type JsonObject,
  type RelayOption,
  type StreamPlan,
} from './openai-params.js';

// ---------------------------------------------------------------------------
// Public types

export type SimFault =
  | {
      kind: 'status';
      status: number;
      retryAfterSeconds?: number;
      message?: string;
      type?: string;
      code?: string | null;
      param?: string | null;
    }
  /**
   * Never answer (until the client gives up). With `afterEvents` and a stream request: send
   * that many events, then stall without ending (an upstream that stops mid-stream).
   */
  | { kind: 'hang'; afterEvents?: number }
  /** A stream request gets a 200 event stream whose data is not JSON; others a cut-off JSON body. */
  | { kind: 'malformed' }
  /** Half the body, then the socket is destroyed; a stream is cut in the middle of its last event. */
  | { kind: 'truncated' }
  | { kind: 'delay'; ms: number }
  /**
   * Stream requests: `afterEvents` events (at most all of them), then an SSE `error` event, and the stream ends.
   * A request that is not streamed gets a 500 server_error with `message` instead.
   */
  | { kind: 'stream_error'; afterEvents: number; message?: string }
  /**
   * Stream requests: `afterEvents` events (at most all of them), then the socket is destroyed (no clean end).
   * A request that is not streamed is truncated as with `truncated`.
   */
  | { kind: 'stream_cut'; afterEvents: number };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  /** Parsed JSON body; undefined when the body is empty or not valid JSON. */
  json: unknown;
  /** multipart/form-data bodies (edits, variations): the fields, and each file's identity. */
  form?: RecordedForm;
}

export type { RecordedForm };

export interface OpenAISimulatorOptions {
  /** When set, require `Authorization: Bearer <apiKey>`, else 401 invalid_api_key. */
  apiKey?: string;
  /**
   * Added before every answer (default 0). A streamed answer spends it between its events
   * instead: its first event comes after latencyMs / events, its last after about latencyMs.
   */
  latencyMs?: number;
  /** Streamed answers: waited before each event, on top of its share of latencyMs (default 0). */
  streamIntervalMs?: number;
  /** Behave like a third-party relay: always answer in this form, at most maxImages images (noStream: never stream). */
  relay?: RelayOption;
  /**
   * Benchmark fast path: answer every generation, edit and variation with this image instead of
   * rendering (streams too: every event carries it).
   */
  fixedImage?: Buffer;
  /** Base for url answers; startOpenAISimulator sets it to its own origin. */
  publicBaseUrl?: string;
}

export interface RunningSimulator {
  sim: OpenAIImagesSimulator;
  port: number;
  /** http://127.0.0.1:port */
  origin: string;
  /** origin + '/v1' */
  baseURL: string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Constants

const KNOWN_PARAMS = new Set([
  'prompt', 'model', 'n', 'quality', 'response_format', 'output_format', 'output_compression',
  'stream', 'partial_images', 'size', 'moderation', 'background', 'style', 'user',
]);
/** Parameters that make a model-less request default to a GPT image model (per the spec). */
const GPT_ONLY_PARAMS = ['output_format', 'output_compression', 'background', 'moderation', 'partial_images'];
/** Published output-token counts for a 1024x1024 image; other sizes scale by pixel count. */
const OUTPUT_TOKENS_1024: Record<string, number> = { low: 272, medium: 1056, high: 4160 };
const MIME: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
const EXT: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/**
 * Hosted images are kept while they fit these bounds, newest first, as an upstream keeps its
 * result URLs valid for a while: a task resumed after a crash still finds its images.
 */
const MAX_HOSTED_FILES = 10_000;
const MAX_HOSTED_BYTES = 256 * 1024 * 1024;
const MAX_RECORDED_REQUESTS = 10_000;
const FIXED_CACHE_MAX_BYTES = 256 * 1024 * 1024;
/** Cached fixed-image bodies embed `created`; rebuild them once it is this stale. */
const FIXED_CACHE_MAX_AGE_S = 60;
const DEFAULT_PUBLIC_BASE = 'http://openai-simulator.invalid';

/** Defaults that mirror what OpenAI sends for common upstream failures. */
function statusFaultError(fault: Extract<SimFault, { kind: 'status' }>): SimApiError {
  const status = fault.status;
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
  const defaults = statusDefaults(status, fault.retryAfterSeconds);
  return new SimApiError(
    status,
    fault.message ?? defaults.message,
    fault.type ?? defaults.type,
    fault.param ?? null,
    fault.code !== undefined ? fault.code : defaults.code,
    headers,
  );
}

function statusDefaults(status: number, retryAfter: number | undefined): { message: string; type: string; code: string | null } {
  if (status === 429) {
    const wait = retryAfter !== undefined ? ` Please try again in ${retryAfter}s.` : '';
    return {
      message: `Rate limit reached for images in organization org-simulator on requests per min (RPM): Limit 5, Used 5, Requested 1.${wait}`,
      type: 'requests',
      code: 'rate_limit_exceeded',
    };
  }
  if (status === 401) return { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 503) return { message: 'The server is overloaded or not ready yet.', type: 'server_error', code: null };
  if (status >= 500) {
    return { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null };
  }
  return { message: `Simulated upstream error (HTTP ${status}).`, type: 'invalid_request_error', code: null };
}

// ---------------------------------------------------------------------------
// Small helpers

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function requestId(): string {
  return `req_${randomBytes(16).toString('hex')}`;
}


function headerValue(headers: Record<string, string | undefined>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  // In-process callers may not lowercase their header names.
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

type ParsedJson = { ok: true; value: unknown } | { ok: false };

function parseJson(body: Buffer): ParsedJson {
  if (body.length === 0) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

function jsonBuffer(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', 'x-request-id': requestId(), ...extra };
}

function jsonResponse(status: number, value: unknown, extra: Record<string, string> = {}): SimResponse {
  return { kind: 'full', status, headers: jsonHeaders(extra), body: jsonBuffer(value) };
}

function errorResponse(err: SimApiError): SimResponse {
  const envelope = { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
  return jsonResponse(err.status, envelope, err.headers);
}

function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(Math.min(20, key.length - 7))}${key.slice(-4)}`;
}

function resolveModel(body: JsonObject): string {
  const model = readString(body, 'model');
  if (model !== undefined) return model;
  // Spec: "Defaults to dall-e-2 unless a parameter specific to the GPT image models is used."
  const gptHint = GPT_ONLY_PARAMS.some((key) => body[key] !== undefined && body[key] !== null);
  return gptHint ? 'gpt-image-1' : 'dall-e-2';
}

function parsePlan(body: JsonObject, relay: RelayOption | undefined): GenerationPlan {
  const model = resolveModel(body);
  const spec = modelSpec(model);
  if (spec === undefined) throw invalidValue('model', model, MODEL_CATALOGUE.map((m) => m.id));
  // Relays are lenient: they forward what they understand and ignore the rest.
  if (relay === undefined) rejectUnknownParams(body, KNOWN_PARAMS, spec.family);
  const prompt = readPrompt(body, spec);
  const n = readCount(body, spec.family);
  const { width, height } = resolveSize(body, spec);
  const quality = resolveQuality(body, spec);
  const stream = readStream(body, spec.family, relay);
  readString(body, 'user');
  const output: GptOutput =
    spec.family === 'gpt' ? resolveGptOutput(body, relay) : { format: 'png', compression: 100, background: 'opaque' };
  // A relay passes a `style` object on to its own upstreams; OpenAI takes only the enum.
  if (spec.family === 'dall-e-3' && !(relay !== undefined && isRelayObject(body.style))) readEnum(body, 'style', ['vivid', 'natural'] as const);
  const answer = spec.family === 'gpt' ? 'b64_json' : readDalleResponseFormat(body, relay);
  const plan: GenerationPlan = { model, family: spec.family, prompt, n, width, height, quality, ...output, answer };
  if (stream !== undefined) plan.stream = stream;
  return withRelay(plan, relay);
}

function usageFor(plan: GenerationPlan): JsonObject {
  const textTokens = Math.ceil(plan.prompt.length / 4);
  const imageTokens = plan.inputImageTokens ?? 0;
  const perImage = Math.round(((OUTPUT_TOKENS_1024[plan.quality] ?? 1056) * plan.width * plan.height) / (1024 * 1024));
  const outputTokens = perImage * plan.n;
  return {
    total_tokens: textTokens + imageTokens + outputTokens,
    input_tokens: textTokens + imageTokens,
    output_tokens: outputTokens,
    input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
  };
}

function revisePrompt(prompt: string): string {
  return `${prompt.trim()}, depicted as a richly detailed digital illustration with balanced composition and soft, natural lighting.`;
}

// ---------------------------------------------------------------------------
// Fault parsing (control endpoint)

function parseFault(value: unknown): SimFault | string {
  if (!isObject(value) || typeof value.kind !== 'string') return 'each fault must be an object with a string "kind"';
  switch (value.kind) {
    case 'hang':
      return parseHangFault(value);
    case 'malformed':
    case 'truncated':
      return { kind: value.kind };
    case 'stream_error':
    case 'stream_cut':
      return parseStreamFault(value, value.kind);
    case 'delay':
      return typeof value.ms === 'number' && value.ms >= 0 ? { kind: 'delay', ms: value.ms } : 'delay needs a non-negative "ms"';
    case 'status':
      return parseStatusFault(value);
    default:
      return `unknown fault kind '${value.kind}'`;
  }
}

function isEventCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function parseHangFault(value: JsonObject): SimFault | string {
  if (value.afterEvents === undefined) return { kind: 'hang' };
  if (!isEventCount(value.afterEvents)) return 'hang "afterEvents" must be a non-negative integer';
  return { kind: 'hang', afterEvents: value.afterEvents };
}

function parseStreamFault(value: JsonObject, kind: 'stream_error' | 'stream_cut'): SimFault | string {
  const { afterEvents, message } = value;
  if (!isEventCount(afterEvents)) return `${kind} needs a non-negative integer "afterEvents"`;
  if (kind === 'stream_cut') return { kind, afterEvents };
  if (message !== undefined && typeof message !== 'string') return 'stream_error "message" must be a string';
  return message === undefined ? { kind, afterEvents } : { kind, afterEvents, message };
}

function parseStatusFault(value: JsonObject): SimFault | string {
  const { status, retryAfterSeconds, message, type, code, param } = value;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    return 'status fault needs an integer "status" in 100..599';
  }
  const fault: Extract<SimFault, { kind: 'status' }> = { kind: 'status', status };
  if (typeof retryAfterSeconds === 'number') fault.retryAfterSeconds = retryAfterSeconds;
  if (typeof message === 'string') fault.message = message;
  if (typeof type === 'string') fault.type = type;
  if (typeof code === 'string' || code === null) fault.code = code;
  if (typeof param === 'string' || param === null) fault.param = param;
  return fault;
}

// ---------------------------------------------------------------------------
// The simulator core

interface OutImage {
  bytes: Buffer;
  /** Precomputed for the fixed image so it is encoded once. */
  base64?: string;
  /** The fixed image's base64 as ASCII bytes, streamed as is into every event. */
  base64Bytes?: Buffer;
  format: ImageFormat;
  width: number;
  height: number;
}

interface FixedCacheEntry {
  created: number;
  body: Buffer;
}

/** A request body, read once: as JSON, and as a multipart form where an endpoint takes one. */
interface ReadBody {
  json: ParsedJson;
  /** undefined: not multipart (or not an edit/variation); 'malformed': declared multipart, unparseable. */
  form: MultipartForm | 'malformed' | undefined;
  contentType: string | undefined;
}

/** Everything an answer depends on. */
interface Incoming {
  target: Route;
  method: string;
  path: string;
  req: SimRequest;
  body: ReadBody;
}

/** How an answer is delivered: `signal` ends a stream early, `streamFault` breaks it. */
interface AnswerContext {
  signal?: AbortSignal | undefined;
  streamFault?: StreamFault | undefined;
}

/** Renders image `variant` of a plan (or of a copy of it at preview size). */
type Draw<P extends GenerationPlan> = (plan: P, variant: number) => Promise<Buffer>;

type Route =
  | { kind: 'generate' }
  | { kind: 'edit' }
  | { kind: 'variation' }
  | { kind: 'models' }
  | { kind: 'model'; id: string }
  | { kind: 'file'; name: string }
  | { kind: 'control-faults' }
  | { kind: 'control-state' }
  | { kind: 'not-found' };

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed %-escapes: look the raw text up (and 404)
  }
}

function route(method: string, path: string): Route {
  if (method === 'POST' && path === '/v1/images/generations') return { kind: 'generate' };
  if (method === 'POST' && path === '/v1/images/edits') return { kind: 'edit' };
  if (method === 'POST' && path === '/v1/images/variations') return { kind: 'variation' };
  if (method === 'GET' && path === '/v1/models') return { kind: 'models' };
  if (method === 'GET' && path.startsWith('/v1/models/')) return { kind: 'model', id: safeDecode(path.slice(11)) };
  if (method === 'GET' && path.startsWith('/files/')) return { kind: 'file', name: path.slice(7) };
  if (method === 'POST' && path === '/_sim/faults') return { kind: 'control-faults' };
  if (method === 'GET' && path === '/_sim/state') return { kind: 'control-state' };
  return { kind: 'not-found' };
}

export class OpenAIImagesSimulator {
  /** Every API request received (control requests excluded), oldest first; keeps the last 10,000. */
  readonly requests: RecordedRequest[] = [];
  /** Requests whose client went away before the answer (maintained by the http server). */
  aborted = 0;

  private readonly opts: OpenAISimulatorOptions;
  private readonly faults: SimFault[] = [];
  private readonly files = new Map<string, { bytes: Buffer; contentType: string }>();
  private hostedBytes = 0;
  private readonly fixedCache = new Map<string, FixedCacheEntry>();
  private fixedCacheBytes = 0;
  private fixed: Promise<OutImage> | undefined;

  constructor(opts: OpenAISimulatorOptions = {}) {
    this.opts = { ...opts };
  }

  /** Faults apply to the next image requests (generations, edits, variations), one per request, FIFO. */
  enqueueFault(...faults: SimFault[]): void {
    this.faults.push(...faults);
  }

  /** Drops the faults not yet applied: the upstream is healthy again. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** `signal` (optional) lets a transport cut latency short once its client is gone. */
  async handle(req: SimRequest, signal?: AbortSignal): Promise<SimResponse> {
    const path = req.path.split('?')[0] ?? req.path;
    const method = req.method.toUpperCase();
    const target = route(method, path);
    const body = await readBody(req, target);
    if (target.kind === 'control-faults') return this.controlFaults(body.json);
    if (target.kind === 'control-state') return this.controlState();
    this.record(method, req, body);
    const incoming: Incoming = { target, method, path, req, body };
    const streamed = asksForStream(target, body, this.opts.relay);
    const fault = makesImages(target) ? this.faults.shift() : undefined;
    if (fault !== undefined) return this.applyFault(fault, incoming, streamed, signal);
    // A stream spends the latency between its events: its first partial image comes early.
    if (!streamed) await sleep(this.opts.latencyMs ?? 0, signal);
    if (signal?.aborted === true) return { kind: 'hang' }; // client gone: do not render for nobody
    return this.answer(incoming, { signal });
  }

  // -- dispatch ---------------------------------------------------------------

  private async answer({ target, method, path, req, body }: Incoming, ctx: AnswerContext): Promise<SimResponse> {
    try {
      switch (target.kind) {
        case 'generate':
          this.authorize(req);
          return await this.generate(body, ctx);
        case 'edit':
          this.authorize(req);
          return await this.edit(body, ctx);
        case 'variation':
          this.authorize(req);
          return await this.variation(body, ctx);
        case 'models':
          this.authorize(req);
          return jsonResponse(200, { object: 'list', data: MODEL_CATALOGUE.map(modelObject) });
        case 'model':
          this.authorize(req);
          return this.model(target.id);
        case 'file':
          return this.file(target.name, method, path);
        default:
          throw new SimApiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error');
      }
    } catch (err) {
      if (err instanceof SimApiError) return errorResponse(err);
      throw err;
    }
  }

  private async applyFault(fault: SimFault, incoming: Incoming, streamed: boolean, signal?: AbortSignal): Promise<SimResponse> {
    if (fault.kind === 'hang' && (!streamed || fault.afterEvents === undefined)) return { kind: 'hang' };
    const streamFault = streamed ? asStreamFault(fault) : undefined;
    const extra = fault.kind === 'delay' ? fault.ms : 0;
    // Answers that still stream spend the latency between events; the rest wait it up front.
    const upFront = streamed && (streamFault !== undefined || fault.kind === 'delay') ? 0 : (this.opts.latencyMs ?? 0);
    await sleep(upFront + extra, signal);
    // Nobody is listening any more: skip the (possibly expensive) rendering.
    if (signal?.aborted === true) return { kind: 'hang' };
    if (fault.kind === 'status') return errorResponse(statusFaultError(fault));
    if (fault.kind === 'malformed') return this.malformed(incoming.target, streamed);
    if (fault.kind === 'stream_error' && !streamed) {
      return errorResponse(new SimApiError(500, fault.message ?? statusDefaults(500, undefined).message, 'server_error'));
    }
    const full = await this.answer(incoming, { signal, streamFault });
    // A stream carries its fault; an error answer to a stream request stays whole unless cut.
    if (full.kind !== 'full' || fault.kind === 'delay' || fault.kind === 'stream_error' || fault.kind === 'hang') return full;
    return { ...full, kind: 'truncated', sendBytes: Math.floor(full.body.length / 2) };
  }

  private malformed(target: Route, streamed: boolean): SimResponse {
    if (streamed) return malformedStream(target.kind === 'edit' ? 'image_edit' : 'image_generation', { 'x-request-id': requestId() });
    return { kind: 'full', status: 200, headers: jsonHeaders(), body: Buffer.from('{"created": 1, "data": [', 'utf8') };
  }

  private authorize(req: SimRequest): void {
    const expected = this.opts.apiKey;
    if (expected === undefined) return;
    const header = headerValue(req.headers, 'authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    const given = match?.[1]?.trim();
    if (given === expected) return;
    const message =
      given === undefined || given === ''
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        : `Incorrect API key provided: ${maskKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
    throw new SimApiError(401, message, 'invalid_request_error', null, 'invalid_api_key');
  }

  private model(id: string): SimResponse {
    const entry = MODEL_CATALOGUE.find((m) => m.id === id);
    if (entry === undefined) {
      throw new SimApiError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model', 'model_not_found');
    }
    return jsonResponse(200, modelObject(entry));
  }

  private file(name: string, method: string, path: string): SimResponse {
    const file = this.files.get(name);
    if (file === undefined) throw new SimApiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error');
    return {
      kind: 'full',
      status: 200,
      headers: { 'content-type': file.contentType, 'cache-control': 'private, max-age=3600' },
      body: file.bytes,
    };
  }

  // -- generation -------------------------------------------------------------

  private async generate(body: ReadBody, ctx: AnswerContext): Promise<SimResponse> {
    const plan = parsePlan(jsonObjectBody(body.json), this.opts.relay);
    return this.answerImages(plan, drawGeneration, ctx, 'image_generation');
  }

  /** multipart/form-data (the SDKs' way, dall-e-2 included) or JSON with image references. */
  private async edit(body: ReadBody, ctx: AnswerContext): Promise<SimResponse> {
    const form = usableForm(body);
    const relay = this.opts.relay;
    const plan = form !== undefined ? await parseMultipartEdit(form, relay) : await parseJsonEdit(jsonObjectBody(body.json), relay);
    return this.answerImages(plan, (p, variant) => asInputImageError(drawEdit(p, variant)), ctx, 'image_edit');
  }

  private async variation(body: ReadBody, ctx: AnswerContext): Promise<SimResponse> {
    const form = usableForm(body);
    if (form === undefined) {
      throw invalidRequest(
        `Invalid Content-Type header (${body.contentType ?? 'none'}), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')`,
        null,
        null,
      );
    }
    const plan = await parseVariation(form, this.opts.relay);
    // Variations take no `stream` (the spec has none), so this never streams.
    return this.answerImages(plan, (p, variant) => asInputImageError(drawVariation(p, variant)), ctx, 'image_generation');
  }

  /** The answer to a valid plan: `n` rendered images, or the fixed image (benchmark fast path); streamed when asked. */
  private async answerImages<P extends GenerationPlan>(
    plan: P,
    draw: Draw<P>,
    ctx: AnswerContext,
    prefix: StreamEventPrefix,
  ): Promise<SimResponse> {
    if (plan.stream !== undefined) return this.streamImages(plan, plan.stream, draw, ctx, prefix);
    if (this.opts.fixedImage !== undefined) return this.fixedAnswer(plan);
    const render = async (variant: number): Promise<OutImage> => ({
      bytes: await draw(plan, variant),
      format: plan.format,
      width: plan.width,
      height: plan.height,
    });
    const images = await Promise.all(Array.from({ length: plan.n }, (_, variant) => render(variant)));
    return jsonResponse(200, this.envelope(plan, images, nowSeconds()));
  }

  // -- streaming --------------------------------------------------------------

  private async streamImages<P extends GenerationPlan>(
    plan: P,
    stream: StreamPlan,
    draw: Draw<P>,
    ctx: AnswerContext,
    prefix: StreamEventPrefix,
  ): Promise<SimResponse> {
    const source =
      this.opts.fixedImage !== undefined
        ? await this.fixedStreamSource(plan, stream, prefix)
        : renderedStreamSource(plan, stream, draw, prefix);
    const events = plan.n * (stream.partialImages + 1);
    const beforeEventMs = (this.opts.latencyMs ?? 0) / events + (this.opts.streamIntervalMs ?? 0);
    return openImageStream(source, { beforeEventMs, signal: ctx.signal }, ctx.streamFault, { 'x-request-id': requestId() });
  }

  /** Benchmark path: every event carries the fixed image's cached base64, so only transport is measured. */
  private async fixedStreamSource(plan: GenerationPlan, stream: StreamPlan, prefix: StreamEventPrefix): Promise<StreamSource> {
    const image = await this.fixedImage();
    const b64 = image.base64Bytes ?? Buffer.from(image.bytes.toString('base64'), 'latin1');
    const same = (): Promise<Buffer> => Promise.resolve(b64);
    return {
      prefix,
      n: plan.n,
      partialImages: stream.partialImages,
      fields: streamFields(plan, image),
      usage: usageFor(plan),
      partial: same,
      final: same,
      startFinals: () => undefined,
    };
  }

  private envelope(plan: GenerationPlan, images: readonly OutImage[], created: number): JsonObject {
    const data = images.map((image) => this.item(plan, image));
    const first = images[0];
    if (plan.family !== 'gpt' || first === undefined) return { created, data };
    return {
      created,
      background: plan.background,
      data,
      output_format: first.format,
      quality: plan.quality,
      size: `${first.width}x${first.height}`,
      usage: usageFor(plan),
    };
  }

  private item(plan: GenerationPlan, image: OutImage): Record<string, string> {
    const item: Record<string, string> = {};
    if (plan.family === 'dall-e-3') item.revised_prompt = revisePrompt(plan.prompt);
    const base64 = (): string => image.base64 ?? image.bytes.toString('base64');
    if (plan.answer === 'url') item.url = this.host(image);
    else if (plan.answer === 'data_uri') item.url = `data:${MIME[image.format]};base64,${base64()}`;
    else item.b64_json = base64();
    return item;
  }

  /** Keeps the image for GET /files/<name>, bounded to the most recent ones. */
  private host(image: OutImage): string {
    const name = `img-${randomBytes(12).toString('hex')}.${EXT[image.format]}`;
    this.files.set(name, { bytes: image.bytes, contentType: MIME[image.format] });
    this.hostedBytes += image.bytes.length;
    while (this.files.size > MAX_HOSTED_FILES || this.hostedBytes > MAX_HOSTED_BYTES) {
      const oldest = this.files.entries().next();
      if (oldest.done === true) break;
      this.files.delete(oldest.value[0]);
      this.hostedBytes -= oldest.value[1].bytes.length;
    }
    const base = (this.opts.publicBaseUrl ?? DEFAULT_PUBLIC_BASE).replace(/\/+$/, '');
    return `${base}/files/${name}`;
  }

  // -- fixed-image fast path --------------------------------------------------

  private fixedImage(): Promise<OutImage> {
    const bytes = this.opts.fixedImage;
    if (bytes === undefined) throw new Error('fixedImage is not configured');
    this.fixed ??= describeFixedImage(bytes);
    return this.fixed;
  }

  /** Inline answers are served from cached bytes; only url answers are built per request. */
  private async fixedAnswer(plan: GenerationPlan): Promise<SimResponse> {
    const image = await this.fixedImage();
    const images = Array.from({ length: plan.n }, () => image);
    if (plan.answer === 'url') return jsonResponse(200, this.envelope(plan, images, nowSeconds()));
    const key = fixedCacheKey(plan);
    const now = nowSeconds();
    let entry = this.fixedCache.get(key);
    if (entry === undefined || now - entry.created > FIXED_CACHE_MAX_AGE_S) {
      entry = { created: now, body: jsonBuffer(this.envelope(plan, images, now)) };
      this.cacheFixed(key, entry);
    }
    return { kind: 'full', status: 200, headers: jsonHeaders(), body: entry.body };
  }

  private cacheFixed(key: string, entry: FixedCacheEntry): void {
    const previous = this.fixedCache.get(key);
    if (previous !== undefined) this.fixedCacheBytes -= previous.body.length;
    this.fixedCache.delete(key);
    this.fixedCache.set(key, entry);
    this.fixedCacheBytes += entry.body.length;
    for (const [oldKey, old] of this.fixedCache) {
      if (this.fixedCacheBytes <= FIXED_CACHE_MAX_BYTES || oldKey === key) break;
      this.fixedCache.delete(oldKey);
      this.fixedCacheBytes -= old.body.length;
    }
  }

  // -- bookkeeping and control ------------------------------------------------

  private record(method: string, req: SimRequest, body: ReadBody): void {
    const entry: RecordedRequest = { method, path: req.path, headers: { ...req.headers }, json: body.json.ok ? body.json.value : undefined };
    if (body.form !== undefined && body.form !== 'malformed') entry.form = describeForm(body.form);
    this.requests.push(entry);
    // Bounded so long benchmarks do not grow without limit; drop in chunks to keep it cheap.
    if (this.requests.length > MAX_RECORDED_REQUESTS + 1000) this.requests.splice(0, 1000);
  }

  private controlFaults(parsed: ParsedJson): SimResponse {
    const raw = parsed.ok ? parsed.value : undefined;
    const list: unknown[] = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
    if (list.length === 0) return errorResponse(invalidRequest('Expected a JSON array of faults.', null, null));
    const faults: SimFault[] = [];
    for (const value of list) {
      const fault = parseFault(value);
      if (typeof fault === 'string') return errorResponse(invalidRequest(`Invalid fault: ${fault}.`, null, null));
      faults.push(fault);
    }
    this.enqueueFault(...faults);
    return jsonResponse(200, { enqueued: faults.length, pending: this.faults.length });
  }

  private controlState(): SimResponse {
    return jsonResponse(200, { requests: this.requests.length, aborted: this.aborted, pendingFaults: this.faults.length });
  }
}

/** Everything that shapes a fixed-image body besides `created` (format and size come from the image). */
function fixedCacheKey(plan: GenerationPlan): string {
  const revised = plan.family === 'dall-e-3' ? plan.prompt : null;
  const usage = plan.family === 'gpt' ? usageFor(plan) : null;
  return JSON.stringify([plan.answer, plan.n, plan.family, plan.quality, plan.background, usage, revised]);
}

function modelObject(entry: { id: string; created: number }): JsonObject {
  return { id: entry.id, object: 'model', created: entry.created, owned_by: 'system' };
}

async function describeFixedImage(bytes: Buffer): Promise<OutImage> {
  const meta = await sharp(bytes).metadata();
  const format: ImageFormat = meta.format === 'jpeg' || meta.format === 'webp' ? meta.format : 'png';
  const base64 = bytes.toString('base64');
  return { bytes, base64, base64Bytes: Buffer.from(base64, 'latin1'), format, width: meta.width ?? 1024, height: meta.height ?? 1024 };
}

/**
 * Whether a request asks to be streamed, read before validation so that the latency can be
 * spent between events rather than up front. Only a peek: validation decides for real (a
 * dall-e model, say, is a 400), and reads the same values (multipart "true" is a boolean there).
 */
function asksForStream(target: Route, body: ReadBody, relay: RelayOption | undefined): boolean {
  if (relay?.noStream === true || (target.kind !== 'generate' && target.kind !== 'edit')) return false;
  if (body.form !== undefined && body.form !== 'malformed') {
    const value = body.form.fields.stream;
    return typeof value === 'string' && value.trim().toLowerCase() === 'true';
  }
  return body.json.ok && isObject(body.json.value) && body.json.value.stream === true;
}

/** What a queued fault does to a stream; undefined for faults that act before or instead of one. */
function asStreamFault(fault: SimFault): StreamFault | undefined {
  switch (fault.kind) {
    case 'stream_error':
    case 'stream_cut':
    case 'truncated':
      return fault;
    case 'hang':
      return fault.afterEvents !== undefined ? { kind: 'hang', afterEvents: fault.afterEvents } : undefined;
    default:
      return undefined;
  }
}

/** The per-event fields: the answer's real size and format (a relay's or the fixed image's may differ from the request's). */
function streamFields(plan: GenerationPlan, image: { width: number; height: number; format: ImageFormat }): StreamSource['fields'] {
  return { size: `${image.width}x${image.height}`, quality: plan.quality, background: plan.background, output_format: image.format };
}

function base64Bytes(image: Buffer): Buffer {
  return Buffer.from(image.toString('base64'), 'latin1');
}

/**
 * Rendered streams: previews are the same image drawn small and enlarged (real, decodable, the
 * requested size and format, sharpening from one to the next); the finals are drawn at full size,
 * all started once the first event's image is ready, each awaited when its completed event is due.
 */
function renderedStreamSource<P extends GenerationPlan>(
  plan: P,
  stream: StreamPlan,
  draw: Draw<P>,
  prefix: StreamEventPrefix,
): StreamSource {
  const finals = new Map<number, Promise<Buffer>>();
  const final = (variant: number): Promise<Buffer> => {
    let image = finals.get(variant);
    if (image === undefined) {
      image = draw(plan, variant).then(base64Bytes);
      image.catch(() => undefined); // read when its event is due; the stream may end before that
      finals.set(variant, image);
    }
    return image;
  };
  const partial = async (variant: number, index: number): Promise<Buffer> => {
    const small = previewSize(plan.width, plan.height, index, stream.partialImages);
    // Drawn as PNG: lossless and quick at this size; the enlarged preview is encoded as asked.
    const preview = await draw({ ...plan, ...small, format: 'png' }, variant);
    const { width, height, format, compression } = plan;
    const transparent = plan.background === 'transparent';
    return base64Bytes(await enlargePreview(preview, { width, height, format, compression, transparent }));
  };
  return {
    prefix,
    n: plan.n,
    partialImages: stream.partialImages,
    fields: streamFields(plan, plan),
    usage: usageFor(plan),
    partial,
    final,
    startFinals: () => {
      for (let variant = 0; variant < plan.n; variant++) final(variant);
    },
  };
}

/** Generations, edits and variations: the requests that take a fault from the queue. */
function makesImages(target: Route): boolean {
  return target.kind === 'generate' || target.kind === 'edit' || target.kind === 'variation';
}

/** Multipart is only parsed for the endpoints that take it; other bodies are read as JSON. */
async function readBody(req: SimRequest, target: Route): Promise<ReadBody> {
  const contentType = headerValue(req.headers, 'content-type');
  const takesForm = (target.kind === 'edit' || target.kind === 'variation') && isMultipart(contentType);
  if (!takesForm) return { json: parseJson(req.body), form: undefined, contentType };
  const form = await parseMultipart(req.body, contentType ?? '').catch((): 'malformed' => 'malformed');
  return { json: { ok: false }, form, contentType };
}

function jsonObjectBody(parsed: ParsedJson): JsonObject {
  if (!parsed.ok) {
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
      null,
      null,
    );
  }
  if (!isObject(parsed.value)) throw typeError('body', 'an object', parsed.value);
  return parsed.value;
}

/** The form, undefined for a non-multipart body; a 400 for a multipart body that does not parse. */
function usableForm(body: ReadBody): MultipartForm | undefined {
  if (body.form === 'malformed') {
    throw invalidRequest('We could not parse the multipart/form-data body of your request.', null, null);
  }
  return body.form;
}

/**
 * Input checks read only image headers; pixel data that turns out corrupt fails while rendering,
 * which is the client's bad image (400), not a simulator failure (500).
 */
function asInputImageError(rendering: Promise<Buffer>): Promise<Buffer> {
  return rendering.catch((err: unknown) => {
    const why = err instanceof Error ? err.message : String(err);
    throw invalidRequest(`Invalid input image: it could not be decoded (${why}).`, 'image', 'invalid_image_format');
  });
}

function drawGeneration(plan: GenerationPlan, variant: number): Promise<Buffer> {
  return renderImage({
    width: plan.width,
    height: plan.height,
    format: plan.format,
    text: plan.prompt,
    compression: plan.compression,
    transparent: plan.background === 'transparent',
    variant,
  });
}

function drawEdit(plan: EditPlan, variant: number): Promise<Buffer> {
  // dall-e-2 without a mask edits the image's own transparent areas: its alpha is the mask.
  const mask = plan.mask?.bytes ?? (plan.family === 'dall-e-2' ? plan.inputs[0]?.bytes : undefined);
  return renderEdit({
    width: plan.width,
    height: plan.height,
    format: plan.format,
    text: plan.prompt,
    compression: plan.compression,
    transparent: plan.background === 'transparent',
    inputs: plan.inputs.map((image) => image.bytes),
    mask,
    variant,
  });
}

function drawVariation(plan: VariationPlan, variant: number): Promise<Buffer> {
  return renderVariation({ size: plan.width, input: plan.input.bytes, variant });
}

// ---------------------------------------------------------------------------
// node:http transport

export async function startOpenAISimulator(
  opts: OpenAISimulatorOptions & { host?: string; port?: number } = {},
): Promise<RunningSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer(
    (origin) => new OpenAIImagesSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }),
    { host, port },
  );
  return { ...running, baseURL: `${running.origin}/v1` };
}
