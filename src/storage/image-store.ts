import type { Readable } from 'node:stream';

/** Where image bytes live: files under the data dir (embedded) or an S3 bucket (scale-out). */
export interface ImageStore {
  put(name: string, bytes: Buffer): Promise<void>;
  /** null when the image is gone (swept or never stored). */
  open(name: string): Promise<{ stream: Readable; size: number } | null>;
  delete(name: string): Promise<void>;
}
