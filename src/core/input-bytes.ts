/**
 * The bytes of one input image, wherever they are: in memory (decoded base64, data URIs, fetched
 * URLs: small, or already whole in memory anyway), or spooled to a file as a multipart upload was
 * read (src/spool/), so a request waiting for its checks and its upstream holds no megabytes.
 * Core only describes them; code outside core reads a spooled file (spool/input-bytes-io.ts).
 */
import { readImageHeader, type ImageHeader } from './image-header.js';

export type InputBytes = InMemoryBytes | SpooledBytes;

export interface InMemoryBytes {
  readonly kind: 'memory';
  readonly size: number;
  readonly bytes: Buffer;
}

export interface SpooledBytes {
  readonly kind: 'spooled';
  readonly size: number;
  /** The spool file; deleted when the request that uploaded it ends. */
  readonly path: string;
  /** What the image's structure said as the bytes went by on their way to the file. */
  readonly header: ImageHeader | null;
}

export function inMemoryBytes(bytes: Buffer): InMemoryBytes {
  return { kind: 'memory', size: bytes.length, bytes };
}

/** The image header of the bytes: read from memory, or as it was scanned while spooling. */
export function headerOf(input: InputBytes): ImageHeader | null {
  return input.kind === 'memory' ? readImageHeader(input.bytes) : input.header;
}
