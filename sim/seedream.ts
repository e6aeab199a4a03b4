// A simulator of Seedream's image generation API as Volcengine Ark and BytePlus ModelArk serve it
// (one wire; each platform its own model ids), written from Ark's API reference ("Image generation
// API", Seedream 4.0-4.5 and 5.0 Lite; its streaming response page; its error codes) and the
// official SDK's types (volcengine-python-sdk, volcenginesdkarkruntime/types/images):
// - POST /api/v3/images/generations, `Authorization: Bearer <key>`; JSON body: model (the platform's
//   dated id, or an inference endpoint's `ep-...` id), prompt (required), image (a URL or data URI, or an array: up to 14 on 4.x/5.0, none on
//   3.0), size (a tier, 1K/2K/4K on 4.0, 2K/4K on 4.5, 2K/3K/4K on 5.0 Lite, or WxH within the
//   model's pixel bounds and 1/16-16 ratio; 3.0: WxH of 512-2048 px a side), seed (-1 to
//   2147483647), sequential_image_generation (auto | disabled) and sequential_image_generation_options
//   ({max_images: 1-15}, reference images and group images 15 at most), stream, guidance_scale
//   (3.0 only, 1-10), response_format (url, default, or b64_json), watermark (default true),
//   output_format (5.0 Lite: png | jpeg), optimize_prompt_options, tools (5.0 Lite). Any other field
//   is refused (400 InvalidParameter naming it), so a gateway that leaks an OpenAI-only field
//   (`n`, `quality`...) is caught.
// - The answer: {model, created, data: [{url | b64_json, size}], usage: {generated_images,
//   output_tokens, total_tokens}}; real JPEG images (PNG with output_format png) of the size asked
//   (a tier: square, or the first input's shape, at the tier's pixels); output tokens are
//   width x height / 256. url images are hosted here (GET /files/<id>.<ext>, no key) for 24 hours.
//   A group (sequential_image_generation auto) makes max_images images.
// - A stream (stream: true): server-sent events `data: {json}`, one
//   `image_generation.partial_succeeded` per finished image ({type, model, created, image_index,
//   url | b64_json, size}) or `image_generation.partial_failed` ({..., error: {code, message}}),
//   then `image_generation.completed` ({type, model, created, usage}) and `data: [DONE]`.
// - Errors: {error: {code, message, param, type}}: 401 AuthenticationError; 404
//   InvalidEndpointOrModel.NotFound (a model id of the other platform too); 400 InvalidParameter;
//   400 InputTextSensitiveContentDetected (the prompt holds `[sim:sensitive]`); 400
//   OutputImageSensitiveContentDetected (`[sim:output-sensitive]`: a single image is refused; in a
//   group, the second image fails as a data item, or a partial_failed event, the others are made);
//   429 QuotaExceeded (the account's `quota` of images is spent, or `[sim:quota]`); 403
//   AccountOverdueError (`[sim:overdue]`); `enqueueFault` scripts any status (429 with Retry-After...).
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { HostedFiles } from './hosted-files.js';
import { renderEdit, renderImage } from './render.js';
import { bearerToken, isObject, jsonResponse, parseJson, publicOrigin } from './wire.js';

export type SeedreamPlatform = 'ark' | 'byteplus';

/** One Seedream model as the simulator knows it. */
export interface SeedreamSimModel {
  readonly tiers: Readonly<Record<string, number>>;
  /** WxH bounds: total pixels, and (3.0) each side. */
  readonly minPixels: number;
  readonly maxPixels: number;
  readonly minSide: number;
  readonly maxSide: number;
  readonly defaultSize: string;
  /** Input images taken (0: `image` is refused). */
  readonly maxInputs: number;
  readonly groups: boolean;
  readonly streams: boolean;
  readonly guidanceScale: boolean;
  readonly outputFormats: readonly ('jpeg' | 'png')[];
  readonly tools: boolean;
}

const K = 1024;
const SEEDREAM_4: SeedreamSimModel = {
  tiers: { '1K': K * K, '2K': 4 * K * K, '4K': 16 * K * K },
  minPixels: 1280 * 720,
  maxPixels: 4096 * 4096,
  minSide: 1,
  maxSide: 16_384,
  defaultSize: '2048x2048',
  maxInputs: 14,
  groups: true,
  streams: true,
  guidanceScale: false,
  outputFormats: ['jpeg'],
  tools: false,
};
const SEEDREAM_45: SeedreamSimModel = { ...SEEDREAM_4, tiers: { '2K': 4 * K * K, '4K': 16 * K * K }, minPixels: 2560 * 1440 };
const SEEDREAM_5_LITE: SeedreamSimModel = {
  ...SEEDREAM_45,
  tiers: { '2K': 4 * K * K, '3K': 9 * K * K, '4K': 16 * K * K },
  outputFormats: ['jpeg', 'png'],
  tools: true,
};
const SEEDREAM_3: SeedreamSimModel = {
  tiers: {},
  minPixels: 512 * 512,
  maxPixels: 2048 * 2048,
  minSide: 512,
  maxSide: 2048,
  defaultSize: '1024x1024',
  maxInputs: 0,
  groups: false,
  streams: false,
  guidanceScale: true,
  outputFormats: ['jpeg'],
  tools: false,
};

