// A simulator of Replicate's predictions API (https://api.replicate.com/v1), written from its HTTP
// API reference and its JavaScript client (replicate-javascript: lib/predictions.js, index.js):
// - `Authorization: Bearer <token>`; a wrong token is 401 `{title: "Unauthenticated", detail, status}`.
// - POST /v1/models/{owner}/{name}/predictions `{input}` runs an official model (the ones below);
//   POST /v1/predictions `{version, input}` runs a model by version (`registerVersion` names them;
//   an unknown version is 404). Top-level fields other than input, version, webhook,
//   webhook_completed, webhook_events_filter and stream are a 422 (Replicate's payload check).
// - Each official model's input fields and ranges (its schema on replicate.com): FLUX1.1 [pro],
//   Ultra, FLUX.2, Kontext, Seedream 4/4.5, Imagen 4, Recraft V3, Ideogram V3. A field the schema
//   lacks, or a value out of range, is 422 problem details with `invalid_fields: [{type, field:
//   "input.<name>", description}]` (stricter than some models, which ignore unknown inputs: a
//   misnamed field fails the tests). Output is one URL (FLUX, Imagen, Recraft, Ideogram) or an
//   array of URLs (Seedream, models by version), at the size the inputs ask.
// - The prediction answers `{id, model, version, input, output, error, logs, status, created_at,
//   started_at, completed_at, urls: {get, cancel, stream, web}, metrics}`: `starting`, then
//   `processing` from half its duration, then `succeeded` (or `failed`); `hold()` keeps every
//   prediction starting until `release()`. `Prefer: wait[=N]` (1-60 s) holds the create call until
//   the prediction ends or N seconds pass. GET /v1/predictions/{id} polls, POST .../cancel cancels.
//   `creates` counts the create calls (a gateway must never create a task's prediction twice),
//   `cancels` the cancels.
// - Output URLs are hosted here (`/delivery/...`, no key, as replicate.delivery) and expire: an
//   hour at Replicate, `urlTtlMs` here; then 404. `dataUriOutput` answers data URIs instead.
// - Faults: `[sim:nsfw]` in a prompt makes the prediction fail with Replicate's E005 "flagged as
//   sensitive" error; `[sim:fail]` with a model error; `enqueueFault` answers the next create
//   with any status and detail (402 insufficient credit, 429 with `retry_after` and Retry-After...).
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { RECRAFT_V2_V3_SIZES } from '../src/core/models.js';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { HostedFiles } from './hosted-files.js';
import { HeldTasks } from './held-tasks.js';
import { MAX_INPUT_PIXELS, renderEdit, renderImage, type ImageFormat } from './render.js';
import { bearerToken, headerValue, isObject, jsonResponse, parseJson, publicOrigin, safeDecode, sleep } from './wire.js';

type Schema = 'flux-pro' | 'flux-ultra' | 'flux-2' | 'flux-kontext' | 'seedream-4' | 'imagen-4' | 'recraft-v3' | 'ideogram-v3' | 'version';

interface Dimensions {
  width: number;
  height: number;
}

/** What a model's input schema says: its fields, their checks, and what it makes of them. */
interface SchemaSpec {
  /** field -> why a value is refused (undefined: fine). */
  readonly fields: Readonly<Record<string, (value: unknown) => string | undefined>>;
  /** Unknown fields pass (a model run by version: the simulator does not know its schema). */
  readonly open?: boolean;
  readonly output: 'uri' | 'uris';
  readonly defaultFormat: ImageFormat;
  /** The input images' fields, in order. */
  readonly imageFields: readonly string[];
  readonly size: (input: Record<string, unknown>, first: Dimensions | undefined) => Dimensions;
}

