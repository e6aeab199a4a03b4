// A simulator of Black Forest Labs' FLUX API, written from BFL's API reference and its published
// API guide (endpoints, polling, errors; read 2026-11-30). What it models:
// - The key in `x-key` (never a bearer token); a missing or wrong key is 401 `{detail}`.
// - POST /v1/{model}: flux-2-pro, flux-2-max, flux-2-flex, flux-2-klein-4b, flux-2-klein-9b
//   (`width`/`height`, multiples of 16, 64 px up, at most 4 MP; `input_image`, `input_image_2`...
//   up to 8, klein 4; flex's `steps` 1-50 and `guidance` 1.5-10), flux-kontext-pro and -max
//   (`aspect_ratio` 21:9 to 9:21 made at the nearest of BFL's Kontext resolutions; one
//   `input_image`, whose shape an edit keeps), flux-pro-1.1 (`width`/`height`, multiples of 32,
//   256-1440, default 1024x768) and flux-pro-1.1-ultra (`aspect_ratio`, about 4 MP, default 16:9;
//   `raw`). All take `prompt`, `seed`, `safety_tolerance` (0-6; FLUX.2 0-5), `output_format`
//   (jpeg or png; Kontext also webp) and `prompt_upsampling`. Input images are base64 (bare or
//   a data URI) or an http(s) URL. Any other field, or a bad value, is FastAPI's 422 `{detail: [{loc: ["body",
//   field], msg, type}]}`. The answer: `{id, polling_url, cost, input_mp, output_mp}` (cost in
//   credits of $0.01, by BFL's megapixel rates for FLUX.2).
// - GET /v1/get_result?id=: `{id, status: "Pending"}` until the task is done (`taskDurationMs`;
//   `hold()` keeps every task Pending until `release()`), then `Ready` with `result: {sample,
//   prompt, seed, start_time, end_time, duration}`; `[sim:moderated]` in a prompt makes it
//   `Request Moderated`, `[sim:content-moderated]` `Content Moderated` (both with
//   `details: {"Moderation Reasons": [...]}`), `[sim:error]` `Error`; an unknown id is 404
//   `{status: "Task not found"}`. `polling_url` is this server's get_result unless
//   `pollingBaseUrl` says another origin (a region, or a hostile one in a test).
// - result.sample is hosted here (GET /results/<name>, no key) and expires: 10 minutes at BFL,
//   `sampleTtlMs` here; after it, 404.
// - `enqueueFault` scripts the next submissions' answers (402 credits, 429 too many active tasks
//   with Retry-After, 403, 500...), `enqueuePollFault` the next polls'; `forgetTasks` drops every
//   task (BFL keeps results a while). `submits` counts submissions (accepted or not), `polls` polls.
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { KONTEXT_SIZES, ULTRA_SIZES } from '../src/core/catalogue/bfl.js';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { HostedFiles } from './hosted-files.js';
import { HeldTasks } from './held-tasks.js';
import { MAX_INPUT_PIXELS, renderEdit, renderImage } from './render.js';
import { headerValue, isObject, jsonResponse, parseJson, publicOrigin } from './wire.js';

type Format = 'jpeg' | 'png' | 'webp';
type SizeRule = 'flux2' | 'flux11' | 'kontext' | 'ultra';

interface BflSimModel {
  readonly size: SizeRule;
  readonly maxInputs: number;
  readonly fields: readonly string[];
  readonly maxSafety: number;
  readonly formats: readonly Format[];
  readonly defaultFormat: Format;
  /** BFL's rates in credits: the first megapixel, each further one (FLUX.2), or per image. */
  readonly credits: readonly [first: number, more: number];
}

const COMMON = ['prompt', 'seed', 'safety_tolerance', 'output_format', 'prompt_upsampling', 'webhook_url', 'webhook_secret'];
const inputFields = (count: number): string[] => Array.from({ length: count }, (_, i) => (i === 0 ? 'input_image' : `input_image_${i + 1}`));
const flux2 = (maxInputs: number, credits: readonly [number, number], extra: readonly string[] = []): BflSimModel => ({
  size: 'flux2',
  maxInputs,
  fields: [...COMMON, 'width', 'height', ...inputFields(maxInputs), ...extra],
  maxSafety: 5,
  formats: ['jpeg', 'png'],
  defaultFormat: 'jpeg',
  credits,
});
const kontext = (credits: number): BflSimModel => ({
  size: 'kontext',
  maxInputs: 1,
  fields: [...COMMON, 'aspect_ratio', 'input_image'],
  maxSafety: 6,
  formats: ['jpeg', 'png', 'webp'],
  defaultFormat: 'png',
  credits: [credits, 0],
});