/** Each platform's model ids (BytePlus's drop Ark's `doubao-` prefix). */
export const SEEDREAM_SIM_MODELS: Readonly<Record<SeedreamPlatform, Readonly<Record<string, SeedreamSimModel>>>> = {
  ark: {
    'doubao-seedream-5-0-260128': SEEDREAM_5_LITE,
    'doubao-seedream-4-5-251128': SEEDREAM_45,
    'doubao-seedream-4-0-250828': SEEDREAM_4,
    'doubao-seedream-3-0-t2i-250415': SEEDREAM_3,
  },
  byteplus: {
    'seedream-5-0-260128': SEEDREAM_5_LITE,
    'seedream-4-5-251128': SEEDREAM_45,
    'seedream-4-0-250828': SEEDREAM_4,
    'seedream-3-0-t2i-250415': SEEDREAM_3,
  },
};

const KNOWN_FIELDS = new Set([
  'model',
  'prompt',
  'image',
  'size',
  'seed',
  'sequential_image_generation',
  'sequential_image_generation_options',
  'stream',
  'guidance_scale',
  'response_format',
  'watermark',
  'output_format',
  'optimize_prompt_options',
  'tools',
]);
const MAX_IMAGES_PER_REQUEST = 15;
const MAX_INPUT_BYTES = 10 * 1024 * 1024;
const MAX_INPUT_PIXELS = 6000 * 6000;
const DAY_MS = 24 * 3600 * 1000;
const GENERATIONS_PATH = '/api/v3/images/generations';

export interface SeedreamSimulatorOptions {
  /** Which platform's model ids it serves (default ark). */
  platform?: SeedreamPlatform;
  /** Inference endpoints (Ark's `ep-...` ids) and the model each serves, taken as `model` too. */
  endpoints?: Readonly<Record<string, string>>;
  /** When set, requests need `Authorization: Bearer <apiKey>` (401 AuthenticationError otherwise). */
  apiKey?: string;
  /** Images the account may still make; undefined: unlimited. Past it: 429 QuotaExceeded. */
  quota?: number;
  /** Added before each image (default 0). */
  latencyMs?: number;
  /** Base of hosted image URLs; startSeedreamSimulator sets its own origin. */
  publicBaseUrl?: string;
}

/** A scripted answer for the next generation(s): a status with Ark's error envelope. */
export interface SeedreamFault {
  status: number;
  code: string;
  message?: string;
  retryAfterSeconds?: number;
}

export interface SeedreamRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  json: unknown;
}

interface Plan {
  model: string;
  spec: SeedreamSimModel;
  prompt: string;
  inputs: Buffer[];
  width: number;
  height: number;
  /** How many images: 1, or a group's max_images. */
  count: number;
  group: boolean;
  stream: boolean;
  answer: 'url' | 'b64_json';
  format: 'jpeg' | 'png';
  watermark: boolean;
}

type Item = { url: string; size: string } | { b64_json: string; size: string } | { error: { code: string; message: string } };

export class SeedreamSimulator implements SimHandler {
  /** Every request received (image downloads included), oldest first. */
  readonly requests: SeedreamRecordedRequest[] = [];
  /** Generations that produced at least one image. */
  generations = 0;
  /** Images made, in all. */
  imagesMade = 0;
  aborted = 0;
  /** Images the account may still make (see options); tests may change it. */
  quota: number | undefined;
  private readonly faults: SeedreamFault[] = [];
  private readonly hosted = new HostedFiles();
  private readonly models: Readonly<Record<string, SeedreamSimModel>>;

  constructor(private readonly opts: SeedreamSimulatorOptions = {}) {
    this.quota = opts.quota;
    this.models = SEEDREAM_SIM_MODELS[opts.platform ?? 'ark'];
  }

  /** The next generations answer these, in order (after the key check and the body's validation). */
  enqueueFault(...faults: SeedreamFault[]): void {
    this.faults.push(...faults);
  }

