// A simulator of Recraft's image API (external.api.recraft.ai), written from its API reference
// (recraft.ai/docs/api-reference: Endpoints "Generate image", Appendix (sizes, prompt lengths),
// Styles, Errors, Pricing; the OpenAPI document of external.api.recraft.ai):
// - POST /v1/images/generations, `Authorization: Bearer <token>`; JSON body: prompt (required),
//   model (default recraftv4_1), n (1-6), size (WxH of the model's list, or its aspect ratio w:h),
//   style / substyle (V2/V3 only; raster styles on raster models, vector styles on `_vector`
//   models) or style_id (a custom style's UUID, not with style), response_format (url, default,
//   or b64_json), image_format (png or webp; raster models), negative_prompt, controls,
//   text_layout, random_seed, block_nsfw, expire, calculate_features. Any other field is refused
//   (Recraft says unsupported parameters "are rejected or ignored": this one rejects, so a
//   gateway that leaks an OpenAI-only field is caught).
// - The answer: {created, credits, data: [{image_id, url | b64_json}]}; `credits` the API units
//   spent. Raster models draw real PNG/WebP images of the size asked (sharp); `_vector` models a
//   small valid SVG with that viewBox. url images are hosted here (GET /files/<id>.<ext>, no key)
//   and expire (Recraft's after about 24 hours; `urlTtlMs` here), then 404.
// - Errors: a non-2xx status, plain text or JSON (Recraft's Errors page): 401 `request
//   unauthorized` and 404 `404 page not found` as text/plain, as documented; the rest as JSON
//   `{code, message}` (its shape beyond "JSON" is not documented: this is the simulator's
//   assumption, the gateway's reader takes text and several JSON shapes alike). A safety refusal
//   (the prompt holds `[sim:nsfw]`) is 400 `{code: "nsfw_content"}`; an account whose API units do
//   not cover the images (`credits`, or `[sim:no-units]` in the prompt) is 400
//   `{code: "not_enough_credits"}`; `enqueueFault` scripts any status (429 with Retry-After...).
import { randomUUID } from 'node:crypto';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { HostedFiles } from './hosted-files.js';
import { RECRAFT_V2_V3_SIZES, RECRAFT_V4_PRO_SIZES, RECRAFT_V4_SIZES } from '../src/core/models.js';
import { renderImage } from './render.js';
import { bearerToken, isObject, jsonResponse, parseJson, publicOrigin } from './wire.js';

/** One Recraft model as the simulator knows it. */
export interface RecraftSimModel {
  readonly vector: boolean;
  readonly sizes: readonly string[];
  /** Style families it takes; empty: style is refused (V4). */
  readonly styles: readonly string[];
  readonly maxPromptChars: number;
  /** API units per image (1,000 units = $1, Recraft's price list). */
  readonly units: number;
}

const v4 = (vector: boolean, sizes: readonly string[], units: number): RecraftSimModel => ({ vector, sizes, styles: [], maxPromptChars: 10_000, units });
const v2v3 = (vector: boolean, styles: readonly string[], units: number): RecraftSimModel => ({
  vector,
  sizes: RECRAFT_V2_V3_SIZES,
  styles,
  maxPromptChars: 1_000,
  units,
});

export const RECRAFT_SIM_MODELS: Readonly<Record<string, RecraftSimModel>> = {
  recraftv4_1: v4(false, RECRAFT_V4_SIZES, 35),
  recraftv4_1_vector: v4(true, RECRAFT_V4_SIZES, 80),
  recraftv4_1_pro: v4(false, RECRAFT_V4_PRO_SIZES, 210),
  recraftv4: v4(false, RECRAFT_V4_SIZES, 40),
  recraftv4_vector: v4(true, RECRAFT_V4_SIZES, 80),
  recraftv4_pro: v4(false, RECRAFT_V4_PRO_SIZES, 250),
  recraftv4_pro_vector: v4(true, RECRAFT_V4_PRO_SIZES, 300),
  recraftv3: v2v3(false, ['realistic_image', 'digital_illustration', 'logo_raster'], 40),
  recraftv3_vector: v2v3(true, ['vector_illustration'], 80),
  recraftv2: v2v3(false, ['realistic_image', 'digital_illustration'], 22),
  recraftv2_vector: v2v3(true, ['vector_illustration', 'icon'], 44),
};