export const BFL_SIM_MODELS: Readonly<Record<string, BflSimModel>> = {
  'flux-2-pro': flux2(8, [3, 1.5]),
  'flux-2-max': flux2(8, [7, 3]),
  'flux-2-flex': flux2(8, [5, 5], ['steps', 'guidance']),
  'flux-2-klein-4b': flux2(4, [1.4, 0.1]),
  'flux-2-klein-9b': flux2(4, [1.5, 0.2]),
  'flux-kontext-pro': kontext(4),
  'flux-kontext-max': kontext(8),
  'flux-pro-1.1': {
    size: 'flux11',
    maxInputs: 0,
    fields: [...COMMON, 'width', 'height'],
    maxSafety: 6,
    formats: ['jpeg', 'png'],
    defaultFormat: 'jpeg',
    credits: [4, 0],
  },
  'flux-pro-1.1-ultra': {
    size: 'ultra',
    maxInputs: 0,
    fields: [...COMMON, 'aspect_ratio', 'raw'],
    maxSafety: 6,
    formats: ['jpeg', 'png'],
    defaultFormat: 'png',
    credits: [6, 0],
  },
};

const TEN_MINUTES_MS = 10 * 60 * 1000;
const MEGAPIXEL = 1024 * 1024;

export interface BflSimulatorOptions {
  /** When set, requests want `x-key: <apiKey>`. */
  apiKey?: string;
  /** How long a task runs before it is Ready (default 300 ms). */
  taskDurationMs?: number;
  /** How long result.sample URLs stay (default 10 minutes, as BFL's). */
  sampleTtlMs?: number;
  /** Base of hosted samples; startBflSimulator sets its own origin. */
  publicBaseUrl?: string;
  /** Where polling_url points (default publicBaseUrl): a region, or another host in a test. */
  pollingBaseUrl?: string;
}

/** A scripted answer for the next submission. */
export interface BflFault {
  status: number;
  detail: string;
  retryAfterSeconds?: number;
}

export interface BflRecordedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | undefined>;
  json: unknown;
}

interface Plan {
  model: string;
  prompt: string;
  seed: number;
  format: Format;
  /** Undefined: an edit answers in its input's shape. */
  size: { width: number; height: number } | undefined;
  inputs: Buffer[];
}

interface SimTask {
  readonly id: string;
  readonly plan: Plan;
  createdAt: number;
  outcome?: { status: 'Ready'; sample: string; width: number; height: number } | { status: 'Request Moderated' | 'Content Moderated' | 'Error' };
}

type Invalid = { field: string; msg: string };

export class BflSimulator implements SimHandler {
  readonly requests: BflRecordedRequest[] = [];
  /** Submissions received (accepted or not): proves a task is never submitted twice. */
  submits = 0;
  /** get_result calls received. */
  polls = 0;
  aborted = 0;
  private readonly hosted = new HostedFiles();
  /** The result.sample URLs answered, oldest first. */
  readonly samples = this.hosted.answered;

  private readonly faults: BflFault[] = [];
  private readonly pollFaults: BflFault[] = [];
  private readonly tasks = new HeldTasks<SimTask>();

  constructor(private readonly opts: BflSimulatorOptions = {}) {}

  enqueueFault(...faults: BflFault[]): void {
    this.faults.push(...faults);
  }

  /** The next get_result calls answer these (a 503 the gateway should ride out...), in order. */
  enqueuePollFault(...faults: BflFault[]): void {
    this.pollFaults.push(...faults);
  }

  /** Drops every task, as BFL does with old results: their polls answer Task not found. */
  forgetTasks(): void {
    this.tasks.clear();
  }

  /** Every task stays Pending until release(). */
  hold(): void {
    this.tasks.hold();
  }

