// A simulator of fal's queue API (queue.fal.run), written from fal's queue documentation and its
// JS client (@fal-ai/client: queue.ts, response.ts, types/common.ts, the typed endpoint map):
// - `Authorization: Key <key>`; a wrong key is 401 `{detail}`. `[sim:exhausted]` in a prompt is
//   fal's locked account: 403 "User is locked. Reason: Exhausted balance...".
// - POST /{app} (an app id of the table below, sub-paths included) with the app's input JSON ->
//   `{request_id, response_url, status_url, cancel_url}`. The URLs are under the app's BASE id
//   (owner/alias: fal-ai/flux-pro/kontext -> fal-ai/flux-pro), as fal's; a status or result asked
//   under a sub-path is a 404 here (fal routes by the base app). Invalid input is a 422 at submit
//   with `detail: [{loc: ["body", field], msg, type}]`; unknown fields are refused too (stricter
//   than fal, which ignores them, so that the tests catch a field sent by mistake).
// - GET {base}/requests/{id}/status -> `{status: IN_QUEUE (queue_position) | IN_PROGRESS |
//   COMPLETED, request_id, response_url, status_url, cancel_url, logs}`: IN_QUEUE for the first
//   third of `taskDurationMs`, IN_PROGRESS until it has passed, then COMPLETED. `hold()` keeps every
//   request IN_QUEUE until `release()`; `submits` counts submissions, `cancels` the cancelled.
// - GET {base}/requests/{id} -> the app's output `{images: [{url, content_type, width, height,
//   file_name, file_size}], seed, has_nsfw_concepts?, timings, prompt}`, or while not completed a
//   400 `{detail: "Request is still in progress"}`; an unknown id is 404.
// - PUT {base}/requests/{id}/cancel -> 202 `{status: "CANCELLATION_REQUESTED"}` (the request then
//   ends with a 400 result), or 400 `{status: "ALREADY_COMPLETED"}`.
// - Prompt markers: `[sim:nsfw]` blacks every image out and sets `has_nsfw_concepts: [true...]`
//   (fal's safety checker, when enable_safety_checker is on), `[sim:nsfw-first]` the first only; `[sim:unsafe]` is a 422 result whose detail
//   type is `content_policy_violation`; `[sim:app-error]` a 500 result (the runner failed).
//   `enqueueFault` scripts the next submit's status and detail (429, 402...).
// - Result images are hosted here (GET /files/<name>, no key; fal's CDN) and expire after
//   `urlTtlMs`. `queueOrigin` puts the queue URLs on another origin, as fal's own URLs come back
//   through a proxy in front of it.
// Sizes: `image_size` is fal's enum (square_hd 1024x1024, square 512x512, portrait_4_3 768x1024,
// portrait_16_9 576x1024, landscape_4_3 1024x768, landscape_16_9 1024x576), `{width, height}`, or
// `auto`/`auto_2K` (2048x2048, an edit its first input's size); `aspect_ratio` gives the app's size
// for that ratio (Kontext about 1 MP, Ultra about 4 MP, Imagen 4 its 1K or 2K `resolution`).
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { HostedFiles } from './hosted-files.js';
import { HeldTasks } from './held-tasks.js';
import { MAX_INPUT_PIXELS, renderEdit, renderImage, type ImageFormat } from './render.js';
import { headerValue, isObject, jsonResponse, parseJson, publicOrigin } from './wire.js';

type Schema = 'flux' | 'flux-2' | 'flux-kontext' | 'flux-ultra' | 'seedream' | 'imagen4' | 'ideogram-v3' | 'recraft-v3';

interface SimApp {
  readonly schema: Schema;
  /** Its input images: none, `image_urls` (required on edit apps), or one `image_url`. */
  readonly inputs: 'none' | 'image_urls' | 'image_url';
}

