// Request parsing for the OpenAI simulator's image edits (multipart and JSON) and variations.
// Inputs are checked by content the way OpenAI documents them (CreateImageEditRequest,
// EditImageBodyJsonParam, CreateImageVariationRequest), then become plans like generations'.
import sharp from 'sharp';
import type { FormFile, MultipartForm } from '../multipart.js';
import { MAX_INPUT_PIXELS } from '../render.js';
import { modelSpec, servedModels } from './models.js';
import {
  invalidRequest,
  invalidValue,
  isObject,
  readCount,
  readDalleResponseFormat,
  readEnum,
  readInteger,
  readPrompt,
  readStream,
  readString,
  rejectUnknownParams,
  resolveGptOutput,
  resolveQuality,
  resolveSize,
  typeError,
  withRelay,
  type Family,
  type GenerationPlan,
  type GptOutput,
  type JsonObject,
  type ModelSpec,
  type RelayOption,
  type SimApiError,
} from './params.js';

export type InputFormat = 'png' | 'jpeg' | 'webp';

/** An input image that passed the content checks. */
export interface InputImage {
  bytes: Buffer;
  format: InputFormat;
  width: number;
  height: number;
  hasAlpha: boolean;
}

export interface EditPlan extends GenerationPlan {
  /** At least one; the first is the one edited (and the one a mask applies to). */
  inputs: InputImage[];
  mask: InputImage | undefined;
}

export interface VariationPlan extends GenerationPlan {
  input: InputImage;
}

// ---------------------------------------------------------------------------
// Limits and parameter lists from the spec

/** Spec: "Defaults to gpt-image-1.5" for edits (generations default to dall-e-2 instead). */
const DEFAULT_EDIT_MODEL = 'gpt-image-1.5';
const MAX_GPT_IMAGES = 16;
const MB = 1024 * 1024;
const MAX_GPT_IMAGE_BYTES = 50 * MB;
const MAX_DALLE_IMAGE_BYTES = 4 * MB;
const MAX_MASK_BYTES = 4 * MB;
const DALLE_OUTPUT: GptOutput = { format: 'png', compression: 100, background: 'opaque' };

const EDIT_SCALAR_PARAMS = [
  'prompt',
  'model',
  'n',
  'size',
  'quality',
  'input_fidelity',
  'background',
  'output_format',
  'output_compression',
  'moderation',
  'user',
  'stream',
  'partial_images',
];
/** Multipart: the scalars plus the file parts (checked for being files separately). */
const MULTIPART_EDIT_PARAMS: ReadonlySet<string> = new Set([...EDIT_SCALAR_PARAMS, 'response_format', 'image', 'image[]', 'mask']);
/** EditImageBodyJsonParam has no response_format: GPT models only answer b64_json. */
const JSON_EDIT_PARAMS: ReadonlySet<string> = new Set([...EDIT_SCALAR_PARAMS, 'images', 'mask']);
const VARIATION_PARAMS: ReadonlySet<string> = new Set(['image', 'model', 'n', 'response_format', 'size', 'user']);
const VARIATION_SIZES = ['256x256', '512x512', '1024x1024'] as const;

/** Multipart values are all strings; these are read as the spec's integers and booleans. */
const INTEGER_FIELDS: ReadonlySet<string> = new Set(['n', 'output_compression', 'partial_images']);
const BOOLEAN_FIELDS: ReadonlySet<string> = new Set(['stream']);

/**
 * Image-token approximation (OpenAI's pricing notes for gpt-image-1/1.5): a 1024x1024 input
 * costs about 135 tokens at low input fidelity and about 3,050 at high. Other sizes scale by
 * pixel area, capped at 2048x2048 (larger inputs are downscaled first), at least 1 token per
 * image. gpt-image-2 always works at high fidelity. Masks are not counted.
 */
const IMAGE_TOKENS_1024 = { low: 135, high: 3050 } as const;
const IMAGE_TOKEN_MAX_PIXELS = 2048 * 2048;

/** A not-yet-checked input image and how errors about it are labelled. */
interface ImageSource {
  bytes: Buffer;
  /** The error's `param`. */
  param: string;
  /** How messages name it, e.g. `image 'photo.png'`, `images[1]` or `mask`. */
  label: string;
}

type Fidelity = 'low' | 'high';

// ---------------------------------------------------------------------------
// Entry points