  /** Tasks run again; their duration counts from now. */
  release(): void {
    this.tasks.release();
  }

  /** The bodies submitted to a model's endpoint (all of them without one), oldest first. */
  bodies(model?: string): Record<string, unknown>[] {
    return this.requests
      .filter((r) => r.method === 'POST' && r.path.startsWith('/v1/') && (model === undefined || r.path === `/v1/${model}`))
      .map((r) => (isObject(r.json) ? r.json : {}));
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://bfl-simulator.invalid');
    const method = req.method.toUpperCase();
    this.requests.push({ method, path: url.pathname, query: url.search, headers: { ...req.headers }, json: parseJson(req.body) });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'GET' && url.pathname.startsWith('/results/')) return this.file(url.pathname.slice('/results/'.length));
    if (this.opts.apiKey !== undefined && headerValue(req.headers, 'x-key') !== this.opts.apiKey) return detail(401, 'Not authenticated');
    if (method === 'GET' && url.pathname === '/v1/get_result') return this.result(url.searchParams.get('id') ?? '');
    const model = /^\/v1\/([\w.-]+)$/.exec(url.pathname)?.[1];
    if (method === 'POST' && model !== undefined && Object.hasOwn(BFL_SIM_MODELS, model)) return this.submit(model, req.body);
    return detail(404, 'Not Found');
  }

  private async submit(model: string, body: Buffer): Promise<SimResponse> {
    this.submits += 1;
    const fault = this.faults.shift();
    if (fault) return detail(fault.status, fault.detail, fault.retryAfterSeconds);
    const plan = await readPlan(model, parseJson(body));
    if ('field' in plan) return jsonResponse(422, { detail: [{ loc: ['body', plan.field], msg: plan.msg, type: 'value_error' }] });
    const id = randomUUID();
    this.tasks.set(id, { id, plan, createdAt: Date.now() });
    const spec = BFL_SIM_MODELS[model] as BflSimModel;
    const outputMp = plan.size ? (plan.size.width * plan.size.height) / MEGAPIXEL : 1;
    const inputMp = (await Promise.all(plan.inputs.map(pixelsOf))).reduce((sum, pixels) => sum + pixels / MEGAPIXEL, 0);
    const [first, more] = spec.credits;
    const cost = spec.size === 'flux2' ? first + Math.max(0, outputMp - 1) * more + inputMp * more : first;
    const pollingBase = (this.opts.pollingBaseUrl ?? this.publicBase()).replace(/\/+$/, '');
    return jsonResponse(200, { id, polling_url: `${pollingBase}/v1/get_result?id=${id}`, cost, input_mp: inputMp, output_mp: outputMp });
  }

  private async result(id: string): Promise<SimResponse> {
    this.polls += 1;
    const fault = this.pollFaults.shift();
    if (fault) return detail(fault.status, fault.detail, fault.retryAfterSeconds);
    const task = this.tasks.get(id);
    if (!task) return jsonResponse(404, { id, status: 'Task not found' });
    const done = !this.tasks.held && Date.now() - task.createdAt >= (this.opts.taskDurationMs ?? 300);
    if (!task.outcome && !done) return jsonResponse(200, { id, status: 'Pending', result: null, progress: null, details: null });
    task.outcome ??= await this.finish(task);
    const outcome = task.outcome;
    if (outcome.status === 'Ready') {
      const { plan } = task;
      const result = { sample: outcome.sample, prompt: plan.prompt, seed: plan.seed, start_time: task.createdAt / 1000, end_time: Date.now() / 1000 };
      return jsonResponse(200, { id, status: 'Ready', result: { ...result, duration: result.end_time - result.start_time }, progress: null, details: null });
    }
    const details = outcome.status === 'Error' ? { error: 'simulated generation error' } : { 'Moderation Reasons': ['Derivative Works Filter'] };
    return jsonResponse(200, { id, status: outcome.status, result: null, progress: null, details });
  }

  private async finish(task: SimTask): Promise<NonNullable<SimTask['outcome']>> {
    const { plan } = task;
    if (plan.prompt.includes('[sim:moderated]')) return { status: 'Request Moderated' };
    if (plan.prompt.includes('[sim:content-moderated]')) return { status: 'Content Moderated' };
    if (plan.prompt.includes('[sim:error]')) return { status: 'Error' };
    const spec = BFL_SIM_MODELS[plan.model] as BflSimModel;
    const size = plan.size ?? (await answerSize(spec.size, plan.inputs[0]));
    const text = `bfl simulator · ${plan.model} · ${plan.prompt}`;
    const bytes =
      plan.inputs.length > 0
        ? await renderEdit({ ...size, format: plan.format, text, inputs: plan.inputs })
        : await renderImage({ ...size, format: plan.format, text });
    return { status: 'Ready', sample: this.host(bytes, plan.format), ...size };
  }

  private publicBase(): string {
    return publicOrigin(this.opts.publicBaseUrl, 'bfl');
  }

  private host(bytes: Buffer, format: Format): string {
    const name = `${randomUUID()}/sample.${format === 'jpeg' ? 'jpg' : format}`;
    return this.hosted.host(name, `${this.publicBase()}/results/${name}`, bytes, `image/${format}`, this.opts.sampleTtlMs ?? TEN_MINUTES_MS);
  }

  private file(name: string): SimResponse {
    return this.hosted.serve(name, () => ({
      kind: 'full',
      status: 404,
      headers: { 'content-type': 'application/xml' },
      body: Buffer.from('<Error><Code>BlobNotFound</Code></Error>'),
    }));
  }
}

