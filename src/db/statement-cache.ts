/**
 * SQLite statements kept prepared, by their SQL. Kysely's SQLite driver prepares every statement
 * it runs: SQLite parses and plans it again each time, ~15-40 us a statement, on the event loop
 * (better-sqlite3 is synchronous), for the few shapes of statement a request runs. The gateway's
 * statements carry their values as parameters, so the same SQL comes back again and again; the
 * least recently used are dropped past a bound.
 *
 * Only all() and run() use a kept statement: each runs to its end before it returns, so a kept
 * statement is never busy when the next caller takes it. iterate() (Kysely's stream()) holds its
 * statement open between rows, so it prepares one of its own.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Statement shapes kept: the gateway has a few dozen; batched writes add one per batch size. */
const DEFAULT_MAX_STATEMENTS = 256;

export function withStatementCache(sqlite: BetterSqlite3.Database, maxStatements = DEFAULT_MAX_STATEMENTS): SqliteDatabase {
  const kept = new Map<string, SqliteStatement>();
  const keep = (sql: string): SqliteStatement => {
    const found = kept.get(sql);
    if (found) {
      // Most recently used last: the first key is the one to drop.
      kept.delete(sql);
      kept.set(sql, found);
      return found;
    }
    const statement = sqlite.prepare(sql);
    const entry: SqliteStatement = {
      reader: statement.reader,
      all: (parameters) => statement.all(parameters),
      run: (parameters) => statement.run(parameters),
      iterate: (parameters) => sqlite.prepare(sql).iterate(parameters),
    };
    kept.set(sql, entry);
    if (kept.size > maxStatements) {
      const oldest = kept.keys().next();
      if (!oldest.done) kept.delete(oldest.value);
    }
    return entry;
  };
  return {
    prepare: keep,
    close: () => {
      kept.clear();
      sqlite.close();
    },
  };
}