  /** The generation requests' bodies, oldest first. */
  get generationBodies(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === GENERATIONS_PATH).map((r) => (isObject(r.json) ? r.json : {}));
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://seedream-simulator.invalid');
    const method = req.method.toUpperCase();
    this.requests.push({ method, path: url.pathname, headers: { ...req.headers }, json: parseJson(req.body) });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'GET' && url.pathname.startsWith('/files/')) return this.file(url.pathname.slice('/files/'.length));
    if (this.opts.apiKey !== undefined && bearerToken(req.headers) !== this.opts.apiKey) {
      return arkError(401, 'AuthenticationError', 'The API key in the request is missing or invalid.', 'Unauthorized');
    }
    if (method !== 'POST' || url.pathname !== GENERATIONS_PATH)
      return arkError(404, 'NotFound', `${method} ${url.pathname} is not an API of this service.`, 'NotFound');
    return this.generate(req.body);
  }

  private async generate(body: Buffer): Promise<SimResponse> {
    const plan = await this.readPlan(parseJson(body));
    if (!('spec' in plan)) return plan;
    const fault = this.faults.shift();
    if (fault) {
      const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
      return arkError(fault.status, fault.code, fault.message ?? `simulated ${fault.code}`, 'SimulatedFault', headers);
    }
    if (plan.prompt.includes('[sim:sensitive]')) {
      return arkError(400, 'InputTextSensitiveContentDetected', 'The request failed because the input text may contain sensitive information.', 'BadRequest');
    }
    if (plan.prompt.includes('[sim:overdue]'))
      return arkError(403, 'AccountOverdueError', 'The request failed because your account has an overdue balance.', 'Forbidden');
    if (plan.prompt.includes('[sim:quota]') || (this.quota !== undefined && this.quota < plan.count)) {
      return arkError(429, 'QuotaExceeded', 'Your account has exhausted its quota for this model. Please top up or enable pay-as-you-go.', 'TooManyRequests');
    }
    if (plan.prompt.includes('[sim:output-sensitive]') && !plan.group) {
      return arkError(
        400,
        'OutputImageSensitiveContentDetected',
        'The request failed because the output image may contain sensitive information.',
        'BadRequest',
      );
    }
    if (this.quota !== undefined) this.quota -= plan.count;
    return plan.stream ? this.streamed(plan) : this.whole(plan);
  }

  private async whole(plan: Plan): Promise<SimResponse> {
    const data: Item[] = [];
    for (let i = 0; i < plan.count; i++) data.push(await this.item(plan, i));
    const made = data.filter((d) => !('error' in d)).length;
    if (made > 0) this.generations += 1;
    return jsonResponse(200, { model: plan.model, created: now(), data, usage: usage(plan, made) });
  }

  private streamed(plan: Plan): SimResponse {
    const sim = this;
    async function* events(): AsyncGenerator<Buffer> {
      let made = 0;
      for (let i = 0; i < plan.count; i++) {
        const item = await sim.item(plan, i);
        const failed = 'error' in item;
        if (!failed) made += 1;
        const type = failed ? 'image_generation.partial_failed' : 'image_generation.partial_succeeded';
        yield sse({ type, model: plan.model, created: now(), image_index: i, ...item });
      }
      if (made > 0) sim.generations += 1;
      yield sse({ type: 'image_generation.completed', model: plan.model, created: now(), usage: usage(plan, made) });
      yield Buffer.from('data: [DONE]\n\n');
    }
    return { kind: 'stream', status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }, body: events() };
  }

  /** One image of the plan, or (a group's second image under `[sim:output-sensitive]`) its failure. */
  private async item(plan: Plan, index: number): Promise<Item> {
    if (plan.group && index === 1 && plan.prompt.includes('[sim:output-sensitive]')) {
      return { error: { code: 'OutputImageSensitiveContentDetected', message: 'The output image may contain sensitive information.' } };
    }
    if ((this.opts.latencyMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, this.opts.latencyMs));
    const text = `seedream simulator · ${plan.model} · ${plan.prompt}${plan.watermark ? ' · AI生成' : ''}`;
    const bytes =
      plan.inputs.length > 0
        ? await renderEdit({ width: plan.width, height: plan.height, format: plan.format, text, inputs: plan.inputs, variant: index })
        : await renderImage({ width: plan.width, height: plan.height, format: plan.format, text, variant: index });
    this.imagesMade += 1;
    const size = `${plan.width}x${plan.height}`;
    if (plan.answer === 'b64_json') return { b64_json: bytes.toString('base64'), size };
    return { url: this.host(plan.format, bytes), size };
  }

  private host(format: Plan['format'], bytes: Buffer): string {
    const name = `${randomUUID()}.${format === 'jpeg' ? 'jpeg' : 'png'}`;
    return this.hosted.host(name, `${publicOrigin(this.opts.publicBaseUrl, 'seedream')}/files/${name}`, bytes, `image/${format}`, DAY_MS);
  }

  private file(name: string): SimResponse {
    return this.hosted.serve(name, () => arkError(404, 'NotFound', 'The image has expired or does not exist.', 'NotFound'));
  }

  /** The body as Ark reads it, or its 4xx answer. */
  private async readPlan(value: unknown): Promise<Plan | SimResponse> {
    const bad = (param: string, message: string) =>
      arkError(400, 'InvalidParameter', `The parameter \`${param}\` specified in the request is not valid: ${message}`, 'BadRequest', {}, param);
    if (!isObject(value)) return bad('body', 'the request body must be a JSON object');
    const unknown = Object.keys(value).find((key) => !KNOWN_FIELDS.has(key));
    if (unknown !== undefined) return bad(unknown, 'unknown parameter');
    const { model, prompt } = value;
    if (typeof model !== 'string' || model === '') return bad('model', 'model is required');
    const endpoint = this.opts.endpoints && Object.hasOwn(this.opts.endpoints, model) ? this.opts.endpoints[model] : undefined;
    const served = endpoint ?? model;
    const spec = Object.hasOwn(this.models, served) ? this.models[served] : undefined;
    if (spec === undefined) {
      return arkError(404, 'InvalidEndpointOrModel.NotFound', `The model or endpoint ${model} does not exist or you do not have access to it.`, 'NotFound');
    }
    if (typeof prompt !== 'string' || prompt.trim() === '') return bad('prompt', 'prompt is required');
    const inputs = await readInputs(value.image, spec);
    if (typeof inputs === 'string') return bad('image', inputs);
    const group = value.sequential_image_generation === 'auto';
    if (value.sequential_image_generation !== undefined) {
      if (!spec.groups) return bad('sequential_image_generation', `not supported by ${model}`);
      if (value.sequential_image_generation !== 'auto' && value.sequential_image_generation !== 'disabled')
        return bad('sequential_image_generation', 'must be auto or disabled');
    }
    const options = value.sequential_image_generation_options;
    if (options !== undefined && (!spec.groups || !isObject(options)))
      return bad('sequential_image_generation_options', 'must be an object (Seedream 4.x, 5.0)');
    const maxImages = isObject(options) ? (options.max_images ?? MAX_IMAGES_PER_REQUEST) : MAX_IMAGES_PER_REQUEST;
    if (typeof maxImages !== 'number' || !Number.isInteger(maxImages) || maxImages < 1 || maxImages > MAX_IMAGES_PER_REQUEST) {
      return bad('sequential_image_generation_options.max_images', 'must be an integer from 1 to 15');
    }
    if (group && inputs.length + maxImages > MAX_IMAGES_PER_REQUEST) {
      return bad('sequential_image_generation_options.max_images', 'reference images and generated images are at most 15 together');
    }
    if (value.stream !== undefined && (typeof value.stream !== 'boolean' || (value.stream && !spec.streams))) return bad('stream', `not supported by ${model}`);
    if (value.seed !== undefined && !(Number.isInteger(value.seed) && (value.seed as number) >= -1 && (value.seed as number) <= 2_147_483_647)) {
      return bad('seed', 'must be an integer from -1 to 2147483647');
    }
    if (value.guidance_scale !== undefined) {
      const g = value.guidance_scale;
      if (!spec.guidanceScale) return bad('guidance_scale', `not supported by ${model}`);
      if (typeof g !== 'number' || g < 1 || g > 10) return bad('guidance_scale', 'must be a number from 1 to 10');
    }
    const answer = value.response_format ?? 'url';
    if (answer !== 'url' && answer !== 'b64_json') return bad('response_format', 'must be url or b64_json');
    if (value.watermark !== undefined && typeof value.watermark !== 'boolean') return bad('watermark', 'must be a boolean');
    const format = value.output_format ?? 'jpeg';
    if (value.output_format !== undefined && !spec.outputFormats.includes(format as 'jpeg'))
      return bad('output_format', `${JSON.stringify(format)} is not supported by ${model}`);
    if (value.tools !== undefined && (!spec.tools || !Array.isArray(value.tools))) return bad('tools', `not supported by ${model}`);
    if (value.optimize_prompt_options !== undefined && !isObject(value.optimize_prompt_options)) return bad('optimize_prompt_options', 'must be an object');
    const dims = await sizeOf(value.size, spec, inputs[0]);
    if (typeof dims === 'string') return bad('size', dims);
    return {
      model,
      spec,
      prompt,
      inputs,
      ...dims,
      count: group ? maxImages : 1,
      group,
      stream: value.stream === true,
      answer,
      format: format === 'png' ? 'png' : 'jpeg',
      watermark: value.watermark !== false,
    };
  }
}