const MEGAPIXEL = 1024 * 1024;
const ROUND_TO = 32;
const RATIOS = ['21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '9:21', '2:1', '1:2'];
const IMAGEN_1K: Readonly<Record<string, Dimensions>> = {
  '1:1': { width: 1024, height: 1024 },
  '3:4': { width: 896, height: 1280 },
  '4:3': { width: 1280, height: 896 },
  '9:16': { width: 768, height: 1408 },
  '16:9': { width: 1408, height: 768 },
};
const RECRAFT_SIZES = new Set<string>(RECRAFT_V2_V3_SIZES);

const anything = (): undefined => undefined;
const str = (value: unknown): string | undefined => (typeof value === 'string' ? undefined : 'must be a string');
const bool = (value: unknown): string | undefined => (typeof value === 'boolean' ? undefined : 'must be a boolean');
const int =
  (min: number, max: number) =>
  (value: unknown): string | undefined => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer';
    if (value < min) return `Must be greater than or equal to ${min}`;
    return value > max ? `Must be less than or equal to ${max}` : undefined;
  };
const oneOf =
  (...options: string[]) =>
  (value: unknown): string | undefined =>
    typeof value === 'string' && options.includes(value) ? undefined : `must be one of the following: ${options.map((o) => JSON.stringify(o)).join(', ')}`;
const images =
  (max: number) =>
  (value: unknown): string | undefined =>
    Array.isArray(value) && value.length <= max && value.every((v) => typeof v === 'string') ? undefined : `must be an array of at most ${max} image URIs`;

const round = (value: number) => Math.max(ROUND_TO, Math.round(value / ROUND_TO) * ROUND_TO);

/** A ratio at about `pixels`, each side rounded to 32. */
function atRatio(ratio: string, pixels: number): Dimensions {
  const [w, h] = ratio.split(':').map(Number) as [number, number];
  const width = Math.sqrt((pixels * w) / h);
  return { width: round(width), height: round((width * h) / w) };
}

function matchInput(first: Dimensions | undefined, pixels: number): Dimensions {
  if (!first) return atRatio('1:1', pixels);
  const scale = Math.sqrt(pixels / (first.width * first.height));
  return { width: round(first.width * scale), height: round(first.height * scale) };
}

function ratioOrCustom(input: Record<string, unknown>, first: Dimensions | undefined, pixels: number): Dimensions {
  const ratio = typeof input.aspect_ratio === 'string' ? input.aspect_ratio : '1:1';
  if (ratio === 'custom') return { width: round(Number(input.width ?? 1024)), height: round(Number(input.height ?? 1024)) };
  if (ratio === 'match_input_image') return matchInput(first, pixels);
  return atRatio(ratio, pixels);
}

const FLUX_COMMON = {
  prompt: str,
  seed: int(0, 2_147_483_647),
  prompt_upsampling: bool,
  output_quality: int(0, 100),
};

