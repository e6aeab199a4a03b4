/** Recognizing image bytes by content, never by name or header. Pure. */
import { BASE64_SLICE, Base64Decoder } from './base64-decoder.js';
import { ropeFrom, ropeIndexOf, ropeLength, ropeSlice, type Rope } from './rope.js';

/** svg: a vector image (text); only ever an upstream's answer, never an accepted input. */
export type ImageKind = 'png' | 'jpeg' | 'webp' | 'gif' | 'svg';

export const IMAGE_MIME: Readonly<Record<ImageKind, string>> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  svg: 'image/svg+xml',
};

export const IMAGE_EXTENSION: Readonly<Record<ImageKind, string>> = { png: 'png', jpeg: 'jpg', webp: 'webp', gif: 'gif', svg: 'svg' };

export function sniffImage(bytes: Uint8Array): ImageKind | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) {
    return 'png';
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (isSvgText(b)) return 'svg';
  return null;
}

/** How far into the bytes an SVG's root element may start (after an XML declaration, comments, a doctype). */
const SVG_ROOT_WITHIN = 1024;
/** A UTF-8 BOM, whitespace, then an optional XML declaration, comments and doctype, then the `<svg` root. */
const SVG_PROLOGUE = /^(?:\uFEFF|\xEF\xBB\xBF)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>\s*)*<svg[\s>/]/;

/**
 * An SVG document by its start: the root element is `<svg`. Judged from the first kilobyte only
 * (the same prefix the other kinds are sniffed from); whether the rest is well-formed is not checked
 * here: it is served as image/svg+xml under a policy that runs no script (http/files.ts).
 */
function isSvgText(b: Uint8Array): boolean {
  const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, SVG_ROOT_WITHIN)).toString('latin1');
  return SVG_PROLOGUE.test(head);
}

/** Sniffs base64 text by decoding only its first bytes. */
export function sniffBase64Image(base64: Rope): ImageKind | null {
  return sniffImage(Buffer.from(ropeSlice(base64, 0, 24).toString('latin1'), 'base64'));
}

/** Base64 bytes -> image bytes, without a megabyte-sized JS string. */
export function decodeBase64(base64: Rope): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(ropeLength(base64) / 4) * 3);
  let written = 0;
  const decoder = new Base64Decoder((head, body) => {
    written += out.write(head, written, 'base64');
    written += out.write(body, written, 'base64');
  });
  for (const piece of base64) decoder.push(piece);
  decoder.end();
  return out.subarray(0, written);
}

function ascii(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...b.subarray(start, end));
}

/** `data:image/png;base64,....` -> its base64 part, or null when it is not a base64 data URI. */
export function base64FromDataUri(uri: Rope): Rope | null {
  const start = dataUriBase64Start(uri);
  return start < 0 ? null : ropeFrom(uri, start);
}

/** The longest `data:...;base64,` prefix taken: the comma is at most this far in. */
export const DATA_URI_COMMA_MAX = 256;

/** Where the base64 of a base64 data URI starts, or -1 when `uri` is not one. */
export function dataUriBase64Start(uri: Rope): number {
  if (ropeSlice(uri, 0, 5).toString('latin1') !== 'data:') return -1;
  const comma = ropeIndexOf(uri, 0x2c);
  if (comma < 0 || comma > DATA_URI_COMMA_MAX) return -1;
  if (!ropeSlice(uri, 5, comma).toString('latin1').split(';').includes('base64')) return -1;
  return comma + 1;
}

/**
 * Base64 text (a JSON string) from `start` on -> bytes, decoded from the string itself a slice at
 * a time: no copy of it as bytes first, and no megabyte-sized temporary.
 */
export function decodeBase64Text(text: string, start = 0): Buffer {
  // Line breaks or spaces would shift slices off the 4-character grid: decode such text whole.
  if (text.includes('\n', start) || text.includes(' ', start)) return Buffer.from(text.slice(start), 'base64');
  const out = Buffer.allocUnsafe(Math.ceil((text.length - start) / 4) * 3);
  let written = 0;
  for (let at = start; at < text.length; at += BASE64_SLICE) written += out.write(text.slice(at, at + BASE64_SLICE), written, 'base64');
  return out.subarray(0, written);
}
