/** The images table: which stored images exist, what each was made from, and when retention ends for each. */
import { WriteBatcher } from '../db/write-batcher.js';
import type { Db } from '../db/database.js';
import { newestFirst, type ListWindow } from '../db/row-cursor.js';
import type { ImageReview, ImageRow, NewImage } from '../db/schema.js';
import type { StorageMetricsSink } from '../core/metrics-sink.js';

/** Rows per insert: 14 columns each, far below either database's bound on parameters. */
const MAX_ROWS_PER_INSERT = 256;

/** The parameters behind a stored image (the images row's `params`, JSON); absent: not asked for. */
export interface ImageParams {
  size?: string;
  quality?: string;
  output_format?: string;
  output_compression?: number;
  background?: unknown;
  style?: unknown;
  moderation?: string;
  response_format?: string;
  /** Images the request asked for. */
  n?: number;
  /** This image's place among them, from 0. */
  index?: number;
}

/** Which images a gallery list shows; every field narrows it. */
export interface ImageFilter {
  keyId?: string;
  model?: string;
  taskId?: string;
  requestId?: string;
  operation?: NonNullable<ImageRow['operation']>;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** Content review: images in that state; `any`: every image the check flagged or refused (approved ones too). */
  review?: ImageReview | 'any';
  /** A key's own gallery: images the content check held back are not shown (only the operator reviews them). */
  withoutHeld?: boolean;
}

/** A streamed image's size, once it is stored whole. */
interface StoredSize {
  id: string;
  bytes: number;
}

export class ImageRecords {
  /** Concurrent images share one multi-row insert (one commit) instead of one each. */
  private readonly inserts: WriteBatcher<NewImage>;
  /** And their sizes one update: a flood of answers stored together is not a commit per image. */
  private readonly sizes: WriteBatcher<StoredSize>;

  constructor(
    private readonly db: Db,
    /** Hears each image's bytes once its row is committed or its size known (src/metrics/). */
    private readonly metrics?: StorageMetricsSink,
  ) {
    this.inserts = new WriteBatcher(
      async (rows) =>
        void (await db
          .insertInto('images')
          .values([...rows])
          .execute()),
      { maxRows: MAX_ROWS_PER_INSERT },
    );
    this.sizes = new WriteBatcher((rows) => writeSizes(db, rows), { maxRows: MAX_ROWS_PER_INSERT });
  }

  /** Resolves once the row is committed. */
  async insert(row: NewImage): Promise<void> {
    await this.inserts.add(row);
    // A streamed image is recorded before its bytes come (0): setSize reports it.
    if (row.bytes > 0) this.metrics?.imageStored(row.bytes);
  }

  /** A streamed image's size, known once it is stored whole (it was recorded before its bytes came). */
  async setSize(id: string, bytes: number): Promise<void> {
    await this.sizes.add({ id, bytes });
    this.metrics?.imageStored(bytes);
  }

  async expired(now: number, limit: number): Promise<{ id: string; mime: string }[]> {
    return this.db.selectFrom('images').select(['id', 'mime']).where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.db.deleteFrom('images').where('id', 'in', ids).execute();
  }

  /**
   * Stored images, newest first, past `after` and `offset` rows skipped. Only whole ones: a streamed
   * image still being written (0 bytes) is not shown, nor one whose retention has ended but is not
   * swept yet.
   */
  async list(filter: ImageFilter, now: number, page: ListWindow): Promise<ImageRow[]> {
    let query = this.db.selectFrom('images').selectAll().where('bytes', '>', 0).where('expires_at', '>', now);
    if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
    if (filter.model !== undefined) query = query.where('model', '=', filter.model);
    if (filter.taskId !== undefined) query = query.where('task_id', '=', filter.taskId);
    if (filter.requestId !== undefined) query = query.where('request_id', '=', filter.requestId);
    if (filter.operation !== undefined) query = query.where('operation', '=', filter.operation);
    if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('created_at', '<', filter.to);
    if (filter.review === 'any') query = query.where('review', 'is not', null);
    else if (filter.review !== undefined) query = query.where('review', '=', filter.review);
    if (filter.withoutHeld) query = query.where((eb) => eb.or([eb('review', 'is', null), eb('review', '!=', 'refused')]));
    return newestFirst(query, page).execute();
  }

  /** A reviewer's verdict on a flagged or refused image; false when the image is not under review. */
  async setReview(id: string, review: ImageReview): Promise<boolean> {
    const result = await this.db.updateTable('images').set({ review }).where('id', '=', id).where('review', 'is not', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** One stored, whole, unexpired image; null otherwise. */
  async get(id: string, now: number): Promise<ImageRow | null> {
    const row = await this.db.selectFrom('images').selectAll().where('id', '=', id).where('bytes', '>', 0).where('expires_at', '>', now).executeTakeFirst();
    return row ?? null;
  }
}

/** One update for many images' sizes: `bytes = CASE id WHEN ... THEN ... END` over their ids. */
async function writeSizes(db: Db, rows: readonly StoredSize[]): Promise<void> {
  const [first, ...rest] = rows;
  if (!first) return;
  await db
    .updateTable('images')
    .set((eb) => {
      // Sizes as parameters (then(number) would write them into the SQL): the same SQL for every batch of a size, kept prepared.
      let bytes = eb.case().when('id', '=', first.id).then(eb.val(first.bytes));
      for (const row of rest) bytes = bytes.when('id', '=', row.id).then(eb.val(row.bytes));
      return { bytes: bytes.else(eb.ref('bytes')).end() };
    })
    .where(
      'id',
      'in',
      rows.map((row) => row.id),
    )
    .execute();
}
