// A simulator of Alibaba Cloud Model Studio's DashScope image API, written from its API references
// (Qwen-Image, Qwen-Image Edit, Wan text-to-image V2, the task query and the error codes):
// - `Authorization: Bearer <key>`; a wrong key is 401 `{code: "InvalidApiKey"}`.
// - POST /api/v1/services/aigc/multimodal-generation/generation (synchronous; Qwen-Image and
//   Qwen-Image Edit): `{model, input: {messages: [{role: "user", content: [{image}..., {text}]}]},
//   parameters: {size "W*H", n, seed, prompt_extend, watermark, negative_prompt}}`. qwen-image and
//   qwen-image-plus take no image, one of five sizes, n 1; qwen-image-edit one image and n 1;
//   qwen-image-edit-plus 1-3 images and n 1-6. Images are data URIs (or http(s) URLs). The answer:
//   `{output: {choices: [{finish_reason, message: {role, content: [{image: url}]}}]}, usage:
//   {width, height, image_count}, request_id}`; an edit answers in its last input's shape.
//   `syncLatencyMs` holds each answer that long (a slow generation).
// - POST /api/v1/services/aigc/text2image/image-synthesis (Wan text-to-image), only with
//   `X-DashScope-Async: enable` (else 403 AccessDenied, as DashScope): `{model, input: {prompt,
//   negative_prompt}, parameters: {size, n 1-4, seed, prompt_extend, watermark}}` ->
//   `{output: {task_id, task_status: "PENDING"}, request_id}`. Sizes: 512-1440 px a side
//   (wan2.2, wanx2.1), or 768*768 to 1440*1440 pixels at 1:4 to 4:1 (wan2.5).
// - POST /api/v1/services/aigc/image2image/image-synthesis (wanx2.1-imageedit), the same task flow:
//   `{model, input: {function, prompt, base_image_url, mask_image_url}, parameters: {n, seed,
//   watermark}}`; function `description_edit` (no mask) or `description_edit_with_mask` (a black
//   and white mask of the base's size, white where the image changes; an image with transparency
//   is refused); the result has the base's shape.
// - GET /api/v1/tasks/{task_id}: PENDING, RUNNING (past half its duration), then SUCCEEDED with
//   `results: [{orig_prompt, actual_prompt, url}]` and `usage.image_count`, or FAILED with
//   `code, message`; an unknown id is task_status UNKNOWN. `hold()` keeps every task PENDING
//   until `release()` (a test stops a gateway meanwhile); `submits` counts the submissions.
// - Result URLs are hosted here (GET /files/<id>.png, no key) and expire (24 h at DashScope;
//   `urlTtlMs` here).
// - Errors `{request_id, code, message}`: `[sim:unsafe]` in a prompt is 400 DataInspectionFailed
//   at once; `[sim:unsafe-output]` makes an async task FAILED with DataInspectionFailed (the
//   output check) and a sync call the same 400; `[sim:arrearage]` is 400 Arrearage; unknown
//   fields and bad values are 400 InvalidParameter; `enqueueFault` scripts any status and code
//   (429 Throttling.RateQuota...).
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { QWEN_IMAGE_SIZES } from '../src/core/models.js';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { HostedFiles } from './hosted-files.js';
import { HeldTasks } from './held-tasks.js';
import { MAX_INPUT_PIXELS, renderEdit, renderImage } from './render.js';
import { bearerToken, headerValue, isObject, jsonResponse, parseJson, publicOrigin, safeDecode } from './wire.js';

type SimApi = 'multimodal' | 'text2image' | 'image2image';

interface DashScopeSimModel {
  readonly api: SimApi;
  /** Inclusive bounds of n. */
  readonly maxN: number;
  readonly images: { readonly min: number; readonly max: number };
  /** Why a size is refused, or null: the model's size rule. */
  readonly sizeProblem: (width: number, height: number) => string | null;
  readonly defaultSize: { readonly width: number; readonly height: number };
  readonly maxPromptChars: number;
}

