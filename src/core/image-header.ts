/**
 * What an image's own bytes say about it: format, dimensions, alpha, and whether the file is
 * whole. Read from the container structure (PNG chunks, JPEG segments, RIFF), never decoded,
 * so checking a 50 MB upload costs microseconds. Pure.
 *
 * The bytes may come in pieces (an upload as it is written to disk): ImageHeaderScanner walks
 * the structure as they pass and keeps only a few dozen bytes of them, so a file never has to
 * be read back to be judged. readImageHeader is the same scan over bytes already in memory.
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
  const scanner = new ImageHeaderScanner();
  scanner.push(bytes);
  return scanner.finish();
}

/** Every field read at a fixed offset lies in the first 33 bytes (PNG's IHDR). */
const FIXED_FIELDS_BYTES = 64;
/** Cameras append trailers after EOI; look for it near the end rather than at the last byte. */
const JPEG_EOI_WINDOW = 64 * 1024;
const EOI = Buffer.from([0xff, 0xd9]);
const PNG_ALPHA_COLOUR_TYPES = new Set([4, 6]);

/** Bytes pushed in order, in pieces of any size; finish() gives what readImageHeader gives for all of them. */
export class ImageHeaderScanner {
  private size = 0;
  private head = Buffer.alloc(0);
  private lastByte: number | undefined;
  private kind: ImageKind | null | undefined;
  private structure: StructureWalk | undefined;
  /** Where the last FF D9 (JPEG end of image) starts. */
  private lastEoiAt: number | undefined;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const at = this.size;
    if (this.head.length < FIXED_FIELDS_BYTES) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, FIXED_FIELDS_BYTES - this.head.length)]);
    }
    if (this.kind === undefined && this.head.length >= 12) this.startWalk(sniffImage(this.head), at);
    if (this.kind === 'jpeg' || this.kind === undefined) this.trackEoi(chunk, at);
    this.lastByte = chunk[chunk.length - 1];
    this.size += chunk.length;
    if (this.structure) this.structure.reader.push(chunk, at);
  }

  finish(): ImageHeader | null {
    if (this.kind === undefined) this.kind = sniffImage(this.head);
    const h = this.head;
    switch (this.kind) {
      case 'png':
        return this.structure?.kind === 'png' ? pngHeader(h, this.size, this.structure.walk) : null;
      case 'jpeg':
        return this.structure?.kind === 'jpeg' ? this.jpegHeader(this.structure.walk) : null;
      case 'webp':
        return webpHeader(h, this.size);
      case 'gif':
        // GIF inputs are refused before completeness matters; the trailer byte is 0x3b.
        return this.size < 10 ? null : { kind: 'gif', width: h.readUInt16LE(6), height: h.readUInt16LE(8), hasAlpha: false, complete: this.lastByte === 0x3b };
      default:
        return null;
    }
  }

  /** `before`: how many bytes came before the current piece (all of them in the head, as the kind was not known yet). */
  private startWalk(kind: ImageKind | null, before: number): void {
    this.kind = kind;
    if (kind === 'png') {
      const walk = new PngChunkWalk();
      this.structure = { kind, walk, reader: new ForwardReader({ at: 8, length: 8 }, (record, at) => walk.next(record, at)) };
    } else if (kind === 'jpeg') {
      const walk = new JpegSegmentWalk();
      this.structure = { kind, walk, reader: new ForwardReader({ at: 2, length: 4 }, (record, at) => walk.next(record, at)) };
    }
    if (this.structure && before > 0) this.structure.reader.push(this.head.subarray(0, before), 0);
  }

  private trackEoi(chunk: Buffer, at: number): void {
    const inside = chunk.lastIndexOf(EOI);
    if (inside >= 0) this.lastEoiAt = at + inside;
    else if (this.lastByte === 0xff && chunk[0] === 0xd9) this.lastEoiAt = at - 1;
  }

  private jpegHeader(walk: JpegSegmentWalk): ImageHeader | null {
    const frame = walk.frame;
    if (!frame) return null;
    const tailStart = Math.max(frame.at, this.size - JPEG_EOI_WINDOW);
    const complete = this.lastEoiAt !== undefined && this.lastEoiAt >= tailStart;
    return { kind: 'jpeg', width: frame.width, height: frame.height, hasAlpha: false, complete };
  }
}