/** The input images (data URIs decoded; URL inputs are taken but not drawn), or why they are refused. */
async function readInputs(image: unknown, spec: SeedreamSimModel): Promise<Buffer[] | string> {
  if (image === undefined) return [];
  if (spec.maxInputs === 0) return 'this model takes no input image';
  const list = Array.isArray(image) ? image : [image];
  if (list.length === 0 || list.length > spec.maxInputs) return `1 to ${spec.maxInputs} images`;
  const out: Buffer[] = [];
  for (const item of list) {
    if (typeof item !== 'string') return 'each image is a URL or a data URI';
    if (/^https?:\/\//.test(item)) continue;
    const match = /^data:image\/([a-z]+);base64,(.*)$/s.exec(item);
    if (!match) return 'a data URI must read data:image/<format>;base64,<data> with the format in lower case';
    const bytes = Buffer.from(match[2] ?? '', 'base64');
    if (bytes.length > MAX_INPUT_BYTES) return 'each image is at most 10 MB';
    const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS })
      .metadata()
      .catch(() => undefined);
    if (!meta?.width || !meta.height || !['jpeg', 'png', 'webp', 'gif', 'tiff', 'bmp'].includes(meta.format ?? '')) return 'not an image Seedream reads';
    if (meta.width <= 14 || meta.height <= 14) return 'each side must be over 14 px';
    if (meta.width / meta.height > 16 || meta.height / meta.width > 16) return 'the aspect ratio must be within 1/16 to 16';
    out.push(bytes);
  }
  return out;
}