const QWEN_SIZES = new Set<string>(QWEN_IMAGE_SIZES);
const qwenSize = (width: number, height: number): string | null =>
  QWEN_SIZES.has(`${width}x${height}`) ? null : `size must be one of ${QWEN_IMAGE_SIZES.map((s) => s.replace('x', '*')).join(', ')}`;
const perSide = (width: number, height: number): string | null =>
  width >= 512 && width <= 1440 && height >= 512 && height <= 1440 ? null : 'width and height must each be between 512 and 1440';
const byArea = (width: number, height: number): string | null => {
  const pixels = width * height;
  if (pixels < 768 * 768 || pixels > 1440 * 1440) return 'the total pixels must be between 768*768 and 1440*1440';
  return Math.max(width / height, height / width) > 4 ? 'the aspect ratio must be between 1:4 and 4:1' : null;
};
const anySize = (): string | null => null;

const qwen: DashScopeSimModel = {
  api: 'multimodal',
  maxN: 1,
  images: { min: 0, max: 0 },
  sizeProblem: qwenSize,
  defaultSize: { width: 1664, height: 928 },
  maxPromptChars: 800,
};
const wan = (sizeProblem: DashScopeSimModel['sizeProblem'], maxPromptChars: number, side: number): DashScopeSimModel => ({
  api: 'text2image',
  maxN: 4,
  images: { min: 0, max: 0 },
  sizeProblem,
  defaultSize: { width: side, height: side },
  maxPromptChars,
});

export const DASHSCOPE_SIM_MODELS: Readonly<Record<string, DashScopeSimModel>> = {
  'qwen-image': qwen,
  'qwen-image-plus': qwen,
  'qwen-image-edit': { ...qwen, images: { min: 1, max: 1 }, sizeProblem: anySize },
  'qwen-image-edit-plus': {
    ...qwen,
    maxN: 6,
    images: { min: 1, max: 3 },
    sizeProblem: (w, h) => (w >= 512 && w <= 2048 && h >= 512 && h <= 2048 ? null : 'width and height must each be between 512 and 2048'),
  },
  'wan2.5-t2i-preview': wan(byArea, 2_000, 1280),
  'wan2.2-t2i-flash': wan(perSide, 500, 1024),
  'wan2.2-t2i-plus': wan(perSide, 500, 1024),
  'wanx2.1-t2i-turbo': wan(perSide, 500, 1024),
  'wanx2.1-t2i-plus': wan(perSide, 500, 1024),
  'wanx2.1-imageedit': { ...wan(anySize, 800, 1024), api: 'image2image', images: { min: 1, max: 1 } },
};

const MULTIMODAL = '/api/v1/services/aigc/multimodal-generation/generation';
const TEXT2IMAGE = '/api/v1/services/aigc/text2image/image-synthesis';
const IMAGE2IMAGE = '/api/v1/services/aigc/image2image/image-synthesis';
const TASKS = '/api/v1/tasks/';
const PARAMETERS: Readonly<Record<SimApi, ReadonlySet<string>>> = {
  multimodal: new Set(['size', 'n', 'seed', 'prompt_extend', 'watermark', 'negative_prompt']),
  text2image: new Set(['size', 'n', 'seed', 'prompt_extend', 'watermark']),
  image2image: new Set(['n', 'seed', 'watermark']),
};
const DAY_MS = 24 * 3600 * 1000;
const MAX_SEED = 2_147_483_647;

export interface DashScopeSimulatorOptions {
  /** When set, requests want `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** How long an async task runs (default 300 ms): PENDING, RUNNING from half of it, then done. */
  taskDurationMs?: number;
  /** How long a synchronous generation takes before it answers (default 0): a slow sync call. */
  syncLatencyMs?: number;
  /** How long hosted result URLs stay (default 24 h, as DashScope's). */
  urlTtlMs?: number;
  /** Base of hosted image URLs; startDashScopeSimulator sets its own origin. */
  publicBaseUrl?: string;
}

/** A scripted answer for the next call (sync generation or async submission). */
export interface DashScopeFault {
  status: number;
  code: string;
  message?: string;
  retryAfterSeconds?: number;
}

export interface DashScopeRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  json: unknown;
}