/** POST /v1/images/edits with multipart/form-data, as the SDKs send it. */
export async function parseMultipartEdit(form: MultipartForm, relay: RelayOption | undefined): Promise<EditPlan> {
  const body = formFieldsAsJson(form.fields);
  rejectTextFileFields(body, ['image', 'image[]', 'mask']);
  const model = readString(body, 'model') ?? DEFAULT_EDIT_MODEL;
  const spec = editModelSpec(model, relay);
  // Relays are lenient: they forward what they understand and ignore the rest.
  if (relay === undefined) {
    rejectUnknownParams(body, MULTIPART_EDIT_PARAMS, spec.family);
    rejectUnknownFiles(form.files, MULTIPART_EDIT_PARAMS);
  }
  const prompt = readPrompt(body, spec);
  const images = form.files.filter((f) => f.field === 'image' || f.field === 'image[]').map((f) => fileSource(f, 'image'));
  if (images.length === 0) throw missing('image');
  const maskFiles = form.files.filter((f) => f.field === 'mask');
  if (maskFiles.length > 1) throw invalidRequest(`Expected one file for 'mask', but got ${maskFiles.length}.`, 'mask', 'invalid_value');
  const mask = maskFiles[0] !== undefined ? fileSource(maskFiles[0], 'mask') : undefined;
  return editPlan({ body, model, spec, prompt, images, imagesParam: 'image', mask }, relay);
}

/** POST /v1/images/edits with application/json (EditImageBodyJsonParam): GPT image models only. */
export async function parseJsonEdit(body: JsonObject, relay: RelayOption | undefined): Promise<EditPlan> {
  const model = readString(body, 'model') ?? DEFAULT_EDIT_MODEL;
  const spec = editModelSpec(model, relay);
  if (spec.family !== 'gpt') {
    throw invalidRequest(`JSON image edits support the GPT image models only; send '${model}' edits as multipart/form-data.`, 'model', 'invalid_value');
  }
  if (relay === undefined) rejectUnknownParams(body, JSON_EDIT_PARAMS, spec.family);
  const prompt = readPrompt(body, spec);
  const images = readImageRefs(body);
  const mask = body.mask === undefined || body.mask === null ? undefined : imageRefSource(body.mask, 'mask');
  return editPlan({ body, model, spec, prompt, images, imagesParam: 'images', mask }, relay);
}

/** POST /v1/images/variations (multipart only): dall-e-2, one square PNG. */
export async function parseVariation(form: MultipartForm, relay: RelayOption | undefined): Promise<VariationPlan> {
  const body = formFieldsAsJson(form.fields);
  rejectTextFileFields(body, ['image']);
  const model = readString(body, 'model') ?? 'dall-e-2';
  if (model !== 'dall-e-2') throw invalidValue('model', model, ['dall-e-2']);
  if (relay === undefined) {
    rejectUnknownParams(body, VARIATION_PARAMS, 'dall-e-2');
    rejectUnknownFiles(form.files, VARIATION_PARAMS);
  }
  const files = form.files.filter((f) => f.field === 'image');
  const file = files[0];
  if (file === undefined) throw missing('image');
  if (files.length > 1) throw invalidRequest(`Expected one file for 'image', but got ${files.length}.`, 'image', 'invalid_value');
  const n = readInteger(body, 'n', 1, 10) ?? 1;
  const size = readEnum(body, 'size', VARIATION_SIZES) ?? '1024x1024';
  const answer = readDalleResponseFormat(body, relay);
  readString(body, 'user');
  const source = fileSource(file, 'image');
  const input = await inspectImage(source);
  checkDalleImage(input, source, { needsAlpha: false });
  const side = Number(size.split('x')[0]);
  const plan: VariationPlan = {
    model,
    family: 'dall-e-2',
    prompt: '',
    n,
    width: side,
    height: side,
    quality: 'standard',
    ...DALLE_OUTPUT,
    answer,
    input,
  };
  return withRelay(plan, relay);
}

// ---------------------------------------------------------------------------
// The shared edit plan

interface EditRequest {
  body: JsonObject;
  model: string;
  spec: ModelSpec;
  prompt: string;
  images: ImageSource[];
  /** How the image list is named in count errors: `image` (multipart) or `images` (JSON). */
  imagesParam: string;
  mask: ImageSource | undefined;
}