export const REPLICATE_SIM_SCHEMAS: Readonly<Record<Schema, SchemaSpec>> = {
  'flux-pro': {
    fields: {
      ...FLUX_COMMON,
      aspect_ratio: oneOf('custom', ...RATIOS.slice(1, 10)),
      width: int(256, 1440),
      height: int(256, 1440),
      safety_tolerance: int(1, 6),
      output_format: oneOf('webp', 'jpg', 'png'),
      image_prompt: str,
    },
    output: 'uri',
    defaultFormat: 'webp',
    imageFields: [],
    size: (input) => ratioOrCustom(input, undefined, MEGAPIXEL),
  },
  'flux-ultra': {
    fields: {
      prompt: str,
      seed: int(0, 2_147_483_647),
      aspect_ratio: oneOf(...RATIOS.slice(0, 11)),
      raw: bool,
      safety_tolerance: int(1, 6),
      output_format: oneOf('jpg', 'png'),
      image_prompt: str,
      image_prompt_strength: anything,
    },
    output: 'uri',
    defaultFormat: 'jpeg',
    imageFields: [],
    size: (input) => atRatio(typeof input.aspect_ratio === 'string' ? input.aspect_ratio : '1:1', 4 * MEGAPIXEL),
  },
  'flux-2': {
    fields: {
      ...FLUX_COMMON,
      input_images: images(8),
      aspect_ratio: oneOf('custom', 'match_input_image', ...RATIOS.slice(0, 11)),
      resolution: str,
      width: int(256, 2048),
      height: int(256, 2048),
      safety_tolerance: int(1, 5),
      output_format: oneOf('webp', 'jpg', 'png'),
      steps: int(1, 50),
      guidance: anything,
      go_fast: bool,
      disable_safety_checker: bool,
    },
    output: 'uri',
    defaultFormat: 'webp',
    imageFields: ['input_images'],
    size: (input, first) => ratioOrCustom(input, first, MEGAPIXEL),
  },
  'flux-kontext': {
    fields: {
      prompt: str,
      seed: int(0, 2_147_483_647),
      prompt_upsampling: bool,
      input_image: str,
      aspect_ratio: oneOf('match_input_image', ...RATIOS),
      safety_tolerance: int(0, 6),
      output_format: oneOf('jpg', 'png'),
    },
    output: 'uri',
    defaultFormat: 'png',
    imageFields: ['input_image'],
    size: (input, first) => ratioOrCustom({ aspect_ratio: 'match_input_image', ...input }, first, MEGAPIXEL),
  },
  'seedream-4': {
    fields: {
      prompt: str,
      image_input: images(10),
      size: oneOf('1K', '2K', '4K', 'custom'),
      aspect_ratio: oneOf('match_input_image', ...RATIOS.slice(0, 11)),
      width: int(1024, 4096),
      height: int(1024, 4096),
      sequential_image_generation: oneOf('disabled', 'auto'),
      max_images: int(1, 15),
      enhance_prompt: bool,
    },
    output: 'uris',
    defaultFormat: 'jpeg',
    imageFields: ['image_input'],
    size: (input, first) => {
      if (input.size === 'custom') return { width: Number(input.width ?? 2048), height: Number(input.height ?? 2048) };
      const side = input.size === '1K' ? 1024 : input.size === '4K' ? 4096 : 2048;
      const ratio = typeof input.aspect_ratio === 'string' ? input.aspect_ratio : 'match_input_image';
      return ratio === 'match_input_image' ? matchInput(first, side * side) : atRatio(ratio, side * side);
    },
  },
  'imagen-4': {
    fields: {
      prompt: str,
      aspect_ratio: oneOf(...Object.keys(IMAGEN_1K)),
      safety_filter_level: oneOf('block_low_and_above', 'block_medium_and_above', 'block_only_high'),
      output_format: oneOf('jpg', 'png'),
    },
    output: 'uri',
    defaultFormat: 'jpeg',
    imageFields: [],
    size: (input) => IMAGEN_1K[typeof input.aspect_ratio === 'string' ? input.aspect_ratio : '1:1'] ?? { width: 1024, height: 1024 },
  },
  'recraft-v3': {
    fields: {
      prompt: str,
      size: oneOf(...RECRAFT_SIZES),
      aspect_ratio: str,
      style: oneOf('any', 'realistic_image', 'digital_illustration', 'logo_raster'),
    },
    output: 'uri',
    defaultFormat: 'webp',
    imageFields: [],
    size: (input) => parseDims(typeof input.size === 'string' ? input.size : '1024x1024'),
  },
  'ideogram-v3': {
    fields: {
      prompt: str,
      resolution: str,
      aspect_ratio: oneOf(...RATIOS.slice(0, 11)),
      seed: int(0, 2_147_483_647),
      magic_prompt_option: oneOf('Auto', 'On', 'Off'),
      style_type: str,
      style_preset: str,
      image: str,
      mask: str,
    },
    output: 'uri',
    defaultFormat: 'png',
    imageFields: ['image'],
    size: (input) =>
      typeof input.resolution === 'string' && /^\d+x\d+$/.test(input.resolution)
        ? parseDims(input.resolution)
        : atRatio(typeof input.aspect_ratio === 'string' ? input.aspect_ratio : '1:1', MEGAPIXEL),
  },
  version: {
    fields: { prompt: str, width: int(64, 4096), height: int(64, 4096), image: str },
    open: true,
    output: 'uris',
    defaultFormat: 'png',
    imageFields: ['image'],
    size: (input) => ({ width: Number(input.width ?? 1024), height: Number(input.height ?? 1024) }),
  },
};