interface Plan {
  model: string;
  spec: DashScopeSimModel;
  prompt: string;
  n: number;
  /** Undefined: the edit answers in its last input's shape. */
  size: { width: number; height: number } | undefined;
  inputs: Buffer[];
}

interface SimTask {
  readonly id: string;
  readonly plan: Plan;
  createdAt: number;
  /** Set once it has ended. */
  outcome?: { status: 'SUCCEEDED'; urls: string[] } | { status: 'FAILED'; code: string; message: string };
}

export class DashScopeSimulator implements SimHandler {
  readonly requests: DashScopeRecordedRequest[] = [];
  /** Async submissions received (accepted or not): proves a task is never submitted twice. */
  submits = 0;
  /** Task queries received. */
  polls = 0;
  /** Synchronous calls that produced images. */
  generations = 0;
  aborted = 0;
  private readonly hosted = new HostedFiles();
  /** The url images answered, oldest first. */
  readonly answeredUrls = this.hosted.answered;

  private readonly faults: DashScopeFault[] = [];
  private readonly tasks = new HeldTasks<SimTask>();

  constructor(private readonly opts: DashScopeSimulatorOptions = {}) {}

  /** The next calls (sync generations or async submissions) answer these, in order, after the key check and validation. */
  enqueueFault(...faults: DashScopeFault[]): void {
    this.faults.push(...faults);
  }

  /** Every task stays PENDING until release(). */
  hold(): void {
    this.tasks.hold();
  }

  /** Tasks run again; their duration counts from now. */
  release(): void {
    this.tasks.release();
  }

