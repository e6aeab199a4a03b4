// A simulator of Stability AI's v2beta Stable Image REST API (api.stability.ai), written from its
// API reference (platform.stability.ai/docs/api-reference: Generate Ultra, Core, SD3; Edit Inpaint,
// Search and Replace; Errors) and its pricing (credits, $0.01 each):
// - POST /v2beta/stable-image/generate/{ultra,core,sd3} and /v2beta/stable-image/edit/{inpaint,
//   search-and-replace}, `Authorization: Bearer <key>`, multipart/form-data only (a JSON body is
//   400 `content-type: must be multipart/form-data`). Fields as the reference lists them: prompt
//   (1-10,000 characters), negative_prompt, aspect_ratio (16:9 1:1 21:9 2:3 3:2 4:5 5:4 9:16 9:21),
//   seed (0-4294967294), output_format (jpeg, png, webp), style_preset (ultra, core, its 17 names),
//   model (sd3: sd3.5-large, sd3.5-large-turbo, sd3.5-medium, sd3.5-flash), mode (sd3:
//   text-to-image, or image-to-image, which needs image and strength), image + strength (ultra,
//   sd3), cfg_scale (sd3, 1-10), mask and grow_mask (inpaint: the mask's white is redrawn; without
//   one, the image's transparency), search_prompt (search-and-replace, required). A field the
//   endpoint does not list is refused (400), so a gateway that leaks one is caught: Stability's
//   reference does not say it refuses unknown fields, this is the simulator's strictness.
// - The answer: `Accept: image/*` (the default) gives the image's bytes, content-type its format,
//   headers `finish-reason` (SUCCESS | CONTENT_FILTERED) and `seed`; `Accept: application/json`
//   gives `{image: base64, finish_reason, seed}`. Images are real (sharp): Ultra and SD3 at the
//   ratio's ~1 megapixel size (1:1 1024x1024, 16:9 1344x768...), Core at ~1.5 megapixels in the
//   same ratio, image-to-image and the edits in their input's shape.
// - Errors are `{id, name, errors: ["field: message"]}`: 400 bad_request (the field first), 401
//   unauthorized (a missing or wrong key), 402 payment_required (the account's `credits` do not
//   cover the call), 403 content_moderation (a prompt holding `[sim:moderation]`), 413
//   payload_too_large (a body over 10 MiB), 429 rate_limit_exceeded and any other status through
//   `enqueueFault`. `[sim:filtered]` in the prompt answers 200 with finish-reason CONTENT_FILTERED
//   (Stability returns the blurred image so flagged). Failed calls cost no credits.
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { STABILITY_RATIO_SIZES, STABILITY_STYLE_PRESETS } from '../src/core/catalogue/stability.js';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { describeForm, isMultipart, parseMultipart, type FormFile, type MultipartForm, type RecordedForm } from './multipart.js';
import { MAX_INPUT_PIXELS, renderEdit, renderImage, type ImageFormat } from './render.js';
import { bearerToken, headerValue, jsonResponse } from './wire.js';

type Service = 'ultra' | 'core' | 'sd3' | 'inpaint' | 'search-and-replace';

const PATHS: Readonly<Record<string, Service>> = {
  '/v2beta/stable-image/generate/ultra': 'ultra',
  '/v2beta/stable-image/generate/core': 'core',
  '/v2beta/stable-image/generate/sd3': 'sd3',
  '/v2beta/stable-image/edit/inpaint': 'inpaint',
  '/v2beta/stable-image/edit/search-and-replace': 'search-and-replace',
};

const COMMON = ['prompt', 'negative_prompt', 'seed', 'output_format'];
/** The text fields each endpoint's reference lists (files: image, mask). */
const FIELDS: Readonly<Record<Service, readonly string[]>> = {
  ultra: [...COMMON, 'aspect_ratio', 'style_preset', 'strength'],
  core: [...COMMON, 'aspect_ratio', 'style_preset'],
  sd3: [...COMMON, 'aspect_ratio', 'model', 'mode', 'strength', 'cfg_scale'],
  inpaint: [...COMMON, 'grow_mask', 'style_preset'],
  'search-and-replace': [...COMMON, 'search_prompt', 'grow_mask', 'style_preset'],
};
const FILES: Readonly<Record<Service, readonly string[]>> = {
  ultra: ['image'],
  core: [],
  sd3: ['image'],
  inpaint: ['image', 'mask'],
  'search-and-replace': ['image'],
};