async function editPlan(req: EditRequest, relay: RelayOption | undefined): Promise<EditPlan> {
  const { body, model, spec } = req;
  checkImageCount(req.images.length, spec.family, req.imagesParam);
  const n = readCount(body, spec.family);
  const quality = resolveQuality(body, spec);
  const stream = readStream(body, spec.family, relay);
  readString(body, 'user');
  const fidelity = readInputFidelity(body, model, spec, relay);
  const output = spec.family === 'gpt' ? resolveGptOutput(body, relay) : DALLE_OUTPUT;
  const answer = spec.family === 'gpt' ? 'b64_json' : readDalleResponseFormat(body, relay);
  const inputs = await Promise.all(req.images.map((source) => inspectInput(source, spec, req.mask === undefined)));
  const first = inputs[0];
  if (first === undefined) throw missing(req.imagesParam); // checkImageCount already ensured one
  const mask = req.mask !== undefined ? await inspectMask(req.mask, first) : undefined;
  const { width, height } = resolveEditSize(body, spec, first);
  const plan: EditPlan = {
    model,
    family: spec.family,
    prompt: req.prompt,
    n,
    width,
    height,
    quality,
    ...output,
    answer,
    inputs,
    mask,
  };
  if (spec.family === 'gpt') plan.inputImageTokens = imageTokens(inputs, fidelity);
  if (stream !== undefined) plan.stream = stream;
  return withRelay(plan, relay);
}

/** Every model but dall-e-3, which has no edits endpoint. */
function editModelSpec(model: string, relay: RelayOption | undefined): ModelSpec {
  const spec = modelSpec(model, relay !== undefined);
  if (spec === undefined || spec.family === 'dall-e-3') {
    const editModels = servedModels(relay !== undefined).filter((m) => m.family !== 'dall-e-3');
    throw invalidValue(
      'model',
      model,
      editModels.map((m) => m.id),
    );
  }
  return spec;
}

function checkImageCount(count: number, family: Family, param: string): void {
  if (family === 'gpt' && count > MAX_GPT_IMAGES) {
    throw invalidRequest(
      `Invalid '${param}': array too long. Expected an array with maximum length ${MAX_GPT_IMAGES}, but got an array with length ${count} instead.`,
      param,
      'array_above_max_length',
    );
  }
  if (family === 'dall-e-2' && count > 1) {
    throw invalidRequest(`dall-e-2 edits take exactly one image, but got ${count}.`, param, 'invalid_value');
  }
}

/** Spec: only gpt-image-1, gpt-image-1.5 and later; gpt-image-1-mini supports only `low`. */
function readInputFidelity(body: JsonObject, model: string, spec: ModelSpec, relay: RelayOption | undefined): Fidelity {
  const value = readEnum(body, 'input_fidelity', ['high', 'low'] as const);
  if (spec.family !== 'gpt') {
    if (value !== undefined && relay === undefined) {
      throw invalidRequest('input_fidelity is only supported for the GPT image models.', 'input_fidelity', 'unsupported_parameter');
    }
    return 'low';
  }
  if (model === 'gpt-image-1-mini' && value === 'high') {
    throw invalidRequest("input_fidelity 'high' is not supported for gpt-image-1-mini.", 'input_fidelity', 'unsupported_value');
  }
  return model.startsWith('gpt-image-2') ? 'high' : (value ?? 'low');
}

/** GPT `auto` follows the first input's aspect; explicit sizes are checked as generations'. */
function resolveEditSize(body: JsonObject, spec: ModelSpec, first: InputImage): { width: number; height: number } {
  const size = readString(body, 'size') ?? (spec.family === 'gpt' ? 'auto' : '1024x1024');
  if (spec.family === 'gpt' && size === 'auto') return sizeForAspect(first.width, first.height);
  return resolveSize({ ...body, size }, spec);
}

/** The standard GPT size nearest the aspect (boundaries at the geometric means of the ratios). */
function sizeForAspect(width: number, height: number): { width: number; height: number } {
  const ratio = width / height;
  const boundary = Math.sqrt(1.5);
  if (ratio > boundary) return { width: 1536, height: 1024 };
  if (ratio < 1 / boundary) return { width: 1024, height: 1536 };
  return { width: 1024, height: 1024 };
}

function imageTokens(inputs: readonly InputImage[], fidelity: Fidelity): number {
  const per1024 = IMAGE_TOKENS_1024[fidelity];
  const tokens = (image: InputImage): number =>
    Math.max(1, Math.round((per1024 * Math.min(image.width * image.height, IMAGE_TOKEN_MAX_PIXELS)) / (1024 * 1024)));
  return inputs.reduce((sum, image) => sum + tokens(image), 0);
}