/** Replicate's official models the gateway maps, and their schemas. */
export const REPLICATE_SIM_MODELS: Readonly<Record<string, Schema>> = {
  'black-forest-labs/flux-1.1-pro': 'flux-pro',
  'black-forest-labs/flux-1.1-pro-ultra': 'flux-ultra',
  'black-forest-labs/flux-2-pro': 'flux-2',
  'black-forest-labs/flux-2-max': 'flux-2',
  'black-forest-labs/flux-2-flex': 'flux-2',
  'black-forest-labs/flux-2-klein-4b': 'flux-2',
  'black-forest-labs/flux-2-klein-9b': 'flux-2',
  'black-forest-labs/flux-kontext-pro': 'flux-kontext',
  'black-forest-labs/flux-kontext-max': 'flux-kontext',
  'bytedance/seedream-4': 'seedream-4',
  'bytedance/seedream-4.5': 'seedream-4',
  'google/imagen-4': 'imagen-4',
  'google/imagen-4-ultra': 'imagen-4',
  'google/imagen-4-fast': 'imagen-4',
  'recraft-ai/recraft-v3': 'recraft-v3',
  'ideogram-ai/ideogram-v3-turbo': 'ideogram-v3',
  'ideogram-ai/ideogram-v3-balanced': 'ideogram-v3',
  'ideogram-ai/ideogram-v3-quality': 'ideogram-v3',
};

const TOP_LEVEL = new Set(['input', 'version', 'webhook', 'webhook_completed', 'webhook_events_filter', 'stream']);
const HOUR_MS = 3600 * 1000;
const MAX_WAIT_SECONDS = 60;

export interface ReplicateSimulatorOptions {
  /** When set, requests want `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** How long a prediction runs (default 300 ms): starting, processing from half of it, then done. */
  predictionMs?: number;
  /** How long output URLs stay (default an hour, as replicate.delivery's). */
  urlTtlMs?: number;
  /** Output files as data URIs instead of hosted URLs (what Replicate's clients also read). */
  dataUriOutput?: boolean;
  /** Base of the API and of output URLs; startReplicateSimulator sets its own origin. */
  publicBaseUrl?: string;
}

/** A scripted answer for the next create call. */
export interface ReplicateFault {
  status: number;
  detail: string;
  title?: string;
  retryAfterSeconds?: number;
}

export interface ReplicateRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  json: unknown;
}

type Status = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';

interface SimPrediction {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly schema: SchemaSpec;
  readonly input: Record<string, unknown>;
  createdAt: number;
  /** Set once it has ended. */
  outcome?: { status: 'succeeded'; urls: string[] } | { status: 'failed'; error: string } | { status: 'canceled' };
  completedAt?: number;
}

export class ReplicateSimulator implements SimHandler {
  readonly requests: ReplicateRecordedRequest[] = [];
  /** Create calls received (accepted or not): proves a task's prediction is never created twice. */
  creates = 0;
  polls = 0;
  cancels = 0;
  aborted = 0;
  private readonly hosted = new HostedFiles();
  /** The output URLs answered, oldest first. */
  readonly answeredUrls = this.hosted.answered;

  private readonly faults: ReplicateFault[] = [];
  private readonly predictions = new HeldTasks<SimPrediction>();
  private readonly versions = new Map<string, string>();

  constructor(private readonly opts: ReplicateSimulatorOptions = {}) {}

  /** A community model run by version (`owner/name:version`): its version id is returned. */
  registerVersion(model: string): string {
    const version = randomBytes(32).toString('hex');
    this.versions.set(version, model);
    return version;
  }

  enqueueFault(...faults: ReplicateFault[]): void {
    this.faults.push(...faults);
  }

  /** Every prediction stays `starting` until release(). */
  hold(): void {
    this.predictions.hold();
  }

  /** Predictions run again; their duration counts from now. */
  release(): void {
    this.predictions.release();
  }

  /** Ends a prediction as failed with `error` (a model crash, say), whatever it was doing. */
  fail(id: string, error: string): void {
    const prediction = this.predictions.get(id);
    if (!prediction || prediction.outcome) return;
    prediction.outcome = { status: 'failed', error };
    prediction.completedAt = Date.now();
  }

