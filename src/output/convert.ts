/**
 * When an upstream ignored `output_format` (many relays always answer PNG) or answered another
 * size than asked, the gateway converts, so the client gets what it asked for. Decided from the
 * image's header: the usual case, where the upstream did as asked, costs nothing.
 */
import type { ImageKind } from '../core/image-bytes.js';
import type { ImageJob, OutputFormat } from '../core/job.js';
import { parseSize } from '../core/sizes.js';
import { loadSharp } from '../core/sharp-loader.js';

export interface ImageShape {
  kind: ImageKind;
  /** Unknown when the header could not be read from the bytes at hand. */
  width?: number;
  height?: number;
}

export interface Conversion {
  format?: OutputFormat;
  /** Resize (cover: fill, then crop the overflow) to exactly this. */
  size?: { width: number; height: number };
}

/**
 * What to change so the image matches the job; null when it already does. An SVG is never made
 * from pixels nor turned into them: a vector job answered with a raster image, or a raster job
 * answered with an SVG, asks for a conversion convertImage refuses (the upstream's answer is unusable).
 */
export function conversionNeeded(job: ImageJob, shape: ImageShape): Conversion | null {
  const expected = job.outputFormat ?? job.model.capabilities.defaultOutputFormat;
  if ((shape.kind === 'svg') !== (expected === 'svg')) return { format: expected ?? 'png' };
  if (shape.kind === 'svg') return null;
  const wanted = job.outputFormat;
  const format = wanted !== undefined && wanted !== shape.kind ? wanted : undefined;
  const size = job.size === 'auto' ? null : parseSize(job.size);
  const resize = size && shape.width !== undefined && (shape.width !== size.width || shape.height !== size.height) ? size : undefined;
  if (!format && !resize) return null;
  return { ...(format ? { format } : {}), ...(resize ? { size: resize } : {}) };
}

/**
 * The most pixels a conversion decodes: 8x the largest image any model makes (gpt-image-2's
 * 3840x2160 is 8.3 MP), and 256 MB as RGBA. sharp refuses beyond it instead of allocating.
 */
export const MAX_DECODE_PIXELS = 8192 * 8192;

/** Why the header alone rules a decode out, or null; a size the header did not give is left to sharp's cap. */
export function decodeLimitProblem({ width, height }: ImageShape): string | null {
  if (width === undefined || height === undefined || width * height <= MAX_DECODE_PIXELS) return null;
  return `${width}x${height} is more than the ${MAX_DECODE_PIXELS.toLocaleString('en-US')} pixels this gateway decodes`;
}

export async function convertImage(bytes: Buffer, conversion: Conversion, kind: ImageKind, compression: number | undefined): Promise<Buffer> {
  if (kind === 'svg' || conversion.format === 'svg') throw new Error('an SVG is not converted to or from pixels');
  const quality = compression ?? 100;
  const sharp = await loadSharp();
  let image = sharp(bytes, { limitInputPixels: MAX_DECODE_PIXELS });
  if (conversion.size) image = image.resize(conversion.size.width, conversion.size.height, { fit: 'cover' });
  const format = conversion.format ?? (kind === 'gif' ? 'png' : kind);
  if (format === 'jpeg') return image.jpeg({ quality }).toBuffer();
  if (format === 'webp') return image.webp({ quality }).toBuffer();
  return image.png().toBuffer();
}