/** WxH within the model's bounds, or a tier (square, or the first input's shape, at the tier's pixels); default the model's. */
async function sizeOf(size: unknown, spec: SeedreamSimModel, firstInput: Buffer | undefined): Promise<{ width: number; height: number } | string> {
  const chosen = size ?? spec.defaultSize;
  if (typeof chosen !== 'string') return 'must be a string';
  const tier = spec.tiers[chosen.toUpperCase()];
  if (tier !== undefined) {
    const meta = firstInput ? await sharp(firstInput).metadata() : undefined;
    const ratio = meta?.width && meta.height ? meta.width / meta.height : 1;
    const height = Math.round(Math.sqrt(tier / ratio) / 16) * 16;
    return { width: Math.round((height * ratio) / 16) * 16, height };
  }
  const match = /^(\d+)x(\d+)$/.exec(chosen);
  if (!match) return `${JSON.stringify(chosen)}: use ${[...Object.keys(spec.tiers), 'WIDTHxHEIGHT'].join(', ')}`;
  const width = Number(match[1]);
  const height = Number(match[2]);
  const pixels = width * height;
  if (pixels < spec.minPixels || pixels > spec.maxPixels) return `the total pixels must be within [${spec.minPixels}, ${spec.maxPixels}]`;
  if (width / height > 16 || height / width > 16) return 'the aspect ratio must be within [1/16, 16]';
  if (Math.min(width, height) < spec.minSide || Math.max(width, height) > spec.maxSide) return `each side must be within [${spec.minSide}, ${spec.maxSide}]`;
  return { width, height };
}

function usage(plan: Plan, made: number): Record<string, number> {
  const tokens = Math.round((plan.width * plan.height) / 256) * made;
  return { generated_images: made, output_tokens: tokens, total_tokens: tokens };
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function sse(value: unknown): Buffer {
  return Buffer.from(`data: ${JSON.stringify(value)}\n\n`, 'utf8');
}

function arkError(status: number, code: string, message: string, type: string, headers: Record<string, string> = {}, param = ''): SimResponse {
  const answer = jsonResponse(status, { error: { code, message: `${message} Request id: ${randomUUID()}`, param, type } });
  return answer.kind === 'full' ? { ...answer, headers: { ...answer.headers, ...headers } } : answer;
}

export type RunningSeedreamSimulator = RunningServer<SeedreamSimulator> & {
  /** `${origin}/api/v3`: what an ark or byteplus channel's base_url points at. */
  baseURL: string;
};

export async function startSeedreamSimulator(opts: SeedreamSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningSeedreamSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer((origin) => new SeedreamSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
  return { ...running, baseURL: `${running.origin}/api/v3` };
}