const DEFAULT_MODEL = 'recraftv4_1';
const VECTOR_STYLES = new Set(['vector_illustration', 'icon']);
/** The substyles of Recraft's OpenAPI document (ImageSubStyle), a sample: any of them is taken with a style. */
const SUBSTYLES = new Set([
  '2d_art_poster',
  '3d',
  '80s',
  'glow',
  'grain',
  'hand_drawn',
  'infantile_sketch',
  'kawaii',
  'pixel_art',
  'psychedelic',
  'seamless',
  'voxel',
  'watercolor',
  'broken_line',
  'colored_outline',
  'colored_shapes',
  'colored_shapes_gradient',
  'doodle_fill',
  'doodle_offset_fill',
  'offset_fill',
  'outline',
  'outline_gradient',
  'cartoon',
  'doodle_line_art',
  'engraving',
  'flat_2',
  'line_art',
  'linocut',
  'b_and_w',
  'enterprise',
  'hard_flash',
  'hdr',
  'motion_blur',
  'natural_light',
  'studio_portrait',
  'line_circuit',
  'handmade_3d',
  'plastic',
  'pictogram',
  'emblem_graffiti',
  'emblem_pop_art',
  'emblem_punk',
  'emblem_stamp',
  'emblem_vintage',
]);
const KNOWN_FIELDS = new Set([
  'prompt',
  'model',
  'n',
  'size',
  'style',
  'substyle',
  'style_id',
  'response_format',
  'image_format',
  'negative_prompt',
  'controls',
  'text_layout',
  'random_seed',
  'block_nsfw',
  'expire',
  'calculate_features',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 24 * 3600 * 1000;

export interface RecraftSimulatorOptions {
  /** When set, the API wants `Authorization: Bearer <apiKey>` (401 `request unauthorized` otherwise). */
  apiKey?: string;
  /** The account's API units; undefined: unlimited. A request whose images cost more is refused. */
  credits?: number;
  /** How long hosted url images stay (default 24 h, as Recraft's). */
  urlTtlMs?: number;
  /** Added before every generation (default 0). */
  latencyMs?: number;
  /** Base of hosted image URLs; startRecraftSimulator sets its own origin. */
  publicBaseUrl?: string;
}

/** A scripted answer for the next generation(s): a status with Recraft's JSON error, or plain text. */
export interface RecraftFault {
  status: number;
  code?: string;
  message?: string;
  /** Answer text/plain with this body instead of JSON. */
  text?: string;
  retryAfterSeconds?: number;
}

export interface RecraftRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  /** The parsed JSON body; undefined when empty or not JSON. */
  json: unknown;
}

interface Plan {
  model: string;
  spec: RecraftSimModel;
  prompt: string;
  n: number;
  width: number;
  height: number;
  answer: 'url' | 'b64_json';
  format: 'png' | 'webp' | 'svg';
}

export class RecraftSimulator implements SimHandler {
  /** Every request received (image downloads included), oldest first. */
  readonly requests: RecraftRecordedRequest[] = [];
  /** Generations that produced images. */
  generations = 0;
  aborted = 0;
  /** The account's API units (see options); tests may change it. */
  credits: number | undefined;
  private readonly hosted = new HostedFiles();
  /** The url images answered, oldest first. */
  readonly answeredUrls = this.hosted.answered;

  private readonly faults: RecraftFault[] = [];

  constructor(private readonly opts: RecraftSimulatorOptions = {}) {
    this.credits = opts.credits;
  }

  /** The next generations answer these, in order (after the key check and the body's validation). */
  enqueueFault(...faults: RecraftFault[]): void {
    this.faults.push(...faults);
  }

  /** The generation requests' bodies, oldest first. */
  get generationBodies(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/v1/images/generations').map((r) => (isObject(r.json) ? r.json : {}));
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://recraft-simulator.invalid');
    const method = req.method.toUpperCase();
    this.requests.push({ method, path: url.pathname, headers: { ...req.headers }, json: parseJson(req.body) });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'GET' && url.pathname.startsWith('/files/')) return this.file(url.pathname.slice('/files/'.length));
    if (this.opts.apiKey !== undefined && bearerToken(req.headers) !== this.opts.apiKey) return text(401, 'request unauthorized');
    if (method !== 'POST' || url.pathname !== '/v1/images/generations') return text(404, '404 page not found');
    return this.generate(req.body);
  }

  private async generate(body: Buffer): Promise<SimResponse> {
    const plan = readPlan(parseJson(body));
    if (typeof plan === 'string') return error(400, 'invalid_request', plan);
    const fault = this.faults.shift();
    if (fault) return faultResponse(fault);
    if (plan.prompt.includes('[sim:nsfw]')) {
      return error(400, 'nsfw_content', 'Your prompt was rejected by the safety filter: it may describe inappropriate (NSFW) content.');
    }
    const cost = plan.spec.units * plan.n;
    if (plan.prompt.includes('[sim:no-units]') || (this.credits !== undefined && this.credits < cost)) {
      return error(400, 'not_enough_credits', `Not enough API units: this request costs ${cost}. Top up at https://app.recraft.ai/profile/api.`);
    }
    if (this.credits !== undefined) this.credits -= cost;
    if ((this.opts.latencyMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, this.opts.latencyMs));
    const data = await Promise.all(Array.from({ length: plan.n }, (_, i) => this.image(plan, i)));
    this.generations += 1;
    return jsonResponse(200, { created: Math.floor(Date.now() / 1000), credits: cost, data });
  }

  private async image(plan: Plan, variant: number): Promise<Record<string, string>> {
    const bytes =
      plan.format === 'svg'
        ? renderSvg(plan.width, plan.height, plan.prompt, variant)
        : await renderImage({
            width: plan.width,
            height: plan.height,
            format: plan.format,
            text: `recraft simulator · ${plan.model} · ${plan.prompt}`,
            variant,
          });
    const imageId = randomUUID();
    if (plan.answer === 'b64_json') return { image_id: imageId, b64_json: bytes.toString('base64') };
    return { image_id: imageId, url: this.host(imageId, plan.format, bytes) };
  }

  private host(imageId: string, format: Plan['format'], bytes: Buffer): string {
    const name = `${imageId}.${format}`;
    const url = `${publicOrigin(this.opts.publicBaseUrl, 'recraft')}/files/${name}`;
    return this.hosted.host(name, url, bytes, CONTENT_TYPES[format], this.opts.urlTtlMs ?? DAY_MS);
  }

  private file(name: string): SimResponse {
    return this.hosted.serve(name, () => text(404, '404 page not found'));
  }
}

