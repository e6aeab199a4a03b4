/**
 * Rows written together: what is added during one turn of the event loop (and, while a write is
 * in flight, until it ends) goes out as one multi-row write. Each add resolves when the write
 * holding its row has committed, so a caller that must see its row stored (an image record
 * before its bytes) waits for exactly that, sharing the commit with whoever else was writing.
 * Nothing waits on a timer: alone, a row is written at the end of the turn it was added in. A
 * full batch goes out at once: in a flood (a thousand answers arriving together) one turn's poll
 * phase can run for seconds, and every caller waiting for its row (an image's bytes held in
 * memory until its record is committed) would wait that long.
 */

export interface WriteBatcherOptions {
  /** Most rows in one write (statements have a bound on their parameters). */
  maxRows: number;
}

interface Pending<Row> {
  row: Row;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class WriteBatcher<Row> {
  private queue: Pending<Row>[] = [];
  private scheduled = false;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly write: (rows: readonly Row[]) => Promise<void>,
    private readonly options: WriteBatcherOptions,
  ) {}

  /** Resolves once the row is written; rejects with the error of its own write. */
  add(row: Row): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (this.queue.length >= this.options.maxRows) queueMicrotask(() => this.start());
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  /** Writes what is queued, unless a write is under way (its loop takes what came meanwhile). */
  private start(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      // Rows that came while writing go out now, together.
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxRows);
      await this.writeBatch(batch);
    }
  }

  /**
   * One write for the batch. When it fails, each row is tried alone, so that one row's fault
   * (a constraint it breaks) fails only its own caller; an outage fails each of them anyway.
   */
  private async writeBatch(batch: readonly Pending<Row>[]): Promise<void> {
    try {
      await this.write(batch.map((p) => p.row));
      for (const p of batch) p.resolve();
      return;
    } catch (err) {
      if (batch.length === 1) return batch[0]?.reject(err);
    }
    await Promise.all(
      batch.map(async (p) => {
        try {
          await this.write([p.row]);
          p.resolve();
        } catch (err) {
          p.reject(err);
        }
      }),
    );
  }
}
