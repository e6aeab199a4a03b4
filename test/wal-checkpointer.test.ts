import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { WalCheckpointer } from '../src/db/wal-checkpointer.js';

const dirs: string[] = [];
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A file database set up as the gateway's (WAL, synchronous NORMAL), with one table. */
function database(): { file: string; sqlite: SqliteDatabase.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-wal-'));
  dirs.push(dir);
  const file = join(dir, 'db.sqlite');
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.exec('create table rows (id integer primary key, body text not null)');
  closers.push(() => {
    if (sqlite.open) sqlite.close();
  });
  return { file, sqlite };
}

interface Logged {
  level: 'warn' | 'info';
  message: string;
}

function logger(): { lines: Logged[]; log: { warn: (f: object, m: string) => void; info: (f: object, m: string) => void } } {
  const lines: Logged[] = [];
  return { lines, log: { warn: (_f, message) => lines.push({ level: 'warn', message }), info: (_f, message) => lines.push({ level: 'info', message }) } };
}

const BODY = 'x'.repeat(16 * 1024);

/**
 * Commits `commits` rows of 16 KiB, one a transaction, in bursts of 20 (320 KiB) with a pause
 * after each, as the gateway's writes come between its other work; `pause` waits for what it
 * likes. Returns the largest the WAL file grew.
 */
async function write(sqlite: SqliteDatabase.Database, commits: number, pause: () => Promise<void>): Promise<number> {
  const insert = sqlite.prepare('insert into rows (body) values (?)');
  let largestWal = 0;
  for (let i = 0; i < commits; i++) {
    insert.run(BODY);
    if (i % 20 === 19) {
      largestWal = Math.max(largestWal, statSync(`${sqlite.name}-wal`).size);
      await pause();
    }
  }
  return largestWal;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Until the thread has run a checkpoint more (or a second has passed). */
async function nextCheckpoint(checkpointer: WalCheckpointer): Promise<void> {
  const seen = checkpointer.checkpoints;
  const deadline = Date.now() + 1_000;
  await sleep(1);
  while (checkpointer.started && checkpointer.checkpoints === seen && Date.now() < deadline) await sleep(2);
}

const pagesPerAutocheckpoint = (sqlite: SqliteDatabase.Database): unknown => sqlite.pragma('wal_autocheckpoint', { simple: true });

describe('WAL checkpoints on a thread of their own', () => {
  it('checkpoints on the thread: the WAL stays small, the rows all land, the writer keeps a far threshold', async () => {
    const { file, sqlite } = database();
    const { lines, log } = logger();
    const checkpointer = new WalCheckpointer(file, sqlite, log, { intervalMs: 20, startBytes: 256 * 1024 });
    closers.push(() => checkpointer.close());
    expect(checkpointer.started).toBe(false);
    // ~48 MB through the WAL. The writer restarts the WAL at its next commit after a checkpoint
    // that copied everything: with the thread, after each burst; at its own threshold (the
    // fallback, 10,000 pages) it would grow to ~40 MB first (the next test).
    const largestWal = await write(sqlite, 3_000, () => nextCheckpoint(checkpointer));
    expect(checkpointer.started).toBe(true);
    expect(pagesPerAutocheckpoint(sqlite)).toBe(10_000);
    expect(checkpointer.checkpoints).toBeGreaterThan(5);
    expect(largestWal).toBeLessThan(4 * 1024 * 1024);
    expect(lines).toEqual([]);
    // Closed first, then the gateway's connection: every row is in the file, which is whole.
    await checkpointer.close();
    sqlite.close();
    const reopened = new SqliteDatabase(file, { readonly: true });
    try {
      expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(reopened.prepare('select count(*) from rows').pluck().get()).toBe(3_000);
    } finally {
      reopened.close();
    }
  }, 60_000);

  it('the same writes at the fallback threshold without the thread: the WAL grows past 16 MB', async () => {
    const { sqlite } = database();
    sqlite.pragma('wal_autocheckpoint = 10000');
    expect(await write(sqlite, 3_000, () => sleep(2))).toBeGreaterThan(16 * 1024 * 1024);
  }, 60_000);

  it('does not start the thread while the WAL stays small', async () => {
    const { file, sqlite } = database();
    const { log } = logger();
    const checkpointer = new WalCheckpointer(file, sqlite, log, { intervalMs: 10, startBytes: 4 * 1024 * 1024 });
    closers.push(() => checkpointer.close());
    await write(sqlite, 40, () => sleep(5));
    await sleep(100);
    expect(checkpointer.started).toBe(false);
    expect(pagesPerAutocheckpoint(sqlite)).toBe(1_000);
  });

  it('gives the checkpoints back to the connection, and says so, when the thread cannot run', async () => {
    const { file, sqlite } = database();
    const { lines, log } = logger();
    const checkpointer = new WalCheckpointer(file, sqlite, log, { intervalMs: 10, startBytes: 64 * 1024 }, join(tmpdir(), 'no-such-driver.js'));
    closers.push(() => checkpointer.close());
    await write(sqlite, 40, () => sleep(5));
    const deadline = Date.now() + 10_000;
    while (lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lines).toEqual([{ level: 'warn', message: 'SQLite checkpoint thread stopped: WAL checkpoints run on the event loop again' }]);
    expect(checkpointer.started).toBe(false);
    expect(pagesPerAutocheckpoint(sqlite)).toBe(1_000);
  });
});