/** Credits per successful call (Stability's pricing). */
export const STABILITY_SIM_CREDITS: Readonly<Record<string, number>> = {
  ultra: 8,
  core: 3,
  'sd3.5-large': 6.5,
  'sd3.5-large-turbo': 4,
  'sd3.5-medium': 3.5,
  'sd3.5-flash': 2.5,
  inpaint: 5,
  'search-and-replace': 5,
};
const SD3_MODELS = ['sd3.5-large', 'sd3.5-large-turbo', 'sd3.5-medium', 'sd3.5-flash'];
const FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp'];
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MAX_SEED = 4_294_967_294;
/** Core's images are about 1.5 megapixels: the 1-megapixel size scaled by its square root, to multiples of 64. */
const CORE_SCALE = Math.sqrt(1.5);
const MODERATION_MESSAGE = 'Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.';

export interface StabilitySimulatorOptions {
  /** When set, the API wants `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** The account's credits; undefined: unlimited. A call they do not cover is a 402. */
  credits?: number;
  /** Added before every generation (default 0). */
  latencyMs?: number;
}

/** A scripted answer for the next call(s), after the key check. */
export interface StabilityFault {
  status: number;
  name?: string;
  errors?: string[];
  retryAfterSeconds?: number;
}

export interface StabilityRecordedCall {
  service: Service;
  headers: Record<string, string | undefined>;
  /** The form as sent (files by size and hash); undefined when the body was not multipart. */
  form?: RecordedForm;
  /** The mask part's bytes (inpaint), so a test can look at it. */
  mask?: Buffer;
}

interface Plan {
  service: Service;
  prompt: string;
  format: ImageFormat;
  width: number;
  height: number;
  credits: number;
  image?: Buffer;
  /** OpenAI's convention (transparent = edited), for render.ts. */
  editArea?: Buffer;
  seed: number;
}

export class StabilitySimulator implements SimHandler {
  /** Every call to an API path, oldest first. */
  readonly calls: StabilityRecordedCall[] = [];
  /** Calls that produced an image. */
  generations = 0;
  aborted = 0;
  credits: number | undefined;
  private readonly faults: StabilityFault[] = [];

  constructor(private readonly opts: StabilitySimulatorOptions = {}) {
    this.credits = opts.credits;
  }

  enqueueFault(...faults: StabilityFault[]): void {
    this.faults.push(...faults);
  }

  /** The text fields of each call's form, oldest first. */
  get forms(): Record<string, string | string[]>[] {
    return this.calls.map((call) => call.form?.fields ?? {});
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://stability-simulator.invalid');
    const service = PATHS[url.pathname];
    if (req.method.toUpperCase() !== 'POST' || service === undefined) return stabilityError(404, 'not_found', [`${url.pathname}: not found`]);
    const contentType = headerValue(req.headers, 'content-type');
    const form = isMultipart(contentType) ? await parseMultipart(req.body, contentType ?? '').catch(() => undefined) : undefined;
    const mask = form?.files.find((file) => file.field === 'mask')?.bytes;
    this.calls.push({ service, headers: { ...req.headers }, ...(form ? { form: describeForm(form) } : {}), ...(mask ? { mask } : {}) });
    if (this.calls.length > 10_000) this.calls.splice(0, 1_000);
    if (this.opts.apiKey !== undefined && bearerToken(req.headers) !== this.opts.apiKey) {
      return stabilityError(401, 'unauthorized', ['authorization: invalid or missing header value']);
    }
    if (req.body.length > MAX_BODY_BYTES) return stabilityError(413, 'payload_too_large', ['body: payloads cannot be larger than 10MiB in size']);
    if (form === undefined) return stabilityError(400, 'bad_request', ['content-type: must be multipart/form-data']);
    const accept = headerValue(req.headers, 'accept') ?? 'image/*';
    if (accept !== 'image/*' && accept !== 'application/json') return stabilityError(400, 'bad_request', ['accept: must be image/* or application/json']);
    const fault = this.faults.shift();
    if (fault) return faultResponse(fault);
    const plan = await readPlan(service, form);
    if (typeof plan === 'string') return stabilityError(400, 'bad_request', [plan]);
    if (plan.prompt.includes('[sim:moderation]')) return stabilityError(403, 'content_moderation', [MODERATION_MESSAGE]);
    if (this.credits !== undefined && this.credits < plan.credits) {
      return stabilityError(402, 'payment_required', [
        'You lack sufficient credits to make this request. Please purchase more credits at https://platform.stability.ai/account/credits and try again.',
      ]);
    }
    if (this.credits !== undefined) this.credits -= plan.credits;
    if ((this.opts.latencyMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, this.opts.latencyMs));
    const bytes = await draw(plan);
    this.generations += 1;
    const finishReason = plan.prompt.includes('[sim:filtered]') ? 'CONTENT_FILTERED' : 'SUCCESS';
    if (accept === 'application/json') return jsonResponse(200, { image: bytes.toString('base64'), finish_reason: finishReason, seed: plan.seed });
    return {
      kind: 'full',
      status: 200,
      headers: { 'content-type': `image/${plan.format}`, 'finish-reason': finishReason, seed: String(plan.seed) },
      body: bytes,
    };
  }
}