  /** The bodies sent to an endpoint, oldest first. */
  bodies(api: SimApi): Record<string, unknown>[] {
    const path = api === 'multimodal' ? MULTIMODAL : api === 'text2image' ? TEXT2IMAGE : IMAGE2IMAGE;
    return this.requests.filter((r) => r.method === 'POST' && r.path === path).map((r) => (isObject(r.json) ? r.json : {}));
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://dashscope-simulator.invalid');
    const method = req.method.toUpperCase();
    this.requests.push({ method, path: url.pathname, headers: { ...req.headers }, json: parseJson(req.body) });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'GET' && url.pathname.startsWith('/files/')) return this.file(url.pathname.slice('/files/'.length));
    if (this.opts.apiKey !== undefined && bearerToken(req.headers) !== this.opts.apiKey) {
      return error(401, 'InvalidApiKey', 'Invalid API-key provided.');
    }
    if (method === 'POST' && url.pathname === MULTIMODAL) return this.generateNow(req.body);
    if (method === 'POST' && url.pathname === TEXT2IMAGE) return this.submit(req, 'text2image');
    if (method === 'POST' && url.pathname === IMAGE2IMAGE) return this.submit(req, 'image2image');
    if (method === 'GET' && url.pathname.startsWith(TASKS)) return this.task(safeDecode(url.pathname.slice(TASKS.length)));
    return error(404, 'NotFound', `${method} ${url.pathname} is not an API of this simulator`);
  }

  private async generateNow(body: Buffer): Promise<SimResponse> {
    const plan = await readPlan(parseJson(body), 'multimodal');
    if (typeof plan === 'string') return error(400, 'InvalidParameter', plan);
    const refusal = this.refusal(plan, true);
    if (refusal) return refusal;
    const latency = this.opts.syncLatencyMs ?? 0;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    const images = await this.render(plan);
    this.generations += 1;
    const { width, height } = images.size;
    return jsonResponse(200, {
      output: { choices: images.urls.map((url) => ({ finish_reason: 'stop', message: { role: 'assistant', content: [{ image: url }] } })) },
      usage: { width, height, image_count: images.urls.length },
      request_id: randomUUID(),
    });
  }

  private async submit(req: SimRequest, api: 'text2image' | 'image2image'): Promise<SimResponse> {
    this.submits += 1;
    if (headerValue(req.headers, 'x-dashscope-async') !== 'enable') {
      return error(403, 'AccessDenied', 'current user api does not support synchronous calls');
    }
    const plan = await readPlan(parseJson(req.body), api);
    if (typeof plan === 'string') return error(400, 'InvalidParameter', plan);
    const refusal = this.refusal(plan, false);
    if (refusal) return refusal;
    const id = randomUUID();
    this.tasks.set(id, { id, plan, createdAt: Date.now() });
    return jsonResponse(200, { output: { task_id: id, task_status: 'PENDING' }, request_id: randomUUID() });
  }

  private async task(id: string): Promise<SimResponse> {
    this.polls += 1;
    const task = this.tasks.get(id);
    const requestId = randomUUID();
    if (!task) return jsonResponse(200, { request_id: requestId, output: { task_id: id, task_status: 'UNKNOWN' } });
    const elapsed = (Date.now() - task.createdAt) / (this.opts.taskDurationMs ?? 300);
    if (!task.outcome && (this.tasks.held || elapsed < 1)) {
      return jsonResponse(200, { request_id: requestId, output: { task_id: id, task_status: this.tasks.held || elapsed < 0.5 ? 'PENDING' : 'RUNNING' } });
    }
    task.outcome ??= task.plan.prompt.includes('[sim:unsafe-output]')
      ? { status: 'FAILED', code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' }
      : { status: 'SUCCEEDED', urls: (await this.render(task.plan)).urls };
    const outcome = task.outcome;
    if (outcome.status === 'FAILED') {
      return jsonResponse(200, { request_id: requestId, output: { task_id: id, task_status: 'FAILED', code: outcome.code, message: outcome.message } });
    }
    return jsonResponse(200, {
      request_id: requestId,
      output: {
        task_id: id,
        task_status: 'SUCCEEDED',
        results: outcome.urls.map((url) => ({ orig_prompt: task.plan.prompt, actual_prompt: task.plan.prompt, url })),
        task_metrics: { TOTAL: outcome.urls.length, SUCCEEDED: outcome.urls.length, FAILED: 0 },
      },
      usage: { image_count: outcome.urls.length },
    });
  }

  /** A scripted fault or a refusal the prompt asks for; sync calls refuse unsafe output at once. */
  private refusal(plan: Plan, sync: boolean): SimResponse | undefined {
    const fault = this.faults.shift();
    if (fault) return error(fault.status, fault.code, fault.message ?? `simulated ${fault.code}`, fault.retryAfterSeconds);
    if (plan.prompt.includes('[sim:unsafe]') || (sync && plan.prompt.includes('[sim:unsafe-output]'))) {
      return error(400, 'DataInspectionFailed', 'Input data may contain inappropriate content.');
    }
    if (plan.prompt.includes('[sim:arrearage]')) {
      return error(400, 'Arrearage', 'Access denied, please make sure your account is in good standing.');
    }
    return undefined;
  }

  private async render(plan: Plan): Promise<{ urls: string[]; size: { width: number; height: number } }> {
    const last = plan.inputs.at(-1);
    const size = plan.size ?? (last ? await imageSize(last) : plan.spec.defaultSize);
    const text = `dashscope simulator · ${plan.model} · ${plan.prompt}`;
    const urls = await Promise.all(
      Array.from({ length: plan.n }, async (_, variant) => {
        const bytes =
          plan.inputs.length > 0
            ? await renderEdit({ ...size, format: 'png', text, inputs: plan.inputs, variant })
            : await renderImage({ ...size, format: 'png', text, variant });
        return this.host(bytes);
      }),
    );
    return { urls, size };
  }

  private host(bytes: Buffer): string {
    const name = `${randomUUID()}.png`;
    return this.hosted.host(name, `${publicOrigin(this.opts.publicBaseUrl, 'dashscope')}/files/${name}`, bytes, 'image/png', this.opts.urlTtlMs ?? DAY_MS);
  }

  private file(name: string): SimResponse {
    return this.hosted.serve(name, () => ({
      kind: 'full',
      status: 404,
      headers: { 'content-type': 'application/xml' },
      body: Buffer.from('<Error><Code>AccessDenied</Code></Error>'),
    }));
  }
}

