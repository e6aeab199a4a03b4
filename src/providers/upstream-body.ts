/**
 * A request body made of pieces, some of them input images that may wait in spool files: sent
 * as a stream of the exact length it declares, and read afresh for every attempt (retries and
 * failovers re-open the files). Only the piece being sent is in memory.
 */
import type { InputBytes } from '../core/input-bytes.js';
import { inputBytesPieces } from '../spool/input-bytes-io.js';

/** A fixed piece (multipart framing, JSON around the images), or an input image's bytes. */
export type BodySegment = Buffer | { readonly input: InputBytes; readonly encoding: 'raw' | 'base64' };

/** base64 is encoded this much at a time: a multiple of 3, so that the pieces join without padding. */
const BASE64_BLOCK_BYTES = 48 * 1024;

export class StreamedBody {
  /** Bytes the body has in all: the Content-Length it is sent with. */
  readonly length: number;

  constructor(private readonly segments: readonly BodySegment[]) {
    this.length = segments.reduce((sum, segment) => sum + segmentLength(segment), 0);
  }

  /** The body from its start; each call reads the images again. */
  async *pieces(): AsyncGenerator<Buffer> {
    for (const segment of this.segments) {
      if (Buffer.isBuffer(segment)) yield segment;
      else if (segment.encoding === 'raw') yield* inputBytesPieces(segment.input);
      else yield* base64Pieces(inputBytesPieces(segment.input));
    }
  }

  /** The whole body in one Buffer, for transports without a socket (the in-process demo channel). */
  async whole(): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for await (const piece of this.pieces()) pieces.push(piece);
    return Buffer.concat(pieces, this.length);
  }
}

function segmentLength(segment: BodySegment): number {
  if (Buffer.isBuffer(segment)) return segment.length;
  return segment.encoding === 'raw' ? segment.input.size : Math.ceil(segment.input.size / 3) * 4;
}

/** Bytes -> their base64 text as latin1 bytes, block by block; up to 2 bytes wait for the next piece. */
async function* base64Pieces(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry = Buffer.alloc(0);
  for await (const piece of pieces) {
    const data = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
    const whole = data.length - (data.length % 3);
    for (let at = 0; at < whole; at += BASE64_BLOCK_BYTES) {
      yield Buffer.from(data.toString('base64', at, Math.min(at + BASE64_BLOCK_BYTES, whole)), 'latin1');
    }
    carry = Buffer.from(data.subarray(whole));
  }
  if (carry.length > 0) yield Buffer.from(carry.toString('base64'), 'latin1');
}
