import sharp from 'sharp';

/** Decodes image bytes and reports what they really are. */
export async function describeImage(bytes: Buffer): Promise<{ format: string | undefined; width: number | undefined; height: number | undefined }> {
  const meta = await sharp(bytes).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}