const CONTENT_TYPES: Readonly<Record<Plan['format'], string>> = { png: 'image/png', webp: 'image/webp', svg: 'image/svg+xml' };

/** The body as Recraft reads it, or the 400's message. */
function readPlan(value: unknown): Plan | string {
  if (!isObject(value)) return 'request body must be a JSON object';
  const unknown = Object.keys(value).find((key) => !KNOWN_FIELDS.has(key));
  if (unknown !== undefined) return `unknown parameter: ${unknown}`;
  const { prompt, model = DEFAULT_MODEL, n = 1, size, style, substyle, style_id: styleId, response_format: answer = 'url', image_format: imageFormat } = value;
  if (typeof model !== 'string' || !Object.hasOwn(RECRAFT_SIM_MODELS, model)) return `invalid model: ${JSON.stringify(model)}`;
  const spec = RECRAFT_SIM_MODELS[model] as RecraftSimModel;
  if (typeof prompt !== 'string' || prompt.trim() === '') return 'prompt is required';
  if (prompt.length > spec.maxPromptChars) return `prompt is too long: at most ${spec.maxPromptChars} characters for ${model}`;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 6) return 'n must be an integer between 1 and 6';
  const dims = sizeOf(size, spec);
  if (typeof dims === 'string') return dims;
  const styleProblem = checkStyle(style, substyle, styleId, model, spec);
  if (styleProblem) return styleProblem;
  if (answer !== 'url' && answer !== 'b64_json') return `invalid response_format: ${JSON.stringify(answer)}`;
  if (imageFormat !== undefined && spec.vector) return `image_format is not supported for vector model ${model}`;
  if (imageFormat !== undefined && imageFormat !== 'png' && imageFormat !== 'webp') return `invalid image_format: ${JSON.stringify(imageFormat)}`;
  if (value.block_nsfw !== undefined && typeof value.block_nsfw !== 'boolean') return 'block_nsfw must be a boolean';
  const format = spec.vector ? 'svg' : imageFormat === 'webp' ? 'webp' : 'png';
  return { model, spec, prompt, n, ...dims, answer, format };
}

