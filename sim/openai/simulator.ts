// A faithful, in-memory simulator of the OpenAI Images API (generations, edits and variations)
// for tests and benchmarks: a development tool, not part of the gateway (the demo channel has a
// renderer of its own, src/providers/demo/). The core (`handle`) is transport-free;
// `startOpenAISimulator` puts it behind a node:http server. The parts, by job:
//   routes.ts      the routes, and each request's body read once (JSON or multipart)
//   models.ts      the models served, from the gateway's catalogue (src/core/models.ts)
//   params.ts      OpenAI's parameter checks and error wording, shared by every endpoint
//   generation.ts  generations: the JSON body into a plan
//   edits.ts       edits (multipart and JSON) and variations: inputs checked, then a plan
//   draw.ts        what the images show (render.ts draws them), and a stream's previews
//   answers.ts     ImagesResponse bodies, usage, the hosted images of url answers
//   stream.ts      streamed answers (stream=true): server-sent events, framed and paced
//   faults.ts      injected failures: their kinds, the control endpoint's reading, their errors
//   fixed-image.ts the benchmark fast path (one fixed image, cached bodies)
//   responses.ts   JSON answers and OpenAI's error envelope
import { startSimulatorServer, type SimRequest, type SimResponse } from '../http-server.js';
import { describeForm, type RecordedForm } from '../multipart.js';
import { bearerToken, sleep } from '../wire.js';
import { ImageHost, imagesResponse, type OutImage } from './answers.js';
import { drawEdit, drawGeneration, drawVariation, renderedStreamSource, type Draw } from './draw.js';
import { parseJsonEdit, parseMultipartEdit, parseVariation } from './edits.js';
import { asStreamFault, parseFault, statusDefaults, statusFaultError, type SimFault } from './faults.js';
import { FixedImageAnswers } from './fixed-image.js';
import { parseGeneration } from './generation.js';
import { MODELS_CREATED, modelSpec, servedModels } from './models.js';
import { invalidRequest, SimApiError, type GenerationPlan, type JsonObject, type RelayOption, type StreamPlan } from './params.js';
import { errorResponse, jsonHeaders, jsonResponse, nowSeconds, requestId, type ParsedJson } from './responses.js';
import { asksForStream, jsonObjectBody, makesImages, readBody, route, usableForm, type ReadBody, type Route } from './routes.js';
import { malformedStream, openImageStream, type StreamEventPrefix, type StreamFault } from './stream.js';

export type { SimFault } from './faults.js';
export type { RelayOption } from './params.js';

// ---------------------------------------------------------------------------
// Public types

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

const MAX_RECORDED_REQUESTS = 10_000;

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

export class OpenAIImagesSimulator {
  /** Every API request received (control requests excluded), oldest first; keeps the last 10,000. */
  readonly requests: RecordedRequest[] = [];
  /** Requests whose client went away before the answer (maintained by the http server). */
  aborted = 0;

  private readonly opts: OpenAISimulatorOptions;
  private readonly faults: SimFault[] = [];
  private readonly hosted: ImageHost;
  private readonly fixed: FixedImageAnswers | undefined;

  constructor(opts: OpenAISimulatorOptions = {}) {
    this.opts = { ...opts };
    this.hosted = new ImageHost(opts.publicBaseUrl);
    this.fixed = opts.fixedImage !== undefined ? new FixedImageAnswers(opts.fixedImage) : undefined;
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
          return jsonResponse(200, { object: 'list', data: servedModels(this.opts.relay !== undefined).map((model) => modelObject(model.id)) });
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
    const given = bearerToken(req.headers);
    if (given === expected) return;
    const message =
      given === undefined || given === ''
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        : `Incorrect API key provided: ${maskKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
    throw new SimApiError(401, message, 'invalid_request_error', null, 'invalid_api_key');
  }

  private model(id: string): SimResponse {
    if (modelSpec(id, this.opts.relay !== undefined) === undefined) {
      throw new SimApiError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model', 'model_not_found');
    }
    return jsonResponse(200, modelObject(id));
  }

  private file(name: string, method: string, path: string): SimResponse {
    const file = this.hosted.get(name);
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
    const plan = parseGeneration(jsonObjectBody(body.json), this.opts.relay);
    return this.answerImages(plan, drawGeneration, ctx, 'image_generation');
  }

  /** multipart/form-data (the SDKs' way, dall-e-2 included) or JSON with image references. */
  private async edit(body: ReadBody, ctx: AnswerContext): Promise<SimResponse> {
    const form = usableForm(body);
    const relay = this.opts.relay;
    const plan = form !== undefined ? await parseMultipartEdit(form, relay) : await parseJsonEdit(jsonObjectBody(body.json), relay);
    return this.answerImages(plan, drawEdit, ctx, 'image_edit');
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
    return this.answerImages(plan, drawVariation, ctx, 'image_generation');
  }

  /** The answer to a valid plan: `n` rendered images, or the fixed image (benchmark fast path); streamed when asked. */
  private async answerImages<P extends GenerationPlan>(plan: P, draw: Draw<P>, ctx: AnswerContext, prefix: StreamEventPrefix): Promise<SimResponse> {
    if (plan.stream !== undefined) return this.streamImages(plan, plan.stream, draw, ctx, prefix);
    if (this.fixed !== undefined) return this.fixed.answer(plan, this.hosted);
    const render = async (variant: number): Promise<OutImage> => ({
      bytes: await draw(plan, variant),
      format: plan.format,
      width: plan.width,
      height: plan.height,
    });
    const images = await Promise.all(Array.from({ length: plan.n }, (_, variant) => render(variant)));
    return jsonResponse(200, imagesResponse(plan, images, nowSeconds(), this.hosted));
  }

  // -- streaming --------------------------------------------------------------

  private async streamImages<P extends GenerationPlan>(
    plan: P,
    stream: StreamPlan,
    draw: Draw<P>,
    ctx: AnswerContext,
    prefix: StreamEventPrefix,
  ): Promise<SimResponse> {
    const source = this.fixed !== undefined ? await this.fixed.streamSource(plan, stream, prefix) : renderedStreamSource(plan, stream, draw, prefix);
    const events = plan.n * (stream.partialImages + 1);
    const beforeEventMs = (this.opts.latencyMs ?? 0) / events + (this.opts.streamIntervalMs ?? 0);
    return openImageStream(source, { beforeEventMs, signal: ctx.signal }, ctx.streamFault, { 'x-request-id': requestId() });
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

function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(Math.min(20, key.length - 7))}${key.slice(-4)}`;
}

function modelObject(id: string): JsonObject {
  return { id, object: 'model', created: MODELS_CREATED, owned_by: 'system' };
}

// ---------------------------------------------------------------------------
// node:http transport

export async function startOpenAISimulator(opts: OpenAISimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer((origin) => new OpenAIImagesSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), {
    host,
    port,
  });
  return { ...running, baseURL: `${running.origin}/v1` };
}
