/** Deletes stored images past IMAGEGATE_RETENTION, a batch at a time, on a timer. */
import { IMAGE_EXTENSION, type ImageKind } from '../core/image-bytes.js';
import type { ImageRecords } from './image-records.js';
import type { ImageStore } from './image-store.js';

const BATCH = 500;

export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly records: ImageRecords,
    private readonly store: ImageStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns how many images it deleted. */
  async sweep(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const batch = await this.records.expired(this.now(), BATCH);
      for (const image of batch) await this.store.delete(storedName(image.id, image.mime));
      await this.records.delete(batch.map((i) => i.id));
      deleted += batch.length;
      if (batch.length < BATCH) return deleted;
    }
  }

  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => void this.sweep().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const KIND_BY_MIME: Readonly<Record<string, ImageKind>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/svg+xml': 'svg',
};

/** The store's file name of an image: id plus the extension of its content type. */
export function storedName(id: string, mime: string): string {
  const kind = KIND_BY_MIME[mime] ?? 'png';
  return `${id}.${IMAGE_EXTENSION[kind]}`;
}

/**
 * The id prefix of an image held back by the content check (block mode): stored for review, never
 * linked. Every other image's id is 22 base64url characters (16 random bytes); a held one is this
 * prefix and 22 more, so no other name can pass for one. /files refuses these names whatever the
 * link's signature says.
 */
export const HELD_IMAGE_PREFIX = 'held_';

const HELD_NAME = /^held_[A-Za-z0-9_-]{22}(?:\.|$)/;

/** A held image's id, or its stored name (`<id>.<ext>`). */
export function isHeldImageName(name: string): boolean {
  return HELD_NAME.test(name);
}
