import SqliteDatabase from 'better-sqlite3';
import type { Generated } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { withStatementCache } from '../src/db/statement-cache.js';
import { Kysely, SqliteDialect, sql } from '../src/db/kysely.js';

interface Tables {
  items: { id: Generated<number>; name: string };
}

/** A real in-memory SQLite whose prepare() calls are counted by their SQL. */
function counted(): { sqlite: SqliteDatabase.Database; prepared: string[] } {
  const sqlite = new SqliteDatabase(':memory:');
  const prepared: string[] = [];
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    prepared.push(source);
    return prepare(source);
  }) as typeof sqlite.prepare;
  sqlite.exec('create table items (id integer primary key, name text not null)');
  return { sqlite, prepared };
}

let open: Kysely<Tables> | undefined;
afterEach(async () => {
  await open?.destroy();
  open = undefined;
});

function kyselyOver(sqlite: SqliteDatabase.Database, maxStatements?: number): Kysely<Tables> {
  open = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, maxStatements) }) });
  return open;
}

/** Rows 1..count named n1..nN, one insert each (the same statement every time). */
async function insertNumbered(db: Kysely<Tables>, count: number): Promise<void> {
  for (let i = 1; i <= count; i++)
    await db
      .insertInto('items')
      .values({ id: i, name: `n${i}` })
      .execute();
}

describe('SQLite statements kept prepared', () => {
  it('prepares a statement once however often it runs, with the values of each run', async () => {
    const { sqlite, prepared } = counted();
    const db = kyselyOver(sqlite);
    await insertNumbered(db, 50);
    for (let i = 1; i <= 50; i++) {
      const row = await db.selectFrom('items').select('name').where('id', '=', i).executeTakeFirst();
      expect(row?.name).toBe(`n${i}`);
    }
    const inserts = prepared.filter((s) => s.startsWith('insert'));
    const selects = prepared.filter((s) => s.startsWith('select'));
    expect(inserts).toHaveLength(1);
    expect(selects).toHaveLength(1);
    const { count } = (await db
      .selectFrom('items')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow()) as { count: number };
    expect(count).toBe(50);
  });

  it('reports changes and insert ids of writes as Kysely expects', async () => {
    const { sqlite } = counted();
    const db = kyselyOver(sqlite);
    const inserted = await db.insertInto('items').values({ name: 'a' }).executeTakeFirstOrThrow();
    expect(inserted.insertId).toBe(1n);
    await db.insertInto('items').values({ name: 'b' }).execute();
    const updated = await db.updateTable('items').set({ name: 'c' }).where('id', '>', 0).executeTakeFirstOrThrow();
    expect(updated.numUpdatedRows).toBe(2n);
  });

  it('streams the SQL of a kept statement, and runs it again after', async () => {
    const { sqlite, prepared } = counted();
    const db = kyselyOver(sqlite);
    await insertNumbered(db, 5);
    const query = db.selectFrom('items').select(['id', 'name']).orderBy('id');
    expect(await query.execute()).toHaveLength(5);
    const seen: number[] = [];
    for await (const row of query.stream()) seen.push(row.id);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    // A stream left half read: its statement is its own, so the kept one is free.
    for await (const row of query.stream()) if (row.id === 2) break;
    expect(await query.execute()).toHaveLength(5);
    // Kept once; each stream prepared its own.
    expect(prepared.filter((s) => s.startsWith('select "id", "name"'))).toHaveLength(3);
  });

  it('keeps at most the bound, dropping the least recently used', async () => {
    const { sqlite, prepared } = counted();
    const db = kyselyOver(sqlite, 2);
    const byId = (id: number) => db.selectFrom('items').select('id').where('id', '=', id);
    const byName = (name: string) => db.selectFrom('items').select('id').where('name', '=', name);
    const all = () => db.selectFrom('items').selectAll();
    await byId(1).execute();
    await byName('x').execute();
    await byId(2).execute(); // kept: byId is now the most recent
    await all().execute(); // a third shape: byName, the least recent, goes
    await byId(3).execute(); // still kept
    await byName('y').execute(); // prepared again
    const count = (start: string) => prepared.filter((s) => s.includes(start)).length;
    expect(count('where "id" = ?')).toBe(1);
    expect(count('where "name" = ?')).toBe(2);
  });

  it('still runs a kept statement after the schema changed under it', async () => {
    const { sqlite } = counted();
    const db = kyselyOver(sqlite);
    await db.insertInto('items').values({ id: 1, name: 'a' }).execute();
    const rows = () => db.selectFrom('items').selectAll().execute();
    expect(await rows()).toEqual([{ id: 1, name: 'a' }]);
    await sql`alter table items add column extra text default 'e'`.execute(db);
    expect(await rows()).toEqual([{ id: 1, name: 'a', extra: 'e' }]);
  });

  it('closes the database with Kysely', async () => {
    const { sqlite } = counted();
    const db = kyselyOver(sqlite);
    await db.selectFrom('items').selectAll().execute();
    await db.destroy();
    open = undefined;
    expect(sqlite.open).toBe(false);
  });
});