const FIELDS: Readonly<Record<Schema, readonly string[]>> = {
  flux: ['image_size', 'num_images', 'seed', 'output_format', 'enable_safety_checker', 'safety_tolerance', 'enhance_prompt', 'sync_mode'],
  'flux-2': ['image_size', 'seed', 'output_format', 'enable_safety_checker', 'safety_tolerance', 'sync_mode'],
  'flux-kontext': ['aspect_ratio', 'num_images', 'seed', 'output_format', 'safety_tolerance', 'guidance_scale', 'enhance_prompt', 'sync_mode'],
  'flux-ultra': ['aspect_ratio', 'num_images', 'seed', 'output_format', 'enable_safety_checker', 'safety_tolerance', 'enhance_prompt', 'raw', 'sync_mode'],
  seedream: ['image_size', 'num_images', 'max_images', 'seed', 'enable_safety_checker', 'enhance_prompt_mode', 'sync_mode'],
  imagen4: ['aspect_ratio', 'num_images', 'seed', 'negative_prompt', 'resolution'],
  'ideogram-v3': [
    'image_size',
    'num_images',
    'seed',
    'negative_prompt',
    'rendering_speed',
    'expand_prompt',
    'style',
    'style_codes',
    'color_palette',
    'sync_mode',
  ],
  'recraft-v3': ['image_size', 'style', 'colors', 'style_id', 'enable_safety_checker'],
};

const app = (schema: Schema, inputs: SimApp['inputs'] = 'none'): SimApp => ({ schema, inputs });

export const FAL_SIM_APPS: Readonly<Record<string, SimApp>> = {
  'fal-ai/flux/dev': app('flux'),
  'fal-ai/flux-pro/v1.1': app('flux'),
  'fal-ai/flux-pro/v1.1-ultra': app('flux-ultra'),
  'fal-ai/flux-2-pro': app('flux-2'),
  'fal-ai/flux-2-pro/edit': app('flux-2', 'image_urls'),
  'fal-ai/flux-2-max': app('flux-2'),
  'fal-ai/flux-2-max/edit': app('flux-2', 'image_urls'),
  'fal-ai/flux-2-flex': app('flux-2'),
  'fal-ai/flux-2-flex/edit': app('flux-2', 'image_urls'),
  'fal-ai/flux-pro/kontext/text-to-image': app('flux-kontext'),
  'fal-ai/flux-pro/kontext': app('flux-kontext', 'image_url'),
  'fal-ai/flux-pro/kontext/max/text-to-image': app('flux-kontext'),
  'fal-ai/flux-pro/kontext/max': app('flux-kontext', 'image_url'),
  'fal-ai/bytedance/seedream/v4/text-to-image': app('seedream'),
  'fal-ai/bytedance/seedream/v4/edit': app('seedream', 'image_urls'),
  'fal-ai/bytedance/seedream/v4.5/text-to-image': app('seedream'),
  'fal-ai/bytedance/seedream/v4.5/edit': app('seedream', 'image_urls'),
  'fal-ai/imagen4/preview': app('imagen4'),
  'fal-ai/imagen4/preview/fast': app('imagen4'),
  'fal-ai/imagen4/preview/ultra': app('imagen4'),
  'fal-ai/ideogram/v3': app('ideogram-v3'),
  'fal-ai/recraft/v3/text-to-image': app('recraft-v3'),
};

const NAMED_SIZES: Readonly<Record<string, { width: number; height: number }>> = {
  square_hd: { width: 1024, height: 1024 },
  square: { width: 512, height: 512 },
  portrait_4_3: { width: 768, height: 1024 },
  portrait_16_9: { width: 576, height: 1024 },
  landscape_4_3: { width: 1024, height: 768 },
  landscape_16_9: { width: 1024, height: 576 },
};
const KONTEXT_RATIOS: Readonly<Record<string, { width: number; height: number }>> = {
  '21:9': { width: 1568, height: 672 },
  '16:9': { width: 1392, height: 752 },
  '4:3': { width: 1184, height: 880 },
  '3:2': { width: 1248, height: 832 },
  '1:1': { width: 1024, height: 1024 },
  '2:3': { width: 832, height: 1248 },
  '3:4': { width: 880, height: 1184 },
  '9:16': { width: 752, height: 1392 },
  '9:21': { width: 672, height: 1568 },
};
/** FLUX1.1 [pro] Ultra's about 4 megapixels per ratio. */
const ULTRA_RATIOS: Readonly<Record<string, { width: number; height: number }>> = {
  '21:9': { width: 3136, height: 1344 },
  '16:9': { width: 2752, height: 1536 },
  '4:3': { width: 2368, height: 1792 },
  '3:2': { width: 2496, height: 1664 },
  '1:1': { width: 2048, height: 2048 },
  '2:3': { width: 1664, height: 2496 },
  '3:4': { width: 1792, height: 2368 },
  '9:16': { width: 1536, height: 2752 },
  '9:21': { width: 1344, height: 3136 },
};
const IMAGEN_RATIOS: Readonly<Record<string, { width: number; height: number }>> = {
  '1:1': { width: 1024, height: 1024 },
  '3:4': { width: 896, height: 1280 },
  '4:3': { width: 1280, height: 896 },
  '9:16': { width: 768, height: 1408 },
  '16:9': { width: 1408, height: 768 },
};
const AUTO_SIZE = { width: 2048, height: 2048 };
const DAY_MS = 24 * 3600 * 1000;