/** The body as DashScope reads it, or the 400's message. */
async function readPlan(value: unknown, api: SimApi): Promise<Plan | string> {
  if (!isObject(value)) return 'the request body must be a JSON object';
  const unknownTop = Object.keys(value).find((key) => !['model', 'input', 'parameters'].includes(key));
  if (unknownTop !== undefined) return `unknown field: ${unknownTop}`;
  const { model, input, parameters = {} } = value;
  if (typeof model !== 'string' || !Object.hasOwn(DASHSCOPE_SIM_MODELS, model)) return `Model not exist: ${JSON.stringify(model)}`;
  const spec = DASHSCOPE_SIM_MODELS[model] as DashScopeSimModel;
  if (spec.api !== api) return `${model} is not served by this API`;
  if (!isObject(input)) return 'input is required';
  if (!isObject(parameters)) return 'parameters must be an object';
  const unknownParameter = Object.keys(parameters).find((key) => !PARAMETERS[api].has(key));
  if (unknownParameter !== undefined) return `parameters.${unknownParameter} is not a parameter of ${model}`;
  const read = api === 'multimodal' ? await readMessages(input) : api === 'image2image' ? await readImageEditInput(input) : readPromptInput(input);
  if (typeof read === 'string') return read;
  const { prompt, inputs } = read;
  if (prompt.trim() === '') return 'the prompt must not be empty';
  if (prompt.length > spec.maxPromptChars) return `the prompt is longer than ${spec.maxPromptChars} characters`;
  if (inputs.length < spec.images.min || inputs.length > spec.images.max) {
    return spec.images.max === 0 ? `${model} takes no image` : `${model} takes ${spec.images.min}-${spec.images.max} images`;
  }
  const problem = checkParameters(parameters, spec);
  if (problem) return problem;
  const n = typeof parameters.n === 'number' ? parameters.n : 1;
  const size = readSize(parameters.size, spec);
  if (typeof size === 'string') return size;
  return { model, spec, prompt, n, size: size ?? (inputs.length > 0 ? undefined : spec.defaultSize), inputs };
}

function checkParameters(parameters: Record<string, unknown>, spec: DashScopeSimModel): string | undefined {
  const { n, seed, prompt_extend: promptExtend, watermark, negative_prompt: negativePrompt } = parameters;
  if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > spec.maxN)) return `n must be an integer from 1 to ${spec.maxN}`;
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED))
    return `seed must be an integer from 0 to ${MAX_SEED}`;
  if (promptExtend !== undefined && typeof promptExtend !== 'boolean') return 'prompt_extend must be a boolean';
  if (watermark !== undefined && typeof watermark !== 'boolean') return 'watermark must be a boolean';
  if (negativePrompt !== undefined && (typeof negativePrompt !== 'string' || negativePrompt.length > 500))
    return 'negative_prompt must be a string of at most 500 characters';
  return undefined;
}

/** `W*H` (an asterisk: `x` is refused, as DashScope does), checked against the model's rule. */
function readSize(value: unknown, spec: DashScopeSimModel): { width: number; height: number } | undefined | string {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^(\d{2,5})\*(\d{2,5})$/.exec(value) : null;
  if (!match) return `size must be "width*height", got ${JSON.stringify(value)}`;
  const width = Number(match[1]);
  const height = Number(match[2]);
  const problem = spec.sizeProblem(width, height);
  return problem ?? { width, height };
}

async function readMessages(input: Record<string, unknown>): Promise<{ prompt: string; inputs: Buffer[] } | string> {
  const messages = input.messages;
  const first = Array.isArray(messages) && messages.length === 1 ? messages[0] : undefined;
  if (!isObject(first) || first.role !== 'user' || !Array.isArray(first.content)) return 'input.messages must hold one user message with a content array';
  const texts: string[] = [];
  const inputs: Buffer[] = [];
  for (const part of first.content) {
    if (isObject(part) && typeof part.text === 'string') texts.push(part.text);
    else if (isObject(part) && typeof part.image === 'string') {
      const bytes = await imageBytes(part.image);
      if (typeof bytes === 'string') return bytes;
      inputs.push(bytes);
    } else return 'each content part is {text} or {image}';
  }
  if (texts.length !== 1) return 'the message must hold exactly one text part';
  return { prompt: texts[0] as string, inputs };
}

