/**
 * Input images: the forms a client may send them in (multipart upload, bare base64, data URI,
 * URL, OpenAI file id), the validated result every provider gets, and the per-model rules
 * that decide between them. Resolution (decoding, fetching) lives in src/inputs/; the rules
 * and their error messages live here, pure.
 */
import { invalidRequest, type GatewayError } from './errors.js';
import type { ImageHeader } from './image-header.js';
import type { InputBytes } from './input-bytes.js';
import { FAMILY_RULES, inputRulesOf, MAX_MASK_BYTES, type InputRules, type ModelFamily, type ModelSpec } from './models.js';

/** How the client handed an image over. */
export type ImageSource =
  /** A multipart file part: spooled to disk as it arrived. */
  | { readonly kind: 'upload'; readonly bytes: InputBytes; readonly filename?: string }
  /** A string that is a data URI or bare base64. */
  | { readonly kind: 'inline'; readonly text: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'file_id'; readonly fileId: string };

/** One input as the request gave it, with the param that names it in errors (`image[2]`, `mask`). */
export interface ImageInputRef {
  readonly param: string;
  readonly source: ImageSource;
}

export interface ImageInputRefs {
  readonly images: readonly ImageInputRef[];
  readonly mask?: ImageInputRef;
}

export type InputFormat = 'png' | 'jpeg' | 'webp';

/** A validated input image: real bytes of a known format, size and alpha. */
export interface InputImage {
  readonly param: string;
  /** In memory, or (uploads) in a spool file until the request ends. */
  readonly bytes: InputBytes;
  readonly format: InputFormat;
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
  /** The public URL the bytes were fetched from, for upstreams that take URLs. */
  readonly sourceUrl?: string;
}

export interface ResolvedInputs {
  readonly images: readonly InputImage[];
  readonly mask?: InputImage;
}

export const NO_INPUTS: ResolvedInputs = { images: [] };

export type InputOperation = 'edit' | 'variation';

export type { InputRules } from './models.js';
/** The input limits every model shares (the per-model rules are its capabilities' `edits` and `variations`). */
export { MAX_INPUT_IMAGE_BYTES, MAX_INPUT_IMAGES, MAX_MASK_BYTES } from './models.js';

/** A model's (or a family's) input rules for an operation; null: it takes no input images for it (dall-e-3 edits, GPT variations). */
export function inputRulesFor(model: ModelFamily | ModelSpec, operation: InputOperation): InputRules | null {
  return inputRulesOf(typeof model === 'string' ? FAMILY_RULES[model] : model.capabilities, operation);
}

export function tooManyImages(param: string, given: number, rules: InputRules): GatewayError {
  const limit = rules.maxImages === 1 ? 'exactly one image' : `at most ${rules.maxImages} images`;
  return invalidRequest(param, 'too_many_images', `${given} images were given; this model takes ${limit}.`);
}

export function tooLarge(param: string, bytes: number, maxBytes: number): GatewayError {
  return invalidRequest(param, 'image_too_large', `${param} is ${formatBytes(bytes)}; the limit for this model is ${formatBytes(maxBytes)}.`);
}

/** The first rule an image breaks, as a 400 naming its param; null when it is fine. */
export function imageProblem(param: string, byteLength: number, header: ImageHeader | null, rules: InputRules): GatewayError | null {
  if (!header) return invalidRequest(param, 'invalid_image_format', `${param} is not an image (checked by content): send ${formatList(rules.formats)}.`);
  if (!(rules.formats as readonly string[]).includes(header.kind)) {
    return invalidRequest(param, 'invalid_image_format', `${param} is a ${header.kind.toUpperCase()} image; this model takes ${formatList(rules.formats)}.`);
  }
  if (!header.complete)
    return invalidRequest(param, 'invalid_image', `${param} is cut short: the ${header.kind.toUpperCase()} file ends before its last chunk.`);
  if (header.width === 0 || header.height === 0) return invalidRequest(param, 'invalid_image', `${param} has no pixels.`);
  const dimensions = dimensionsProblem(param, header, rules);
  if (dimensions) return dimensions;
  if (byteLength > rules.maxBytesEach) return tooLarge(param, byteLength, rules.maxBytesEach);
  if (rules.square && header.width !== header.height) {
    return invalidRequest(param, 'invalid_image', `${param} is ${header.width}x${header.height}; this model needs a square image.`);
  }
  return null;
}

/** The header's width and height against the rules' bounds: judged before any decoder sees the image. */
function dimensionsProblem(param: string, header: ImageHeader, rules: InputRules): GatewayError | null {
  const { width, height } = header;
  if (Math.max(width, height) <= rules.maxSide && width * height <= rules.maxPixels) return null;
  return invalidRequest(
    param,
    'invalid_image_dimensions',
    `${param} is ${width}x${height} pixels (as its header declares); this model takes images of at most ` +
      `${rules.maxSide} pixels a side and ${count(rules.maxPixels)} pixels in all.`,
  );
}

/** Mask rules: a PNG with alpha, no larger than 4 MB, within the rules' dimensions, the size of the first image. */
export function maskProblem(byteLength: number, header: ImageHeader | null, first: InputImage | undefined, rules: InputRules): GatewayError | null {
  if (header?.kind !== 'png') {
    return invalidRequest('mask', 'invalid_mask', `mask must be a PNG image (checked by content)${header ? `, not ${header.kind.toUpperCase()}` : ''}.`);
  }
  if (!header.complete) return invalidRequest('mask', 'invalid_mask', 'mask is cut short: the PNG file ends before its last chunk.');
  const dimensions = dimensionsProblem('mask', header, rules);
  if (dimensions) return dimensions;
  if (byteLength > MAX_MASK_BYTES) return tooLarge('mask', byteLength, MAX_MASK_BYTES);
  if (!header.hasAlpha) return invalidRequest('mask', 'invalid_mask', 'mask has no alpha channel: its fully transparent areas mark where to edit.');
  if (first && (header.width !== first.width || header.height !== first.height)) {
    return invalidRequest(
      'mask',
      'invalid_mask',
      `mask is ${header.width}x${header.height} but ${first.param} is ${first.width}x${first.height}; they must be the same size.`,
    );
  }
  return null;
}

/** dall-e-2 edits read the edit area from the image's transparency when there is no mask. */
export function missingAlphaProblem(image: InputImage): GatewayError {
  return invalidRequest(image.param, 'invalid_image', `${image.param} has no transparency; dall-e-2 edits need a mask or an image with an alpha channel.`);
}

function formatList(formats: readonly InputFormat[]): string {
  return formats.map((f) => f.toUpperCase()).join(', ');
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

const MB = 1024 * 1024;

function formatBytes(bytes: number): string {
  return bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}
