import sharp from 'sharp';
import { seededRandom } from './seeded-random.js';

/** Decodes image bytes and reports what they really are. */
export async function describeImage(bytes: Buffer): Promise<{ format: string | undefined; width: number | undefined; height: number | undefined }> {
  const meta = await sharp(bytes).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}

/** Noise does not compress: a PNG of about width * height * 3 bytes, so an answer of it spans many packets. */
export async function noisePng(width: number, height: number, seed: number): Promise<Buffer> {
  const random = seededRandom(seed);
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = random.int(256);
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}