/** The form as the endpoint reads it, or the 400's first error (`field: message`). */
async function readPlan(service: Service, form: MultipartForm): Promise<Plan | string> {
  const fields = form.fields;
  const unknown = Object.keys(fields).find((name) => !FIELDS[service].includes(name));
  if (unknown !== undefined) return `${unknown}: is not a field of this endpoint`;
  const strayFile = form.files.find((file) => !FILES[service].includes(file.field));
  if (strayFile !== undefined) return `${strayFile.field}: is not a file field of this endpoint`;
  const repeated = Object.entries(fields).find(([, value]) => Array.isArray(value));
  if (repeated) return `${repeated[0]}: must be given once`;
  const text = (name: string): string | undefined => {
    const value = fields[name];
    return typeof value === 'string' ? value : undefined;
  };
  const prompt = text('prompt') ?? '';
  if (prompt.trim() === '') return 'prompt: cannot be empty';
  if (prompt.length > 10_000) return 'prompt: must be at most 10000 characters';
  const format = text('output_format') ?? 'png';
  if (!(FORMATS as readonly string[]).includes(format)) return `output_format: must be one of ${FORMATS.join(', ')}`;
  const seed = text('seed') === undefined ? 0 : Number(text('seed'));
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) return `seed: must be an integer from 0 to ${MAX_SEED}`;
  const style = text('style_preset');
  if (style !== undefined && !(STABILITY_STYLE_PRESETS as readonly string[]).includes(style))
    return `style_preset: must be one of ${STABILITY_STYLE_PRESETS.join(', ')}`;
  const ratio = text('aspect_ratio') ?? '1:1';
  if (!Object.hasOwn(STABILITY_RATIO_SIZES, ratio)) return `aspect_ratio: must be one of ${Object.keys(STABILITY_RATIO_SIZES).join(', ')}`;
  const image = form.files.find((file) => file.field === 'image');
  const base = { service, prompt, format: format as ImageFormat, seed: seed === 0 ? Math.floor(Math.random() * MAX_SEED) : seed };

  if (service === 'inpaint' || service === 'search-and-replace') {
    if (image === undefined) return 'image: is required';
    if (service === 'search-and-replace' && (text('search_prompt') ?? '').trim() === '') return 'search_prompt: is required';
    const growMask = text('grow_mask');
    if (growMask !== undefined && !(Number(growMask) >= 0 && Number(growMask) <= 100)) return 'grow_mask: must be a number from 0 to 100';
    const input = await inputImage(image);
    if (typeof input === 'string') return input;
    const maskFile = form.files.find((file) => file.field === 'mask');
    const editArea = service === 'inpaint' ? await editAreaOf(maskFile, input) : undefined;
    if (typeof editArea === 'string') return editArea;
    return {
      ...base,
      width: input.width,
      height: input.height,
      image: input.bytes,
      ...(editArea ? { editArea } : {}),
      credits: STABILITY_SIM_CREDITS[service] ?? 0,
    };
  }

  const model = service === 'sd3' ? (text('model') ?? 'sd3.5-large') : service;
  if (service === 'sd3' && !SD3_MODELS.includes(model)) return `model: must be one of ${SD3_MODELS.join(', ')}`;
  const mode = service === 'sd3' ? (text('mode') ?? 'text-to-image') : image ? 'image-to-image' : 'text-to-image';
  if (mode !== 'text-to-image' && mode !== 'image-to-image') return 'mode: must be text-to-image or image-to-image';
  const cfg = text('cfg_scale');
  if (cfg !== undefined && !(Number(cfg) >= 1 && Number(cfg) <= 10)) return 'cfg_scale: must be a number from 1 to 10';
  const credits = STABILITY_SIM_CREDITS[model] ?? 0;
  if (mode === 'image-to-image') {
    if (image === undefined) return 'image: is required for image-to-image';
    const strength = text('strength');
    if (strength === undefined || !(Number(strength) >= 0 && Number(strength) <= 1)) return 'strength: is required with an image, a number from 0 to 1';
    if (text('aspect_ratio') !== undefined) return 'aspect_ratio: is not used in image-to-image mode';
    const input = await inputImage(image);
    if (typeof input === 'string') return input;
    return { ...base, width: input.width, height: input.height, image: input.bytes, credits };
  }
  if (image !== undefined) return 'image: is only used in image-to-image mode';
  if (text('strength') !== undefined) return 'strength: is only used with an image';
  const [width, height] = (STABILITY_RATIO_SIZES[ratio as keyof typeof STABILITY_RATIO_SIZES] as string).split('x').map(Number) as [number, number];
  const scale = service === 'core' ? CORE_SCALE : 1;
  return { ...base, width: round64(width * scale), height: round64(height * scale), credits };
}

