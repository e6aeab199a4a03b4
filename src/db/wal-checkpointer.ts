/**
 * SQLite's WAL checkpoints, run by a thread of their own. Left to itself, SQLite checkpoints on
 * the connection that commits once the WAL passes 1,000 pages: it copies them into the database
 * file and syncs both files, and better-sqlite3 does that on the event loop. At 150 requests a
 * second (strace of the gateway, 256 px answers) that was an fsync stall of 11-15 ms, then 2 ms,
 * about every second, with every request in flight stopped behind it; a slower disk stops it longer.
 *
 * Once the WAL first grows past `startBytes` (a gateway that hardly writes never starts the
 * thread), a worker thread opens the same file and runs a PASSIVE checkpoint every `intervalMs`:
 * it never waits for the gateway's connection, and the gateway's never waits for it (WAL lets a
 * writer go on while a checkpoint copies). The writer still restarts the WAL from its start at
 * its first commit after a checkpoint that copied everything, which costs it one small sync
 * (0.6-0.7 ms, three in 8 s in the same run; the thread's syncs took 4-10 ms each).
 *
 * The gateway's connection keeps a threshold of its own, far higher: writes without a pause for
 * long enough to outrun the thread still meet a bound on the WAL. A thread that dies gives the
 * checkpoints back to the event loop at SQLite's default, and says so.
 */
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { WatchLog } from './connection-watch.js';

export interface WalCheckpointerOptions {
  /** How often the thread checkpoints once started. */
  intervalMs?: number;
  /** The WAL size at which the thread starts. */
  startBytes?: number;
}

/** SQLite's own threshold, in pages: what the gateway's connection goes back to if the thread dies. */
const SQLITE_DEFAULT_PAGES = 1_000;
/** The gateway's connection's threshold while the thread works: only reached if the thread falls far behind (~40 MB). */
const FALLBACK_PAGES = 10_000;
const DEFAULT_INTERVAL_MS = 250;
const DEFAULT_START_BYTES = 1024 * 1024;

/** What the thread answers each checkpoint with. */
type Checkpointed = { ok: true; busy: number; log: number; checkpointed: number } | { ok: false; message: string };

/**
 * The thread's code: plain JavaScript evaluated in the worker, so it runs the same from the
 * sources, from dist/ and from the bundle, without a loader of its own.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, busy: row.busy, log: row.log, checkpointed: row.checkpointed });
  } catch (err) {
    parentPort.postMessage({ ok: false, message: String((err && err.message) || err) });
  }
});
`;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private readonly timer: NodeJS.Timeout;
  private inFlight = false;
  private closed = false;
  private failed = false;
  /** Checkpoints the thread has run: for tests and the log. */
  checkpoints = 0;

  constructor(
    private readonly file: string,
    private readonly sqlite: BetterSqlite3.Database,
    private readonly log: WatchLog,
    options: WalCheckpointerOptions = {},
    /** better-sqlite3's entry, as the thread requires it (tests give a wrong one). */
    private readonly driver = createRequire(import.meta.url).resolve('better-sqlite3'),
  ) {
    const startBytes = options.startBytes ?? DEFAULT_START_BYTES;
    this.timer = setInterval(() => void this.tick(startBytes), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
  }

  /** The thread is running. */
  get started(): boolean {
    return this.worker !== undefined && !this.failed;
  }

  /** Stops the thread (closing its connection) before the gateway's own connection closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const worker = this.worker;
    if (!worker || this.failed) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    const late = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(late);
  }

  private async tick(startBytes: number): Promise<void> {
    if (this.closed || this.failed) return;
    if (!this.worker) {
      const size = await stat(`${this.file}-wal`).then(
        (s) => s.size,
        () => 0,
      );
      if (size >= startBytes && !this.closed) this.start();
      return;
    }
    if (this.inFlight) return;
    this.inFlight = true;
    this.worker.postMessage('checkpoint');
  }

  private start(): void {
    const worker = new Worker(THREAD, { eval: true, name: 'sqlite checkpoints', workerData: { driver: this.driver, file: this.file } });
    this.worker = worker;
    this.sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_PAGES}`);
    worker.unref();
    worker.on('message', (answer: Checkpointed) => {
      this.inFlight = false;
      if (answer.ok) this.checkpoints++;
      else this.log.warn({ reason: answer.message }, 'SQLite WAL checkpoint failed: tried again at the next');
    });
    worker.on('error', (err) => this.fail(err.message));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(`exited with code ${code}`);
    });
  }

  private fail(reason: string): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    clearInterval(this.timer);
    if (this.sqlite.open) this.sqlite.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`);
    this.log.warn({ reason }, 'SQLite checkpoint thread stopped: WAL checkpoints run on the event loop again');
  }
}