type StructureWalk =
  | { readonly kind: 'png'; readonly walk: PngChunkWalk; readonly reader: ForwardReader }
  | { readonly kind: 'jpeg'; readonly walk: JpegSegmentWalk; readonly reader: ForwardReader };

/** A record of `length` bytes at offset `at`; null: the walk needs nothing more. */
type RecordWanted = { readonly at: number; readonly length: number } | null;

/**
 * Hands small records at forward-moving offsets to a walk, from bytes pushed in pieces: what it
 * keeps between pieces is at most one record cut by a piece boundary.
 */
class ForwardReader {
  private carry = Buffer.alloc(0);

  constructor(
    private wanted: RecordWanted,
    private readonly onRecord: (record: Buffer, at: number) => RecordWanted,
  ) {}

  push(chunk: Buffer, chunkAt: number): void {
    let want = this.wanted;
    if (!want || want.at >= chunkAt + chunk.length) return;
    // A carry holds the bytes from want.at up to this chunk.
    const base = this.carry.length > 0 ? want.at : Math.max(want.at, chunkAt);
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk.subarray(base - chunkAt);
    const end = base + data.length;
    while (want && want.at + want.length <= end) {
      const next: RecordWanted = this.onRecord(data.subarray(want.at - base, want.at - base + want.length), want.at);
      if (next && next.at < want.at) throw new Error('unreachable: image structure walks only move forward');
      want = next;
    }
    this.wanted = want;
    this.carry = want && want.at < end ? Buffer.from(data.subarray(want.at - base)) : Buffer.alloc(0);
  }
}

/** The PNG chunk chain: a file cut short never reaches IEND. Records are chunk heads (length, type). */
class PngChunkWalk {
  /** Where the first tRNS chunk and the IEND chunk end: they count only if the file reaches that far. */
  trnsEnd: number | undefined;
  iendEnd: number | undefined;

  next(record: Buffer, at: number): RecordWanted {
    const end = at + 12 + record.readUInt32BE(0);
    const type = record.toString('latin1', 4, 8);
    if (type === 'tRNS') this.trnsEnd ??= end;
    if (type === 'IEND') {
      this.iendEnd = end;
      return null;
    }
    // A chunk that ends past the file stops the walk: the next record is never reached.
    return { at: end, length: 8 };
  }
}

function pngHeader(b: Buffer, size: number, walk: PngChunkWalk): ImageHeader | null {
  if (size < 33 || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  const hasAlpha = PNG_ALPHA_COLOUR_TYPES.has(b[25] ?? 0) || (walk.trnsEnd !== undefined && walk.trnsEnd <= size);
  const complete = walk.iendEnd !== undefined && walk.iendEnd <= size;
  return { kind: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20), hasAlpha, complete };
}

/** Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** JPEG segments up to the first start of frame. Records: a marker and its length (4 bytes), then the frame head (9). */
class JpegSegmentWalk {
  frame: { at: number; width: number; height: number } | undefined;

  next(record: Buffer, at: number): RecordWanted {
    if (record.length === 9) {
      this.frame = { at, height: record.readUInt16BE(5), width: record.readUInt16BE(7) };
      return null;
    }
    if (record[0] !== 0xff) return null; // not a marker: no frame will be found
    const marker = record[1] ?? 0;
    if (marker === 0xff) return { at: at + 1, length: 4 }; // fill byte
    if (isStartOfFrame(marker)) return { at, length: 9 };
    return { at: at + 2 + record.readUInt16BE(2), length: 4 };
  }
}

function webpHeader(b: Buffer, size: number): ImageHeader | null {
  if (size < 30) return null;
  const complete = size >= b.readUInt32LE(4) + 8;
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