/** An input image: JPEG, PNG or WebP, 64 px a side at least, 9,437,184 pixels at most. */
async function inputImage(file: FormFile): Promise<{ bytes: Buffer; width: number; height: number } | string> {
  const meta = await sharp(file.bytes, { limitInputPixels: MAX_INPUT_PIXELS })
    .metadata()
    .catch(() => undefined);
  if (!meta?.width || !meta.height || !['png', 'jpeg', 'webp'].includes(meta.format ?? '')) return `${file.field}: must be a jpeg, png or webp image`;
  if (meta.width < 64 || meta.height < 64 || meta.width * meta.height > 9_437_184)
    return `${file.field}: must be at least 64 pixels a side and at most 9,437,184 pixels`;
  return { bytes: file.bytes, width: meta.width, height: meta.height };
}

/**
 * Stability's mask (white: redrawn, black: kept; resized to the image) as render.ts's OpenAI
 * convention (transparent: edited); without one, the image's own alpha is the edit area.
 */
async function editAreaOf(mask: FormFile | undefined, image: { bytes: Buffer; width: number; height: number }): Promise<Buffer | string> {
  const { width, height } = image;
  if (mask === undefined) {
    const meta = await sharp(image.bytes).metadata();
    if (meta.hasAlpha !== true) return 'mask: is required when the image has no alpha channel';
    return image.bytes;
  }
  const alpha = await sharp(mask.bytes, { limitInputPixels: MAX_INPUT_PIXELS })
    .resize(width, height, { fit: 'fill' })
    .greyscale()
    .negate({ alpha: false })
    .extractChannel(0)
    .raw()
    .toBuffer()
    .catch(() => undefined);
  if (alpha === undefined) return 'mask: must be an image';
  return sharp(Buffer.alloc(width * height * 3, 255), { raw: { width, height, channels: 3 } })
    .joinChannel(alpha, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

function draw(plan: Plan): Promise<Buffer> {
  const text = `stability simulator · ${plan.service} · ${plan.prompt}`;
  if (plan.image === undefined) return renderImage({ width: plan.width, height: plan.height, format: plan.format, text });
  return renderEdit({
    width: plan.width,
    height: plan.height,
    format: plan.format,
    text,
    inputs: [plan.image],
    ...(plan.editArea ? { mask: plan.editArea } : {}),
  });
}

function round64(value: number): number {
  return Math.max(64, Math.round(value / 64) * 64);
}

function stabilityError(status: number, name: string, errors: string[], headers: Record<string, string> = {}): SimResponse {
  const answer = jsonResponse(status, { id: randomUUID().replace(/-/g, ''), name, errors });
  return answer.kind === 'full' ? { ...answer, headers: { ...answer.headers, ...headers } } : answer;
}

function faultResponse(fault: StabilityFault): SimResponse {
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  return stabilityError(fault.status, fault.name ?? `http_${fault.status}`, fault.errors ?? [`simulated status ${fault.status}`], headers);
}

export type RunningStabilitySimulator = RunningServer<StabilitySimulator>;

/** A stability channel's base_url is the simulator's origin (Stability's is https://api.stability.ai). */
export function startStabilitySimulator(opts: StabilitySimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningStabilitySimulator> {
  const { host, port, ...simOpts } = opts;
  return startSimulatorServer(() => new StabilitySimulator(simOpts), { host, port });
}