/** Wan's image editor: a base image and, for an inpainting, a black and white mask of its size. */
async function readImageEditInput(input: Record<string, unknown>): Promise<{ prompt: string; inputs: Buffer[] } | string> {
  const known = ['function', 'prompt', 'base_image_url', 'mask_image_url'];
  const unknown = Object.keys(input).find((key) => !known.includes(key));
  if (unknown !== undefined) return `input.${unknown} is not a field of this API`;
  const { function: fn, prompt, base_image_url: baseRef, mask_image_url: maskRef } = input;
  if (fn !== 'description_edit' && fn !== 'description_edit_with_mask') return `input.function ${JSON.stringify(fn)} is not simulated`;
  if (typeof prompt !== 'string') return 'input.prompt is required';
  if (typeof baseRef !== 'string') return 'input.base_image_url is required';
  const base = await imageBytes(baseRef);
  if (typeof base === 'string') return base;
  if ((fn === 'description_edit_with_mask') !== (maskRef !== undefined)) return 'input.mask_image_url goes with description_edit_with_mask, and only with it';
  if (typeof maskRef === 'string') {
    const mask = await imageBytes(maskRef);
    if (typeof mask === 'string') return mask;
    const [baseMeta, maskMeta] = await Promise.all([sharp(base).metadata(), sharp(mask).metadata()]);
    if (baseMeta.width !== maskMeta.width || baseMeta.height !== maskMeta.height) return 'the mask must have the size of the base image';
    if (maskMeta.hasAlpha) return 'the mask is black and white (white: the area to edit), without transparency';
  }
  return { prompt, inputs: [base] };
}

function readPromptInput(input: Record<string, unknown>): { prompt: string; inputs: Buffer[] } | string {
  const unknown = Object.keys(input).find((key) => key !== 'prompt' && key !== 'negative_prompt');
  if (unknown !== undefined) return `input.${unknown} is not a field of this API`;
  if (typeof input.prompt !== 'string') return 'input.prompt is required';
  if (input.negative_prompt !== undefined && (typeof input.negative_prompt !== 'string' || input.negative_prompt.length > 500)) {
    return 'input.negative_prompt must be a string of at most 500 characters';
  }
  return { prompt: input.prompt, inputs: [] };
}

/** A data URI's bytes, or an http(s) URL's; checked to be an image DashScope takes. */
async function imageBytes(ref: string): Promise<Buffer | string> {
  let bytes: Buffer;
  const data = /^data:image\/(?:png|jpeg|jpg|webp|bmp);base64,([A-Za-z0-9+/=]+)$/.exec(ref);
  if (data) bytes = Buffer.from(data[1] as string, 'base64');
  else if (/^https?:\/\//.test(ref)) {
    const res = await fetch(ref).catch(() => undefined);
    if (!res?.ok) return `the image ${ref} could not be downloaded`;
    bytes = Buffer.from(await res.arrayBuffer());
  } else return 'an image is a data URI (data:image/png;base64,...) or an http(s) URL';
  try {
    const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
    if (!meta.width || !meta.height || meta.width < 384 || meta.height < 384 || meta.width > 3072 || meta.height > 3072) {
      return 'image width and height must each be between 384 and 3072 pixels';
    }
  } catch {
    return 'the image could not be decoded';
  }
  return bytes;
}

async function imageSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  return { width: meta.width ?? 1024, height: meta.height ?? 1024 };
}

function error(status: number, code: string, message: string, retryAfterSeconds?: number): SimResponse {
  const answer = jsonResponse(status, { request_id: randomUUID(), code, message });
  if (answer.kind !== 'full' || retryAfterSeconds === undefined) return answer;
  return { ...answer, headers: { ...answer.headers, 'retry-after': String(retryAfterSeconds) } };
}

export type RunningDashScopeSimulator = RunningServer<DashScopeSimulator>;

/** base_url of a dashscope channel is the origin (`running.origin`), as DashScope's regions are. */
export async function startDashScopeSimulator(opts: DashScopeSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningDashScopeSimulator> {
  const { host, port, ...simOpts } = opts;
  return startSimulatorServer((origin) => new DashScopeSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
}
