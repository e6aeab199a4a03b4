/** The gallery's storage side: stored images listed and read from their records, and deleted whole (bytes, thumbnail, record). */
import type { ListWindow } from '../db/row-cursor.js';
import type { ImageRow } from '../db/schema.js';
import type { ImageFilter, ImageRecords } from './image-records.js';
import type { ImageStore } from './image-store.js';
import { storedName } from './retention-sweeper.js';
import type { ThumbnailCache } from './thumbnails.js';

export class ImageGallery {
  constructor(private readonly deps: { records: ImageRecords; store: ImageStore; thumbnails: ThumbnailCache; now?: () => number }) {}

  now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Newest first; `limit` rows past `after`, `offset` rows skipped. */
  list(filter: ImageFilter, page: ListWindow): Promise<ImageRow[]> {
    return this.deps.records.list(filter, this.now(), page);
  }

  /** The image, if stored whole and not past retention, and (with `keyId`) that key's; else null. */
  async get(id: string, keyId?: string): Promise<ImageRow | null> {
    const row = await this.deps.records.get(id, this.now());
    if (!row || (keyId !== undefined && row.key_id !== keyId)) return null;
    return row;
  }

  /** Approves a flagged or refused image (a held one stays unlinked: its name says so); false when it is not under review. */
  approve(id: string): Promise<boolean> {
    return this.deps.records.setReview(id, 'approved');
  }

  /**
   * Bytes first, then the thumbnail, then the record, as the retention sweeper does: a failure
   * part way leaves a record whose file is gone (its link answers 404; the sweeper clears it at
   * its expiry), never a file nothing points to.
   */
  async delete(image: Pick<ImageRow, 'id' | 'mime'>): Promise<void> {
    await this.deps.store.delete(storedName(image.id, image.mime));
    await this.deps.thumbnails.forget(image.id);
    await this.deps.records.delete([image.id]);
  }
}
