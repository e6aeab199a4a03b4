/** One row per image request: who, which model and channel, what came back, how long it took. */
import type { BackgroundWork } from '../core/background-work.js';
import { WriteBatcher } from '../db/write-batcher.js';
import type { Db } from '../db/database.js';
import type { NewRequestLog } from '../db/schema.js';

/** Rows per insert: 17 columns each, far below either database's bound on parameters. */
const MAX_ROWS_PER_INSERT = 128;

export class RequestLog {
  /** Requests ending together share one multi-row insert. */
  private readonly inserts: WriteBatcher<NewRequestLog>;

  constructor(
    private readonly db: Db,
    private readonly background: BackgroundWork,
  ) {
    this.inserts = new WriteBatcher(
      async (rows) =>
        void (await db
          .insertInto('request_log')
          .values([...rows])
          .execute()),
      { maxRows: MAX_ROWS_PER_INSERT },
    );
  }

  /** Written after the response; shutdown waits for it. */
  record(row: NewRequestLog): void {
    this.background.run('request log', () => this.inserts.add(row));
  }

  async recent(limit: number) {
    return this.db.selectFrom('request_log').selectAll().orderBy('created_at', 'desc').limit(limit).execute();
  }
}
