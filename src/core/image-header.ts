/**
 * What an image's own bytes say about it: format, dimensions, alpha, and whether the file is
 * whole. Read from the container structure (PNG chunks, JPEG segments, RIFF), never decoded,
 * so checking a 50 MB upload costs microseconds. Pure.
 */
import { sniffImage, type ImageKind } from './image-bytes.js';

export interface ImageHeader {
  readonly kind: ImageKind;
  readonly width: number;
  readonly height: number;
  /** PNG colour types with alpha or a tRNS chunk; WebP's alpha flags. JPEG never has alpha. */
  readonly hasAlpha: boolean;
  /** False when the container ends before its last chunk or marker: an upload cut short. */
  readonly complete: boolean;
}

/** null when the bytes are not a PNG, JPEG, WebP or GIF whose header can be read. */
export function readImageHeader(bytes: Buffer): ImageHeader | null {
  const kind = sniffImage(bytes);
  if (kind === 'png') return readPng(bytes);
  if (kind === 'jpeg') return readJpeg(bytes);
  if (kind === 'webp') return readWebp(bytes);
  if (kind === 'gif') return readGif(bytes);
  return null;
}

const PNG_ALPHA_COLOUR_TYPES = new Set([4, 6]);

function readPng(b: Buffer): ImageHeader | null {
  if (b.length < 33 || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  let hasAlpha = PNG_ALPHA_COLOUR_TYPES.has(b[25] ?? 0);
  // Walk the chunk chain: a file cut short never reaches IEND.
  let at = 8;
  while (at + 8 <= b.length) {
    const length = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    const next = at + 12 + length;
    if (next > b.length) break;
    if (type === 'tRNS') hasAlpha = true;
    if (type === 'IEND') return { kind: 'png', width, height, hasAlpha, complete: true };
    at = next;
  }
  return { kind: 'png', width, height, hasAlpha, complete: false };
}

/** Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Cameras append trailers after EOI; look for it near the end rather than at the last byte. */
const JPEG_EOI_WINDOW = 64 * 1024;

function readJpeg(b: Buffer): ImageHeader | null {
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1] ?? 0;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    const length = b.readUInt16BE(at + 2);
    if (isStartOfFrame(marker)) {
      if (at + 9 > b.length) return null;
      const height = b.readUInt16BE(at + 5);
      const width = b.readUInt16BE(at + 7);
      const tail = b.subarray(Math.max(at, b.length - JPEG_EOI_WINDOW));
      return { kind: 'jpeg', width, height, hasAlpha: false, complete: tail.includes(EOI) };
    }
    at += 2 + length;
  }
  return null;
}

const EOI = Buffer.from([0xff, 0xd9]);

function readWebp(b: Buffer): ImageHeader | null {
  if (b.length < 30) return null;
  const complete = b.length >= b.readUInt32LE(4) + 8;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8X') {
    const hasAlpha = ((b[20] ?? 0) & 0x10) !== 0;
    return { kind: 'webp', width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1, hasAlpha, complete };
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return null;
    const bits = b.readUInt32LE(21);
    const width = (bits & 0x3fff) + 1;
    const height = ((bits >>> 14) & 0x3fff) + 1;
    return { kind: 'webp', width, height, hasAlpha: ((bits >>> 28) & 1) === 1, complete };
  }
  if (chunk === 'VP8 ') {
    // Key frame start code 9d 01 2a, then 14-bit width and height.
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null;
    return { kind: 'webp', width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff, hasAlpha: false, complete };
  }
  return null;
}

function readGif(b: Buffer): ImageHeader | null {
  if (b.length < 10) return null;
  // GIF inputs are refused before completeness matters; the trailer byte is 0x3b.
  return { kind: 'gif', width: b.readUInt16LE(6), height: b.readUInt16LE(8), hasAlpha: false, complete: b[b.length - 1] === 0x3b };
}
