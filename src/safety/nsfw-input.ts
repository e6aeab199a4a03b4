/**
 * What the nsfwjs model takes: a 224x224 RGB image. Made here, in the gateway's thread, by sharp
 * (its work runs on libuv's pool, off the event loop), so that a worker receives 150 KB of pixels
 * instead of a multi-megabyte encoded image, and never loads an image decoder of its own.
 */
import { loadSharp } from '../core/sharp-loader.js';
import { SafetyClassifierError } from '../core/image-safety.js';

/** The model's input side, in pixels (nsfwjs's MobileNetV2 models). */
export const NSFW_INPUT_SIZE = 224;

/** The most pixels decoded, as output/convert.ts bounds every image it decodes. */
const MAX_DECODE_PIXELS = 8192 * 8192;

/** One image for the worker: NSFW_INPUT_SIZE² RGB pixels, row by row. */
export interface NsfwInput {
  pixels: Uint8Array<ArrayBuffer>;
}

/**
 * Decodes an encoded image (PNG, JPEG, WebP, GIF's first frame, SVG...) and squeezes it to the model's
 * input, as nsfwjs itself resizes (the whole image stretched to the square, not cropped); transparency
 * is laid on white. Rejects with SAFETY_UNDECODABLE_IMAGE when the bytes are no image sharp reads.
 */
export async function downscaleForNsfw(image: Buffer): Promise<NsfwInput> {
  const sharp = await loadSharp();
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    raw = await sharp(image, { limitInputPixels: MAX_DECODE_PIXELS })
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .resize(NSFW_INPUT_SIZE, NSFW_INPUT_SIZE, { fit: 'fill' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new SafetyClassifierError('SAFETY_UNDECODABLE_IMAGE', `the image could not be decoded: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { data, info } = raw;
  if (info.width !== NSFW_INPUT_SIZE || info.height !== NSFW_INPUT_SIZE || info.channels !== 3) {
    throw new SafetyClassifierError('SAFETY_UNDECODABLE_IMAGE', `the image decoded to ${info.width}x${info.height}x${info.channels}, not RGB`);
  }
  // A copy of our own: sharp's buffer is memory it allocated, which cannot be transferred to a worker.
  return { pixels: new Uint8Array(data) };
}