export interface FalSimulatorOptions {
  /** When set, requests want `Authorization: Key <apiKey>`. */
  apiKey?: string;
  /** How long a request runs (default 300 ms): IN_QUEUE, IN_PROGRESS from a third of it, then COMPLETED. */
  taskDurationMs?: number;
  /** How long hosted result URLs stay (default a day). */
  urlTtlMs?: number;
  /** Origin of the queue URLs and hosted images; startFalSimulator sets its own. */
  publicBaseUrl?: string;
  /** Origin of the queue URLs only (a proxy in front of fal answers with fal's own, https://queue.fal.run). */
  queueOrigin?: string;
}

/** A scripted answer for the next submit. */
export interface FalFault {
  status: number;
  detail: unknown;
  retryAfterSeconds?: number;
}

export interface FalRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  json: unknown;
}

interface Plan {
  app: string;
  schema: Schema;
  prompt: string;
  n: number;
  /** Undefined: an edit in its first input's size. */
  size: { width: number; height: number } | undefined;
  format: ImageFormat;
  safetyChecker: boolean;
  seed: number;
  inputs: Buffer[];
}

interface SimRequestState {
  readonly id: string;
  readonly base: string;
  readonly plan: Plan;
  createdAt: number;
  cancelled: boolean;
  outcome?: { status: number; body: unknown };
}

export class FalSimulator implements SimHandler {
  readonly requests: FalRecordedRequest[] = [];
  /** Submissions received (accepted or not): proves a request is never submitted twice. */
  submits = 0;
  /** Status queries received. */
  polls = 0;
  /** Cancels received for requests not yet completed. */
  cancels = 0;
  aborted = 0;
  private readonly hosted = new HostedFiles();
  /** The url images answered, oldest first. */
  readonly answeredUrls = this.hosted.answered;

  private readonly faults: FalFault[] = [];
  private readonly queue = new HeldTasks<SimRequestState>();

  constructor(private readonly opts: FalSimulatorOptions = {}) {}

  enqueueFault(...faults: FalFault[]): void {
    this.faults.push(...faults);
  }

  /** Every request stays IN_QUEUE until release(). */
  hold(): void {
    this.queue.hold();
  }

  release(): void {
    this.queue.release();
  }