// ---------------------------------------------------------------------------
// Multipart fields and files

/** Text parts as the JSON readers expect them: integers and booleans parsed, repeats kept as arrays. */
function formFieldsAsJson(fields: Record<string, string | string[]>): JsonObject {
  // fromEntries defines own properties, so a field named `__proto__` stays a field.
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, Array.isArray(value) ? value : coerceField(key, value)]));
}

/** Leaves unparseable values as strings so the readers word the type error. */
function coerceField(key: string, value: string): unknown {
  const trimmed = value.trim();
  if (INTEGER_FIELDS.has(key) && /^[+-]?\d+$/.test(trimmed)) return Number(trimmed);
  if (BOOLEAN_FIELDS.has(key) && /^(true|false)$/i.test(trimmed)) return trimmed.toLowerCase() === 'true';
  return value;
}

/** `image=some text` instead of a file part. */
function rejectTextFileFields(body: JsonObject, fileFields: readonly string[]): void {
  for (const key of fileFields) if (body[key] !== undefined) throw typeError(key, 'a file', body[key]);
}

function rejectUnknownFiles(files: readonly FormFile[], known: ReadonlySet<string>): void {
  const stray = files.find((file) => !known.has(file.field));
  if (stray !== undefined) throw invalidRequest(`Unknown parameter: '${stray.field}'.`, stray.field, 'unknown_parameter');
}

/** `param` is the error's param: `image` for image and image[] parts, `mask` for the mask. */
function fileSource(file: FormFile, param: 'image' | 'mask'): ImageSource {
  return { bytes: file.bytes, param, label: `${param} '${file.filename}'` };
}

function missing(param: string): SimApiError {
  return invalidRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
}

// ---------------------------------------------------------------------------
// JSON image references (ImageRefParam)