/** The body as BFL reads it, or its 422's field and message. */
async function readPlan(model: string, body: unknown): Promise<Plan | Invalid> {
  const spec = BFL_SIM_MODELS[model] as BflSimModel;
  if (!isObject(body)) return { field: 'body', msg: 'Input should be a valid dictionary' };
  const extra = Object.keys(body).find((key) => !spec.fields.includes(key));
  if (extra !== undefined) return { field: extra, msg: 'Extra inputs are not permitted' };
  const { prompt, seed, safety_tolerance: safety, output_format: format, prompt_upsampling: upsampling, raw, steps, guidance } = body;
  if (typeof prompt !== 'string' || prompt.trim() === '') return { field: 'prompt', msg: 'Field required' };
  if (seed !== undefined && !isInteger(seed, 0, Number.MAX_SAFE_INTEGER)) return { field: 'seed', msg: 'Input should be a valid integer' };
  if (safety !== undefined && !isInteger(safety, 0, spec.maxSafety)) return { field: 'safety_tolerance', msg: `Input should be from 0 to ${spec.maxSafety}` };
  const formatTaken = spec.formats.find((f) => f === format);
  if (format !== undefined && formatTaken === undefined)
    return { field: 'output_format', msg: `Input should be ${spec.formats.map((f) => `'${f}'`).join(', ')}` };
  for (const [name, value] of [
    ['prompt_upsampling', upsampling],
    ['raw', raw],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') return { field: name, msg: 'Input should be a valid boolean' };
  }
  if (steps !== undefined && !isInteger(steps, 1, 50)) return { field: 'steps', msg: 'Input should be from 1 to 50' };
  if (guidance !== undefined && (typeof guidance !== 'number' || guidance < 1.5 || guidance > 10))
    return { field: 'guidance', msg: 'Input should be from 1.5 to 10' };
  const inputs: Buffer[] = [];
  for (const field of inputFields(spec.maxInputs)) {
    if (body[field] === undefined) continue;
    const bytes = await imageBytes(body[field]);
    if (bytes === undefined) return { field, msg: 'Input should be a base64-encoded image or an image URL' };
    inputs.push(bytes);
  }
  const size = readSize(spec.size, body, inputs.length > 0);
  if (size !== undefined && 'field' in size) return size;
  return {
    model,
    prompt,
    seed: typeof seed === 'number' ? seed : Math.floor(Math.random() * 2 ** 31),
    format: formatTaken ?? spec.defaultFormat,
    size,
    inputs,
  };
}

function readSize(rule: SizeRule, body: Record<string, unknown>, editing: boolean): { width: number; height: number } | Invalid | undefined {
  if (rule === 'kontext' || rule === 'ultra') {
    const ratio = body.aspect_ratio;
    if (ratio === undefined) return editing ? undefined : nearestSize(rule === 'kontext' ? 1 : 16 / 9, rule);
    const match = typeof ratio === 'string' ? /^(\d{1,4}):(\d{1,4})$/.exec(ratio) : null;
    const value = match ? Number(match[1]) / Number(match[2]) : Number.NaN;
    if (!(value >= 9 / 21 - 1e-9 && value <= 21 / 9 + 1e-9)) return { field: 'aspect_ratio', msg: 'Aspect ratio must be between 21:9 and 9:21' };
    return nearestSize(value, rule);
  }
  const { width, height } = body;
  if (width === undefined && height === undefined)
    return editing && rule === 'flux2' ? undefined : rule === 'flux2' ? { width: 1024, height: 1024 } : { width: 1024, height: 768 };
  const [multiple, min, max] = rule === 'flux2' ? [16, 64, 2048] : [32, 256, 1440];
  for (const [field, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!isInteger(value, min, max) || (value as number) % multiple !== 0)
      return { field, msg: `Input should be a multiple of ${multiple} from ${min} to ${max}` };
  }
  if (rule === 'flux2' && (width as number) * (height as number) > 4 * MEGAPIXEL) return { field: 'width', msg: 'width x height must be at most 4 megapixels' };
  return { width: width as number, height: height as number };
}

/** The size of BFL's list nearest the ratio (on a log scale). */
function nearestSize(ratio: number, rule: 'kontext' | 'ultra'): { width: number; height: number } {
  const sizes = Object.keys(rule === 'kontext' ? KONTEXT_SIZES : ULTRA_SIZES).map((s) => {
    const [width, height] = s.split('x').map(Number) as [number, number];
    return { width, height };
  });
  const distance = (s: { width: number; height: number }) => Math.abs(Math.log(s.width / s.height / ratio));
  return sizes.reduce((best, s) => (distance(s) < distance(best) ? s : best));
}

/** An edit without a size: FLUX.2 keeps its input's size (in multiples of 16, at most 4 MP); Kontext its nearest resolution. */
async function answerSize(rule: SizeRule, input: Buffer | undefined): Promise<{ width: number; height: number }> {
  const meta = input ? await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS }).metadata() : undefined;
  const width = meta?.width ?? 1024;
  const height = meta?.height ?? 1024;
  if (rule === 'kontext') return nearestSize(width / height, 'kontext');
  const scale = Math.min(1, Math.sqrt((4 * MEGAPIXEL) / (width * height)));
  const edge = (value: number) => Math.max(64, Math.floor((value * scale) / 16) * 16);
  return { width: edge(width), height: edge(height) };
}