  /** The inputs submitted to an app, oldest first. */
  inputsOf(appId: string): Record<string, unknown>[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === `/${appId}`).map((r) => (isObject(r.json) ? r.json : {}));
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://fal-simulator.invalid');
    const method = req.method.toUpperCase();
    this.requests.push({ method, path: url.pathname, headers: { ...req.headers }, json: parseJson(req.body) });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'GET' && url.pathname.startsWith('/files/')) return this.file(url.pathname.slice('/files/'.length));
    if (this.opts.apiKey !== undefined && falKey(req.headers) !== this.opts.apiKey) {
      return jsonResponse(401, { detail: 'Authentication is required to access this application.' });
    }
    const queued = /^\/([^/]+\/[^/]+)\/requests\/([^/]+)(\/status|\/cancel)?$/.exec(url.pathname);
    if (queued) return this.queued(method, queued[1] as string, queued[2] as string, queued[3]);
    if (method === 'POST') return this.submit(url.pathname.slice(1), req.body);
    return jsonResponse(404, { detail: `${method} ${url.pathname}: not found` });
  }

  private async submit(appId: string, body: Buffer): Promise<SimResponse> {
    this.submits += 1;
    const simApp = FAL_SIM_APPS[appId];
    if (!simApp) return jsonResponse(404, { detail: `Application '${appId}' not found` });
    const input = parseJson(body);
    if (isObject(input) && typeof input.prompt === 'string' && input.prompt.includes('[sim:exhausted]')) {
      return jsonResponse(403, { detail: 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.' });
    }
    const fault = this.faults.shift();
    if (fault) {
      const answer = jsonResponse(fault.status, { detail: fault.detail });
      return fault.retryAfterSeconds !== undefined && answer.kind === 'full'
        ? { ...answer, headers: { ...answer.headers, 'retry-after': String(fault.retryAfterSeconds) } }
        : answer;
    }
    const plan = await readPlan(appId, simApp, input);
    if ('loc' in plan) return jsonResponse(422, { detail: [{ loc: ['body', plan.loc], msg: plan.msg, type: 'value_error' }] });
    const id = randomUUID();
    const base = appId.split('/').slice(0, 2).join('/');
    this.queue.set(id, { id, base, plan, createdAt: Date.now(), cancelled: false });
    return jsonResponse(200, { ...this.urls(base, id), queue_position: this.queue.size - 1 });
  }

  private async queued(method: string, base: string, id: string, action: string | undefined): Promise<SimResponse> {
    const request = this.queue.get(id);
    // fal routes a request by its base app: asked under another app (or a sub-path), it is not found.
    if (!request || request.base !== base) return jsonResponse(404, { detail: `Request ${id} not found` });
    if (action === '/cancel' && method === 'PUT') return this.cancel(request);
    if (method !== 'GET') return jsonResponse(405, { detail: 'Method not allowed' });
    const stage = this.stage(request);
    if (action === '/status') {
      this.polls += 1;
      const status =
        stage === 'queued'
          ? { status: 'IN_QUEUE', queue_position: 0 }
          : stage === 'running'
            ? { status: 'IN_PROGRESS', logs: [] }
            : { status: 'COMPLETED', logs: [] };
      return jsonResponse(200, { ...status, ...this.urls(base, id) });
    }
    if (stage !== 'completed') return jsonResponse(400, { detail: 'Request is still in progress' });
    request.outcome ??= await this.outcome(request);
    return jsonResponse(request.outcome.status, request.outcome.body);
  }

  private cancel(request: SimRequestState): SimResponse {
    if (request.outcome || this.stage(request) === 'completed') return jsonResponse(400, { status: 'ALREADY_COMPLETED' });
    this.cancels += 1;
    request.cancelled = true;
    request.outcome = { status: 400, body: { detail: 'Request was cancelled' } };
    return jsonResponse(202, { status: 'CANCELLATION_REQUESTED' });
  }

  private stage(request: SimRequestState): 'queued' | 'running' | 'completed' {
    if (request.cancelled) return 'completed';
    if (this.queue.held) return 'queued';
    const elapsed = (Date.now() - request.createdAt) / (this.opts.taskDurationMs ?? 300);
    return elapsed < 1 / 3 ? 'queued' : elapsed < 1 ? 'running' : 'completed';
  }

  private async outcome({ plan }: SimRequestState): Promise<{ status: number; body: unknown }> {
    if (plan.prompt.includes('[sim:unsafe]')) {
      return {
        status: 422,
        body: {
          detail: [
            {
              loc: ['body', 'prompt'],
              msg: 'The content could not be processed because it contained material flagged by a content checker.',
              type: 'content_policy_violation',
            },
          ],
        },
      };
    }
    if (plan.prompt.includes('[sim:app-error]')) return { status: 500, body: { detail: 'Internal error in the application' } };
    // `[sim:nsfw]` flags every image, `[sim:nsfw-first]` the first only.
    const flagged = (index: number) => plan.safetyChecker && (plan.prompt.includes('[sim:nsfw]') || (index === 0 && plan.prompt.includes('[sim:nsfw-first]')));
    const size = plan.size ?? (plan.inputs[0] ? await imageSize(plan.inputs[0]) : AUTO_SIZE);
    const text = `fal simulator · ${plan.app} · ${plan.prompt}`;
    const images = await Promise.all(
      Array.from({ length: plan.n }, async (_, variant) => {
        const bytes = flagged(variant)
          ? await sharp({ create: { ...size, channels: 3, background: '#000' } })
              .toFormat(plan.format)
              .toBuffer()
          : plan.inputs.length > 0
            ? await renderEdit({ ...size, format: plan.format, text, inputs: plan.inputs, variant })
            : await renderImage({ ...size, format: plan.format, text, variant });
        const name = `${randomUUID()}.${plan.format === 'jpeg' ? 'jpg' : plan.format}`;
        return { url: this.host(name, bytes, `image/${plan.format}`), content_type: `image/${plan.format}`, file_name: name, file_size: bytes.length, ...size };
      }),
    );
    const flags = plan.safetyChecker ? { has_nsfw_concepts: images.map((_, index) => flagged(index)) } : {};
    return { status: 200, body: { images, seed: plan.seed, ...flags, timings: { inference: 0.1 }, prompt: plan.prompt } };
  }

  private urls(base: string, id: string): Record<string, string> {
    const root = `${(this.opts.queueOrigin ?? this.origin()).replace(/\/+$/, '')}/${base}/requests/${id}`;
    return { request_id: id, response_url: root, status_url: `${root}/status`, cancel_url: `${root}/cancel` };
  }

  private origin(): string {
    return publicOrigin(this.opts.publicBaseUrl, 'fal');
  }

  private host(name: string, bytes: Buffer, type: string): string {
    return this.hosted.host(name, `${this.origin()}/files/${name}`, bytes, type, this.opts.urlTtlMs ?? DAY_MS);
  }

  private file(name: string): SimResponse {
    return this.hosted.serve(name, () => jsonResponse(404, { detail: 'File not found' }));
  }
}

/** The key of `Authorization: Key <key>`. */
function falKey(headers: Record<string, string | undefined>): string | undefined {
  return /^Key\s+(.+)$/i.exec(headerValue(headers, 'authorization')?.trim() ?? '')?.[1]?.trim();
}

type Invalid = { loc: string; msg: string };

/** The input as the app reads it, or the field a 422 names. */
async function readPlan(appId: string, simApp: SimApp, input: unknown): Promise<Plan | Invalid> {
  if (!isObject(input)) return { loc: 'body', msg: 'the input must be a JSON object' };
  const { schema } = simApp;
  const inputFields = simApp.inputs === 'none' ? [] : [simApp.inputs];
  const known = new Set(['prompt', ...FIELDS[schema], ...inputFields]);
  const unknown = Object.keys(input).find((key) => !known.has(key));
  if (unknown !== undefined) return { loc: unknown, msg: `extra field not permitted: ${unknown}` };
  const { prompt, num_images: numImages = 1, seed, output_format: outputFormat, enable_safety_checker: safetyChecker = true } = input;
  if (typeof prompt !== 'string' || prompt.trim() === '') return { loc: 'prompt', msg: 'field required' };
  const maxN = schema === 'imagen4' ? 4 : schema === 'ideogram-v3' ? 8 : 4;
  if (typeof numImages !== 'number' || !Number.isInteger(numImages) || numImages < 1 || numImages > maxN) {
    return { loc: 'num_images', msg: `ensure this value is an integer from 1 to ${maxN}` };
  }
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed))) return { loc: 'seed', msg: 'value is not a valid integer' };
  if (outputFormat !== undefined && outputFormat !== 'jpeg' && outputFormat !== 'png')
    return { loc: 'output_format', msg: "unexpected value; permitted: 'jpeg', 'png'" };
  if (typeof safetyChecker !== 'boolean') return { loc: 'enable_safety_checker', msg: 'value could not be parsed to a boolean' };
  const inputs = await readInputs(simApp, input);
  if (!Array.isArray(inputs)) return inputs;
  const size = readSize(schema, input, inputs.length > 0);
  if ('loc' in size) return size;
  const format: ImageFormat = outputFormat === 'png' || outputFormat === 'jpeg' ? outputFormat : schema.startsWith('flux') ? 'jpeg' : 'png';
  return {
    app: appId,
    schema,
    prompt,
    n: numImages,
    size: size.size,
    format,
    safetyChecker,
    seed: typeof seed === 'number' ? seed : Math.floor(Math.random() * 2 ** 31),
    inputs,
  };
}

