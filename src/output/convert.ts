/**
 * When an upstream ignored `output_format` (many relays always answer PNG), the gateway converts,
 * so the client gets what it asked for. Detected from the first bytes: the usual case, where the
 * upstream did as asked, costs nothing.
 */
import sharp from 'sharp';
import type { ImageKind } from '../core/image-bytes.js';
import type { ImageJob } from '../core/job.js';

/** The format the client asked for, when this image is in another one; else null. */
export function conversionNeeded(job: ImageJob, kind: ImageKind): ImageJob['outputFormat'] | null {
  const wanted = job.outputFormat;
  return wanted !== undefined && wanted !== kind ? wanted : null;
}

export async function convertImage(bytes: Buffer, format: NonNullable<ImageJob['outputFormat']>, compression: number | undefined): Promise<Buffer> {
  const quality = compression ?? 100;
  const image = sharp(bytes);
  if (format === 'jpeg') return image.jpeg({ quality }).toBuffer();
  if (format === 'webp') return image.webp({ quality }).toBuffer();
  return image.png().toBuffer();
}
