import type { Readable } from 'node:stream';
import type { ReadBuffers } from './read-buffers.js';

/** A stored image to send: a stream of it, or its bytes read whole into a lent buffer. */
export type StoredImage = { stream: Readable; size: number } | LentImage;

export interface LentImage {
  /** The image, in a buffer lent by ReadBuffers. */
  bytes: Buffer;
  size: number;
  /** Gives the buffer back: only once nothing reads it any more (the answer is over). */
  release(): void;
}

/** Where image bytes live: files under the data dir (embedded) or an S3 bucket (scale-out). */
export interface ImageStore {
  put(name: string, bytes: Buffer): Promise<void>;
  /** An image written while it arrives. Writes come one at a time; close or abort ends it. */
  openWrite(name: string): ImageSink;
  /** null when the image is gone (swept or never stored). */
  open(name: string): Promise<{ stream: Readable; size: number } | null>;
  /**
   * Like open, to send the image: read whole into a buffer from `buffers` when they lend one
   * (one read, no fresh memory per download), else as a stream. Optional: stores without it are
   * read through open.
   */
  read?(name: string, buffers: ReadBuffers): Promise<StoredImage | null>;
  delete(name: string): Promise<void>;
  /**
   * For the readiness probe: resolves when the store takes a write now (a tiny probe object,
   * overwritten or removed each time), throws otherwise. `timeoutMs` bounds it where it can.
   */
  checkWritable(timeoutMs: number): Promise<void>;
  /**
   * A link to the image valid for ttlSeconds that the store serves itself (an S3 presigned or
   * public URL). null, or no such method: clients get the gateway's signed /files link.
   */
  linkFor?(name: string, ttlSeconds: number): string | null;
}

/** An image being written piece by piece. */
export interface ImageSink {
  /** Appends the pieces, in order (one call at a time). Their memory is reused once it resolves: a sink that keeps them copies. */
  write(pieces: readonly Buffer[]): Promise<void>;
  /** The image is whole. */
  close(): Promise<void>;
  /** The image will not be whole: nothing of it stays. */
  abort(): Promise<void>;
}