function readSize(schema: Schema, input: Record<string, unknown>, editing: boolean): { size: Plan['size'] } | Invalid {
  if (FIELDS[schema].includes('aspect_ratio')) {
    const ratio = input.aspect_ratio;
    const table = schema === 'imagen4' ? IMAGEN_RATIOS : schema === 'flux-ultra' ? ULTRA_RATIOS : KONTEXT_RATIOS;
    if (ratio === undefined) return { size: editing ? undefined : table['1:1'] };
    if (typeof ratio !== 'string' || !table[ratio]) return { loc: 'aspect_ratio', msg: `unexpected value; permitted: ${Object.keys(table).join(', ')}` };
    const base = table[ratio] as { width: number; height: number };
    const resolution = input.resolution;
    if (resolution !== undefined && resolution !== '1K' && resolution !== '2K') return { loc: 'resolution', msg: "unexpected value; permitted: '1K', '2K'" };
    return { size: resolution === '2K' ? { width: base.width * 2, height: base.height * 2 } : base };
  }
  const size = input.image_size;
  if (size === undefined) return { size: editing ? undefined : NAMED_SIZES.landscape_4_3 };
  if (typeof size === 'string') {
    if (NAMED_SIZES[size]) return { size: NAMED_SIZES[size] };
    if ((size === 'auto' && schema === 'flux-2') || (schema === 'seedream' && ['auto', 'auto_2K', 'auto_4K'].includes(size)))
      return { size: editing ? undefined : AUTO_SIZE };
    return { loc: 'image_size', msg: `unexpected value: ${size}` };
  }
  if (!isObject(size) || Object.keys(size).some((key) => key !== 'width' && key !== 'height'))
    return { loc: 'image_size', msg: 'expected {width, height} or a size name' };
  const { width, height } = size;
  if (
    typeof width !== 'number' ||
    typeof height !== 'number' ||
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 64 ||
    height < 64 ||
    width * height > 4096 * 4096
  ) {
    return { loc: 'image_size', msg: 'width and height must be integers from 64, at most 4096x4096 pixels' };
  }
  return { size: { width, height } };
}