/** WxH from the model's list, or an aspect ratio w:h one of them has; default 1:1 (its first size). */
function sizeOf(size: unknown, spec: RecraftSimModel): { width: number; height: number } | string {
  const chosen = size === undefined ? spec.sizes[0] : typeof size === 'string' ? matchSize(size.trim(), spec.sizes) : undefined;
  const [width, height] = (chosen ?? '').split('x').map(Number);
  if (chosen === undefined || width === undefined || height === undefined) return `invalid size: ${JSON.stringify(size)}; supported: ${spec.sizes.join(', ')}`;
  return { width, height };
}

function matchSize(size: string, sizes: readonly string[]): string | undefined {
  if (sizes.includes(size)) return size;
  const ratio = /^(\d+):(\d+)$/.exec(size);
  if (!ratio) return undefined;
  const wanted = Number(ratio[1]) / Number(ratio[2]);
  return sizes.find((s) => {
    const [w, h] = s.split('x').map(Number);
    return w !== undefined && h !== undefined && Math.abs(w / h / wanted - 1) < 0.02;
  });
}

function checkStyle(style: unknown, substyle: unknown, styleId: unknown, model: string, spec: RecraftSimModel): string | undefined {
  if (styleId !== undefined && (typeof styleId !== 'string' || !UUID.test(styleId))) return 'style_id must be a UUID';
  if (styleId !== undefined && style !== undefined) return 'style and style_id are mutually exclusive';
  if (substyle !== undefined && style === undefined) return 'substyle needs a style';
  if (style === undefined) return undefined;
  if (spec.styles.length === 0) return `styles are not supported for ${model}`;
  if (typeof style !== 'string' || !spec.styles.includes(style)) {
    const other = typeof style === 'string' && VECTOR_STYLES.has(style) !== spec.vector;
    const hint = other ? ` (${style} is a ${spec.vector ? 'raster' : 'vector'} style: use a ${spec.vector ? 'raster' : '_vector'} model)` : '';
    return `invalid style ${JSON.stringify(style)} for ${model}${hint}; supported: ${spec.styles.join(', ')}`;
  }
  if (substyle !== undefined && (typeof substyle !== 'string' || !SUBSTYLES.has(substyle))) return `invalid substyle: ${JSON.stringify(substyle)}`;
  return undefined;
}

/** A small valid SVG of the asked size: a background, two shapes and the prompt (escaped). */
export function renderSvg(width: number, height: number, prompt: string, variant = 0): Buffer {
  const hue = (variant * 67 + prompt.length * 13) % 360;
  const words = escapeXml(prompt.length > 80 ? `${prompt.slice(0, 77)}...` : prompt);
  const r = Math.round(Math.min(width, height) / 4);
  const svg = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="hsl(${hue},60%,85%)"/>`,
    `<circle cx="${Math.round(width / 2)}" cy="${Math.round(height / 2.4)}" r="${r}" fill="hsl(${(hue + 180) % 360},55%,45%)"/>`,
    `<path d="M0 ${height} L${Math.round(width / 2)} ${Math.round(height * 0.7)} L${width} ${height} Z" fill="hsl(${(hue + 90) % 360},45%,35%)"/>`,
    `<text x="50%" y="${Math.round(height * 0.92)}" text-anchor="middle" font-family="sans-serif" font-size="${Math.max(12, Math.round(height / 40))}">${words}</text>`,
    '</svg>',
  ].join('\n');
  return Buffer.from(svg, 'utf8');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function error(status: number, code: string, message: string, headers: Record<string, string> = {}): SimResponse {
  const answer = jsonResponse(status, { code, message });
  return answer.kind === 'full' ? { ...answer, headers: { ...answer.headers, ...headers } } : answer;
}

function text(status: number, body: string, headers: Record<string, string> = {}): SimResponse {
  return { kind: 'full', status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body: Buffer.from(body, 'utf8') };
}

function faultResponse(fault: RecraftFault): SimResponse {
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  if (fault.text !== undefined) return text(fault.status, fault.text, headers);
  return error(fault.status, fault.code ?? `http_${fault.status}`, fault.message ?? `simulated status ${fault.status}`, headers);
}

export type RunningRecraftSimulator = RunningServer<RecraftSimulator> & {
  /** `${origin}/v1`: what a recraft channel's base_url points at. */
  baseURL: string;
};

export async function startRecraftSimulator(opts: RecraftSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningRecraftSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer((origin) => new RecraftSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
  return { ...running, baseURL: `${running.origin}/v1` };
}