  /** The bodies of the create calls, oldest first. */
  bodies(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.method === 'POST' && /\/predictions$/.test(r.path)).map((r) => (isObject(r.json) ? r.json : {}));
  }

  /** A prediction's status as the API would answer it now. */
  statusOf(id: string): Status | undefined {
    const p = this.predictions.get(id);
    return p ? this.status(p) : undefined;
  }

  async handle(req: SimRequest, signal?: AbortSignal): Promise<SimResponse> {
    const url = new URL(req.path, 'http://replicate-simulator.invalid');
    const method = req.method.toUpperCase();
    this.requests.push({ method, path: url.pathname, headers: { ...req.headers }, json: parseJson(req.body) });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'GET' && url.pathname.startsWith('/delivery/')) return this.file(url.pathname);
    if (this.opts.apiKey !== undefined && bearerToken(req.headers) !== this.opts.apiKey) {
      return problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
    }
    const official = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(url.pathname);
    if (method === 'POST' && official) return this.create(req, `${safeDecode(official[1] ?? '')}/${safeDecode(official[2] ?? '')}`, signal);
    if (method === 'POST' && url.pathname === '/v1/predictions') return this.create(req, undefined, signal);
    const cancel = /^\/v1\/predictions\/([^/]+)\/cancel$/.exec(url.pathname);
    if (method === 'POST' && cancel) return this.cancel(safeDecode(cancel[1] ?? ''));
    const get = /^\/v1\/predictions\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && get) return this.get(safeDecode(get[1] ?? ''));
    return problem(404, 'Not found', `${method} ${url.pathname} is not an API of this simulator`);
  }

  private async create(req: SimRequest, officialModel: string | undefined, signal: AbortSignal | undefined): Promise<SimResponse> {
    this.creates += 1;
    const body = parseJson(req.body);
    if (!isObject(body)) return invalid('', 'the request body must be a JSON object');
    const extra = Object.keys(body).find((key) => !TOP_LEVEL.has(key));
    if (extra !== undefined) return invalid('', `Additional property ${extra} is not allowed`, 'additional_property_not_allowed');
    if (!isObject(body.input)) return invalid('', 'input is required', 'required');
    let model: string;
    let version = 'hidden';
    let schema: SchemaSpec;
    if (officialModel !== undefined) {
      const name = REPLICATE_SIM_MODELS[officialModel];
      if (name === undefined) return problem(404, 'Not found', `The requested resource could not be found: model ${officialModel}`);
      if (body.version !== undefined) return invalid('', 'Additional property version is not allowed', 'additional_property_not_allowed');
      model = officialModel;
      schema = REPLICATE_SIM_SCHEMAS[name];
    } else {
      const known = typeof body.version === 'string' ? this.versions.get(body.version) : undefined;
      if (typeof body.version !== 'string') return invalid('', 'version is required', 'required');
      if (known === undefined) return problem(404, 'Not found', `The requested version could not be found: ${body.version}`);
      model = known;
      version = body.version;
      schema = REPLICATE_SIM_SCHEMAS.version;
    }
    const problemField = checkInput(body.input, schema);
    if (problemField) return invalid(`input.${problemField.field}`, problemField.description, problemField.type);
    const fault = this.faults.shift();
    if (fault) return problem(fault.status, fault.title ?? 'Simulated failure', fault.detail, fault.retryAfterSeconds);
    const prediction: SimPrediction = { id: predictionId(), model, version, schema, input: body.input, createdAt: Date.now() };
    this.predictions.set(prediction.id, prediction);
    const wait = preferWait(headerValue(req.headers, 'prefer'));
    if (wait !== undefined) {
      const until = Date.now() + wait * 1000;
      while (Date.now() < until && !signal?.aborted && !isTerminal(await this.advance(prediction))) await sleep(20, signal);
    }
    return jsonResponse(201, await this.view(prediction));
  }

  private async get(id: string): Promise<SimResponse> {
    this.polls += 1;
    const prediction = this.predictions.get(id);
    if (!prediction) return problem(404, 'Not found', 'The requested resource could not be found.');
    return jsonResponse(200, await this.view(prediction));
  }

  private async cancel(id: string): Promise<SimResponse> {
    this.cancels += 1;
    const prediction = this.predictions.get(id);
    if (!prediction) return problem(404, 'Not found', 'The requested resource could not be found.');
    if (!prediction.outcome) {
      prediction.outcome = { status: 'canceled' };
      prediction.completedAt = Date.now();
    }
    return jsonResponse(200, await this.view(prediction));
  }

  private status(p: SimPrediction): Status {
    if (p.outcome) return p.outcome.status;
    const elapsed = (Date.now() - p.createdAt) / (this.opts.predictionMs ?? 300);
    if (this.predictions.held || elapsed < 0.5) return 'starting';
    return elapsed < 1 ? 'processing' : 'succeeded';
  }

  /** Ends a prediction whose time has come (rendering its images): its status now. */
  private async advance(p: SimPrediction): Promise<Status> {
    const status = this.status(p);
    if (status !== 'succeeded' || p.outcome) return status;
    const prompt = typeof p.input.prompt === 'string' ? p.input.prompt : '';
    if (prompt.includes('[sim:nsfw]'))
      p.outcome = { status: 'failed', error: 'The input or output was flagged as sensitive. Please try again with different inputs. (E005)' };
    else if (prompt.includes('[sim:fail]')) p.outcome = { status: 'failed', error: 'Prediction failed: CUDA out of memory' };
    else p.outcome = { status: 'succeeded', urls: await this.render(p) };
    p.completedAt ??= Date.now();
    return p.outcome.status;
  }

  private async view(p: SimPrediction): Promise<Record<string, unknown>> {
    const status = await this.advance(p);
    const api = `${this.base()}/v1/predictions/${p.id}`;
    const outcome = p.outcome;
    const output = outcome?.status === 'succeeded' ? (p.schema.output === 'uri' ? outcome.urls[0] : outcome.urls) : null;
    return {
      id: p.id,
      model: p.model,
      version: p.version,
      input: redactImages(p.input),
      logs: status === 'starting' ? '' : 'Generating...\n',
      output,
      data_removed: false,
      error: outcome?.status === 'failed' ? outcome.error : null,
      source: 'api',
      status,
      created_at: new Date(p.createdAt).toISOString(),
      ...(status !== 'starting' ? { started_at: new Date(p.createdAt).toISOString() } : {}),
      ...(p.completedAt !== undefined ? { completed_at: new Date(p.completedAt).toISOString() } : {}),
      urls: { get: api, cancel: `${api}/cancel`, stream: `${this.base()}/stream/${p.id}`, web: `https://replicate.com/p/${p.id}` },
      ...(status === 'succeeded' ? { metrics: { image_count: outcome?.status === 'succeeded' ? outcome.urls.length : 0, predict_time: 0.3 } } : {}),
    };
  }

  private async render(p: SimPrediction): Promise<string[]> {
    const inputs: Buffer[] = [];
    for (const field of p.schema.imageFields) {
      const value = p.input[field];
      for (const ref of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
        if (typeof ref !== 'string') continue;
        const bytes = await imageBytes(ref);
        if (bytes) inputs.push(bytes);
      }
    }
    const first = inputs[0] ? await dimensionsOf(inputs[0]) : undefined;
    const size = p.schema.size(p.input, first);
    const format = formatOf(p.input.output_format, p.schema.defaultFormat);
    const text = `replicate simulator · ${p.model} · ${typeof p.input.prompt === 'string' ? p.input.prompt : ''}`;
    const bytes =
      inputs.length > 0 ? await renderEdit({ ...size, format, text, inputs }) : await renderImage({ ...size, format, text, variant: this.predictions.size });
    return [this.opts.dataUriOutput ? `data:image/${format};base64,${bytes.toString('base64')}` : this.host(bytes, format)];
  }

  private host(bytes: Buffer, format: ImageFormat): string {
    const path = `/delivery/xezq/${randomBytes(16).toString('hex')}/out-0.${format === 'jpeg' ? 'jpg' : format}`;
    return this.hosted.host(path, `${this.base()}${path}`, bytes, `image/${format}`, this.opts.urlTtlMs ?? HOUR_MS);
  }

  private file(path: string): SimResponse {
    return this.hosted.serve(path, () => ({ kind: 'full', status: 404, headers: { 'content-type': 'text/plain' }, body: Buffer.from('Not found') }));
  }

  private base(): string {
    return publicOrigin(this.opts.publicBaseUrl, 'replicate');
  }
}

