/**
 * Keyset paging of the newest-first lists (images, tasks, usage rows: ordered by created_at, then
 * id, both descending). A page that ends on a row hands out that row's place as a cursor; the
 * next page is the rows past it. Unlike an offset, a cursor stays put while new rows arrive (no
 * row shown twice or skipped when a request lands between two pages) and costs the same however
 * deep the page: the database seeks to it instead of counting rows off.
 */
import type { RawBuilder, SelectQueryBuilder, SqlBool } from 'kysely';
import { sql } from './kysely.js';

/** The last row a page showed. */
export interface RowCursor {
  readonly createdAt: number;
  readonly id: string;
}

/** Which rows of a list a query reads: `limit` of them, past `after` (a cursor), `offset` skipped. */
export interface ListWindow {
  readonly limit: number;
  readonly offset: number;
  readonly after?: RowCursor | undefined;
}

/**
 * A newest-first list's page: its order (created_at, then id, both descending), the rows past the
 * cursor, the limit and offset. The order and the cursor's condition live here together, since a
 * cursor is only right for the order it was made in.
 */
export function newestFirst<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, page: ListWindow): SelectQueryBuilder<DB, TB, O> {
  const past = page.after ? query.where(pastCursor(page.after)) : query;
  return past.orderBy(sql`created_at`, 'desc').orderBy(sql`id`, 'desc').limit(page.limit).offset(page.offset);
}

/** The rows after `cursor` in newest-first order: older, or as old with a lower id. */
function pastCursor(cursor: RowCursor): RawBuilder<SqlBool> {
  return sql<SqlBool>`(created_at < ${cursor.createdAt} or (created_at = ${cursor.createdAt} and id < ${cursor.id}))`;
}

/** What a caller holds: opaque (base64url of `[created_at, id]`), so its shape can change. */
export function encodeCursor(row: { readonly created_at: number; readonly id: string }): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

/** Ids are the gateway's own (a few dozen characters); anything longer was not made here. */
const MAX_ID_LENGTH = 200;

/** The cursor `encodeCursor` made, or null for anything else. */
export function decodeCursor(text: string): RowCursor | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [createdAt, id] = value as unknown[];
  if (typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt) || createdAt < 0) return null;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return null;
  return { createdAt, id };
}