function readImageRefs(body: JsonObject): ImageSource[] {
  const refs = body.images;
  if (refs === undefined || refs === null) throw missing('images');
  if (!Array.isArray(refs)) throw typeError('images', 'an array', refs);
  if (refs.length === 0) {
    throw invalidRequest("Invalid 'images': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'images', 'empty_array');
  }
  // Count first: no point decoding 17 data URLs to reject them.
  checkImageCount(refs.length, 'gpt', 'images');
  return refs.map((ref: unknown, i) => imageRefSource(ref, `images[${i}]`));
}

/** Exactly one of `image_url` (a base64 data URL here) or `file_id` (no Files API here). */
function imageRefSource(ref: unknown, param: string): ImageSource {
  if (!isObject(ref)) throw typeError(param, 'an object', ref);
  const stray = Object.keys(ref).find((key) => key !== 'image_url' && key !== 'file_id');
  if (stray !== undefined) throw invalidRequest(`Unknown parameter: '${param}.${stray}'.`, `${param}.${stray}`, 'unknown_parameter');
  const { image_url: url, file_id: fileId } = ref;
  if (url !== undefined && fileId !== undefined) {
    throw invalidRequest(`Invalid '${param}': provide exactly one of 'image_url' or 'file_id', not both.`, param, 'invalid_value');
  }
  if (fileId !== undefined) {
    throw invalidRequest(
      `Invalid '${param}.file_id': the simulator has no Files API, so file IDs cannot be resolved. Send the image inline as a base64 data URL in 'image_url'.`,
      `${param}.file_id`,
      'invalid_value',
    );
  }
  if (url === undefined) throw missing(`${param}.image_url`);
  if (typeof url !== 'string') throw typeError(`${param}.image_url`, 'a string', url);
  return { bytes: decodeDataUrl(url, `${param}.image_url`), param, label: param };
}

const DATA_URL_PREFIX = /^data:[^,;]*(?:;[^,;]*)*;base64,/i;

function decodeDataUrl(url: string, param: string): Buffer {
  if (/^https?:\/\//i.test(url)) {
    throw invalidRequest(
      `Invalid '${param}': the simulator does not fetch remote URLs. Send the image inline as a base64 data URL (data:image/png;base64,...).`,
      param,
      'invalid_value',
    );
  }
  const prefix = DATA_URL_PREFIX.exec(url);
  const payload = prefix === null ? undefined : url.slice(prefix[0].length);
  if (payload === undefined || !/^[A-Za-z0-9+/_\-\s]*=*\s*$/.test(payload)) {
    throw invalidRequest(`Invalid '${param}': expected a base64 data URL (data:image/png;base64,...).`, param, 'invalid_value');
  }
  return Buffer.from(payload, 'base64');
}

// ---------------------------------------------------------------------------
// Image content checks

/** The format by magic bytes: what the file really is, whatever its name or declared type. */
function sniffFormat(bytes: Buffer): InputFormat | 'gif' | undefined {
  const starts = (signature: readonly number[], at = 0): boolean => signature.every((byte, i) => bytes[at + i] === byte);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (starts([0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
  if (starts([0x47, 0x49, 0x46, 0x38])) return 'gif';
  return undefined;
}

function badImage(source: ImageSource, why: string, code = 'invalid_image_format'): SimApiError {
  return invalidRequest(`Invalid ${source.label}: ${why}`, source.param, code);
}

/** A PNG, JPEG or WebP that sharp can read the header of, no larger than the renderer decodes. */
async function inspectImage(source: ImageSource): Promise<InputImage> {
  const format = sniffFormat(source.bytes);
  if (format === 'gif') throw badImage(source, "format 'gif' is not supported. Supported formats are 'png', 'jpeg', and 'webp'.");
  if (format === undefined) throw badImage(source, "the file is not an image. Supported formats are 'png', 'jpeg', and 'webp'.");
  let meta: sharp.Metadata;
  try {
    // Header only, uncapped: a size past the cap is refused below with a clear message, before
    // the renderer (capped at the same bound) decodes anything.
    meta = await sharp(source.bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw badImage(source, 'the image could not be decoded.');
  }
  if (meta.width === undefined || meta.height === undefined) throw badImage(source, 'the image could not be decoded.');
  if (meta.width * meta.height > MAX_INPUT_PIXELS) {
    const limit = MAX_INPUT_PIXELS.toLocaleString('en-US');
    throw badImage(source, `the image is ${meta.width}x${meta.height}; at most ${limit} pixels are accepted.`, 'invalid_image_dimensions');
  }
  return { bytes: source.bytes, format, width: meta.width, height: meta.height, hasAlpha: meta.hasAlpha === true };
}

/** The per-model rules of CreateImageEditRequest.image. */
async function inspectInput(source: ImageSource, spec: ModelSpec, withoutMask: boolean): Promise<InputImage> {
  const image = await inspectImage(source);
  if (spec.family === 'dall-e-2') checkDalleImage(image, source, { needsAlpha: withoutMask });
  else if (image.bytes.length >= MAX_GPT_IMAGE_BYTES) throw badImage(source, 'each image must be smaller than 50 MB.', 'image_too_large');
  return image;
}

/** dall-e-2 (edits and variations): a square PNG under 4 MB; edits without a mask need alpha. */
function checkDalleImage(image: InputImage, source: ImageSource, { needsAlpha }: { needsAlpha: boolean }): void {
  if (image.format !== 'png') throw badImage(source, 'uploaded image must be a PNG and less than 4 MB.');
  if (image.bytes.length >= MAX_DALLE_IMAGE_BYTES) throw badImage(source, 'uploaded image must be a PNG and less than 4 MB.', 'image_too_large');
  if (image.width !== image.height) {
    throw badImage(source, `dall-e-2 needs a square image, but got ${image.width}x${image.height}.`, 'invalid_image_dimensions');
  }
  // Without a mask, the image's own transparent areas say where to edit.
  if (needsAlpha && !image.hasAlpha) {
    throw badImage(source, "without a mask, format must be in ['RGBA', 'LA'] (its transparent areas mark where to edit), but the image has no alpha channel.");
  }
}

/** Spec: a PNG with alpha, under 4 MB, the same size as the (first) image. */
async function inspectMask(source: ImageSource, first: InputImage): Promise<InputImage> {
  const mask = await inspectImage(source);
  const fail = (why: string, code?: string): SimApiError => badImage(source, why, code);
  if (mask.format !== 'png') throw fail('the mask must be a PNG file.');
  if (mask.bytes.length >= MAX_MASK_BYTES) throw fail('the mask must be smaller than 4 MB.', 'image_too_large');
  if (!mask.hasAlpha) throw fail('the mask must have an alpha channel; its fully transparent areas mark where to edit.');
  if (mask.width !== first.width || mask.height !== first.height) {
    throw fail(`mask size (${mask.width}x${mask.height}) does not match image size (${first.width}x${first.height}).`, 'invalid_image_dimensions');
  }
  return mask;
}