/** Bare base64, a data URI or an http(s) URL; undefined unless it is a decodable image. */
async function imageBytes(value: unknown): Promise<Buffer | undefined> {
  if (typeof value !== 'string') return undefined;
  let bytes: Buffer;
  if (/^https?:\/\//.test(value)) {
    const res = await fetch(value).catch(() => undefined);
    if (!res?.ok) return undefined;
    bytes = Buffer.from(await res.arrayBuffer());
  } else {
    const base64 = value.replace(/^data:image\/[a-z]+;base64,/, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
    bytes = Buffer.from(base64, 'base64');
  }
  try {
    const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
    return meta.width && meta.height ? bytes : undefined;
  } catch {
    return undefined;
  }
}

async function pixelsOf(bytes: Buffer): Promise<number> {
  const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  return (meta.width ?? 0) * (meta.height ?? 0);
}

function isInteger(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function detail(status: number, text: string, retryAfterSeconds?: number): SimResponse {
  const answer = jsonResponse(status, { detail: text });
  if (answer.kind !== 'full' || retryAfterSeconds === undefined) return answer;
  return { ...answer, headers: { ...answer.headers, 'retry-after': String(retryAfterSeconds) } };
}

export type RunningBflSimulator = RunningServer<BflSimulator>;

/** base_url of a bfl channel is the origin (`running.origin`), as BFL's regions are. */
export async function startBflSimulator(opts: BflSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningBflSimulator> {
  const { host, port, ...simOpts } = opts;
  return startSimulatorServer((origin) => new BflSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
}