function isTerminal(status: Status): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
}

/** `wait` (60 s) or `wait=N` (1-60); anything else: no wait. */
function preferWait(header: string | undefined): number | undefined {
  const match = /^\s*wait(?:=(\d+))?\s*$/.exec(header ?? '');
  if (!match) return undefined;
  const seconds = match[1] === undefined ? MAX_WAIT_SECONDS : Number(match[1]);
  return Math.min(MAX_WAIT_SECONDS, Math.max(1, seconds));
}

function checkInput(input: Record<string, unknown>, schema: SchemaSpec): { field: string; description: string; type: string } | undefined {
  if (typeof input.prompt !== 'string' || input.prompt.trim() === '') return { field: 'prompt', description: 'prompt is required', type: 'required' };
  for (const [field, value] of Object.entries(input)) {
    const check = schema.fields[field];
    if (check === undefined) {
      if (schema.open) continue;
      return { field, description: `Additional property ${field} is not allowed`, type: 'additional_property_not_allowed' };
    }
    const why = check(value);
    if (why !== undefined) return { field, description: why, type: 'invalid' };
  }
  return undefined;
}

function formatOf(value: unknown, fallback: ImageFormat): ImageFormat {
  if (value === 'jpg' || value === 'jpeg') return 'jpeg';
  return value === 'png' || value === 'webp' ? value : fallback;
}

