/** The images table: which stored images exist and when retention ends for each. */
import { WriteBatcher } from '../db/write-batcher.js';
import type { Db } from '../db/database.js';
import type { NewImage } from '../db/schema.js';
import type { StorageMetricsSink } from '../core/metrics-sink.js';

/** Rows per insert: 7 columns each, far below either database's bound on parameters. */
const MAX_ROWS_PER_INSERT = 256;

export class ImageRecords {
  /** Concurrent images share one multi-row insert (one commit) instead of one each. */
  private readonly inserts: WriteBatcher<NewImage>;

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
  }

  /** Resolves once the row is committed. */
  async insert(row: NewImage): Promise<void> {
    await this.inserts.add(row);
    // A streamed image is recorded before its bytes come (0): setSize reports it.
    if (row.bytes > 0) this.metrics?.imageStored(row.bytes);
  }

  /** A streamed image's size, known once it is stored whole (it was recorded before its bytes came). */
  async setSize(id: string, bytes: number): Promise<void> {
    await this.db.updateTable('images').set({ bytes }).where('id', '=', id).execute();
    this.metrics?.imageStored(bytes);
  }

  async expired(now: number, limit: number): Promise<{ id: string; mime: string }[]> {
    return this.db.selectFrom('images').select(['id', 'mime']).where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.db.deleteFrom('images').where('id', 'in', ids).execute();
  }
}
