/** The images table: which stored images exist and when retention ends for each. */
import type { Db } from '../db/database.js';
import type { NewImage } from '../db/schema.js';

export class ImageRecords {
  constructor(private readonly db: Db) {}

  async insert(row: NewImage): Promise<void> {
    await this.db.insertInto('images').values(row).execute();
  }

  async expired(now: number, limit: number): Promise<{ id: string; mime: string }[]> {
    return this.db.selectFrom('images').select(['id', 'mime']).where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.db.deleteFrom('images').where('id', 'in', ids).execute();
  }
}