async function readInputs(simApp: SimApp, input: Record<string, unknown>): Promise<Buffer[] | Invalid> {
  if (simApp.inputs === 'none') return [];
  const field = simApp.inputs;
  const value = input[field];
  const refs = field === 'image_url' ? [value] : value;
  if (!Array.isArray(refs) || refs.length === 0) return { loc: field, msg: 'field required' };
  if (refs.length > 10) return { loc: field, msg: 'at most 10 images' };
  const images: Buffer[] = [];
  for (const ref of refs) {
    const bytes = typeof ref === 'string' ? await imageBytes(ref) : 'each image is a URL or a data URI';
    if (typeof bytes === 'string') return { loc: field, msg: bytes };
    images.push(bytes);
  }
  return images;
}

/** A data URI's bytes (fal also fetches http(s) URLs; the gateway sends data URIs). */
async function imageBytes(ref: string): Promise<Buffer | string> {
  const data = /^data:image\/(?:png|jpeg|jpg|webp);base64,([A-Za-z0-9+/=]+)$/.exec(ref);
  if (!data) return 'an image is a data URI (data:image/png;base64,...)';
  const bytes = Buffer.from(data[1] as string, 'base64');
  try {
    await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch {
    return 'the image could not be decoded';
  }
  return bytes;
}

async function imageSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  return { width: meta.width ?? 1024, height: meta.height ?? 1024 };
}

export type RunningFalSimulator = RunningServer<FalSimulator>;

/** base_url of a fal channel is the simulator's origin (`running.origin`), as queue.fal.run is. */
export async function startFalSimulator(opts: FalSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningFalSimulator> {
  const { host, port, ...simOpts } = opts;
  return startSimulatorServer((origin) => new FalSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
}
