/** Recognizing image bytes by content, never by name or header. Pure. */

export type ImageKind = 'png' | 'jpeg' | 'webp' | 'gif';

export const IMAGE_MIME: Readonly<Record<ImageKind, string>> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
};

export const IMAGE_EXTENSION: Readonly<Record<ImageKind, string>> = { png: 'png', jpeg: 'jpg', webp: 'webp', gif: 'gif' };

export function sniffImage(bytes: Uint8Array): ImageKind | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) {
    return 'png';
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  return null;
}

/** Sniffs base64 text by decoding only its first bytes. */
export function sniffBase64Image(base64: Buffer): ImageKind | null {
  return sniffImage(Buffer.from(base64.subarray(0, 24).toString('latin1'), 'base64'));
}

/** Decoded a slice at a time: many small strings are cheap for the GC, one of megabytes is not. */
const DECODE_CHUNK = 64 * 1024; // a multiple of 4, so slices split between base64 quanta

/** Base64 bytes -> image bytes, without a megabyte-sized JS string. */
export function decodeBase64(base64: Buffer): Buffer {
  // Line breaks (MIME style) or spaces would shift the slices off the 4-character grid.
  const plain = base64.indexOf(0x0a) < 0 && base64.indexOf(0x20) < 0;
  if (base64.length <= DECODE_CHUNK || !plain) return Buffer.from(base64.toString('latin1'), 'base64');
  const out = Buffer.allocUnsafe(Math.ceil(base64.length / 4) * 3);
  let written = 0;
  for (let at = 0; at < base64.length; at += DECODE_CHUNK) {
    written += out.write(base64.subarray(at, at + DECODE_CHUNK).toString('latin1'), written, 'base64');
  }
  return out.subarray(0, written);
}

function ascii(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...b.subarray(start, end));
}

/** `data:image/png;base64,....` -> its base64 part, or null when it is not a base64 data URI. */
export function base64FromDataUri(uri: Buffer): Buffer | null {
  const comma = uri.indexOf(0x2c);
  if (comma < 0 || uri.subarray(0, 5).toString('latin1') !== 'data:') return null;
  if (!uri.subarray(5, comma).toString('latin1').split(';').includes('base64')) return null;
  return uri.subarray(comma + 1);
}
