/**
 * Input images: the forms a client may send them in (multipart upload, bare base64, data URI,
 * URL, OpenAI file id), the validated result every provider gets, and the per-model rules
 * that decide between them. Resolution (decoding, fetching) lives in src/inputs/; the rules
 * and their error messages live here, pure.
 */
import { invalidRequest, type GatewayError } from './errors.js';
import type { ImageHeader } from './image-header.js';
import type { InputBytes } from './input-bytes.js';
import type { ModelFamily } from './models.js';

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

/** What a model family accepts as input images (OpenAI's documented limits). */
export interface InputRules {
  readonly maxImages: number;
  readonly maxBytesEach: number;
  readonly formats: readonly InputFormat[];
  /** dall-e-2: the image must be square. */
  readonly square: boolean;
  /** dall-e-2 edits without a mask: the image's own transparency is the mask. */
  readonly alphaWithoutMask: boolean;
  /** Bounds on the dimensions an image's header declares, checked before anything decodes it. */
  readonly maxSide: number;
  readonly maxPixels: number;
}

const MB = 1024 * 1024;
/** The largest any model accepts; multipart parsing stops reading a file beyond it. */
export const MAX_INPUT_IMAGE_BYTES = 50 * MB;
export const MAX_INPUT_IMAGES = 16;
/** Every model's mask limit. */
export const MAX_MASK_BYTES = 4 * MB;

/**
 * GPT image models: only a byte limit is documented, no pixel limit. They work at 4K at most
 * (gpt-image-2's largest output is 3840 px, 8.3 MP) and scale larger inputs down, so bounds well
 * above that lose no real picture: 16,384 px a side admits long panoramas (WebP itself stops at
 * 16,383) and 64 MP admits phone and most camera photos, while a 50 MB PNG that claims more is
 * a decompression bomb rather than a picture.
 */
const GPT_MAX_SIDE = 16_384;
const GPT_MAX_PIXELS = 8192 * 8192;
/**
 * dall-e-2: a square PNG under 4 MB whose output is at most 1024x1024. A real picture that fits
 * 4 MB as PNG is about 1200 px a side; 4096 leaves room for flat artwork and is 4x its output.
 */
const DALLE2_MAX_SIDE = 4096;

const GPT_INPUTS: InputRules = {
  maxImages: MAX_INPUT_IMAGES,
  maxBytesEach: MAX_INPUT_IMAGE_BYTES,
  formats: ['png', 'webp', 'jpeg'],
  square: false,
  alphaWithoutMask: false,
  maxSide: GPT_MAX_SIDE,
  maxPixels: GPT_MAX_PIXELS,
};
const DALLE2_EDIT: InputRules = {
  maxImages: 1,
  maxBytesEach: 4 * MB,
  formats: ['png'],
  square: true,
  alphaWithoutMask: true,
  maxSide: DALLE2_MAX_SIDE,
  maxPixels: DALLE2_MAX_SIDE * DALLE2_MAX_SIDE,
};
const DALLE2_VARIATION: InputRules = { ...DALLE2_EDIT, alphaWithoutMask: false };

/** null: the family takes no input images for this operation (dall-e-3 edits, GPT variations). */
export function inputRulesFor(family: ModelFamily, operation: InputOperation): InputRules | null {
  if (operation === 'variation') return family === 'dall-e-2' ? DALLE2_VARIATION : null;
  if (family === 'dall-e-2') return DALLE2_EDIT;
  if (family === 'dall-e-3') return null;
  return GPT_INPUTS;
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
  if (!header.complete) return invalidRequest(param, 'invalid_image', `${param} is cut short: the ${header.kind.toUpperCase()} file ends before its last chunk.`);
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
  if (!header || header.kind !== 'png') {
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

function formatBytes(bytes: number): string {
  return bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}
