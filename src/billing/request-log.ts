/** One row per image request: who, which model and channel, what came back, how long it took. */
import type { BackgroundWork } from '../core/background-work.js';
import type { Db } from '../db/database.js';
import type { NewRequestLog } from '../db/schema.js';

export class RequestLog {
  constructor(
    private readonly db: Db,
    private readonly background: BackgroundWork,
  ) {}

  /** Written after the response; shutdown waits for it. */
  record(row: NewRequestLog): void {
    this.background.run('request log', async () => {
      await this.db.insertInto('request_log').values(row).execute();
    });
  }

  async recent(limit: number) {
    return this.db.selectFrom('request_log').selectAll().orderBy('created_at', 'desc').limit(limit).execute();
  }
}