function parseDims(size: string): Dimensions {
  const [width, height] = size.split('x').map(Number) as [number, number];
  return { width, height };
}

/** The input as the API echoes it: data URIs shortened, as Replicate does not return them whole. */
function redactImages(input: Record<string, unknown>): Record<string, unknown> {
  const short = (value: unknown): unknown =>
    typeof value === 'string' && value.startsWith('data:') ? `${value.slice(0, 32)}...` : Array.isArray(value) ? value.map(short) : value;
  return Object.fromEntries(Object.entries(input).map(([key, value]) => [key, short(value)]));
}

/** A data URI's bytes, or an http(s) URL's; undefined when it is neither or cannot be read. */
async function imageBytes(ref: string): Promise<Buffer | undefined> {
  const data = /^data:image\/[a-z+]+;base64,([A-Za-z0-9+/=]+)$/.exec(ref);
  if (data) return Buffer.from(data[1] as string, 'base64');
  if (!/^https?:\/\//.test(ref)) return undefined;
  const res = await fetch(ref).catch(() => undefined);
  return res?.ok ? Buffer.from(await res.arrayBuffer()) : undefined;
}

async function dimensionsOf(bytes: Buffer): Promise<Dimensions | undefined> {
  try {
    const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
    return meta.width && meta.height ? { width: meta.width, height: meta.height } : undefined;
  } catch {
    return undefined;
  }
}

/** Replicate's ids: 26 lowercase letters and digits. */
function predictionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(26), (b) => alphabet[b % alphabet.length]).join('');
}

function problem(status: number, title: string, detail: string, retryAfterSeconds?: number): SimResponse {
  const body = { title, detail, status, ...(retryAfterSeconds !== undefined ? { retry_after: retryAfterSeconds } : {}) };
  const answer = jsonResponse(status, body);
  if (answer.kind !== 'full') return answer;
  const headers = { ...answer.headers, 'content-type': 'application/problem+json' };
  return { ...answer, headers: retryAfterSeconds !== undefined ? { ...headers, 'retry-after': String(retryAfterSeconds) } : headers };
}

function invalid(field: string, description: string, type = 'invalid'): SimResponse {
  const answer = jsonResponse(422, {
    title: 'Input validation failed',
    detail: `- ${field || '(root)'}: ${description}\n`,
    status: 422,
    invalid_fields: [{ type, field, description }],
  });
  return answer.kind === 'full' ? { ...answer, headers: { ...answer.headers, 'content-type': 'application/problem+json' } } : answer;
}

export type RunningReplicateSimulator = RunningServer<ReplicateSimulator>;

/** base_url of a replicate channel is `running.origin + '/v1'`, as https://api.replicate.com/v1. */
export async function startReplicateSimulator(opts: ReplicateSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningReplicateSimulator> {
  const { host, port, ...simOpts } = opts;
  return startSimulatorServer((origin) => new ReplicateSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
}
