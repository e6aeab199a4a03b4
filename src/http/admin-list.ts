/**
 * What every admin list route reads from its query, one way for all of them: `limit` (0 to
 * 1000) and `offset`, a page of the list, and the filters a route offers (`key`, `model`,
 * `from`, `to`, `state`), each checked by the route's schema: a bad value is a 400 naming it, on
 * every route alike. A list's default limit is what it answered before it had pages (100 tasks or
 * usage rows; all keys, channels and ledger entries, up to 1000). A list answer says whether more
 * rows follow (`has_more`). The lists that grow with traffic (images, tasks, usage rows) also
 * page by cursor (db/row-cursor.ts): their answer's `next_cursor`, given back as `after`.
 */
import { Type, type TProperties, type TUnsafe } from '@sinclair/typebox';
import { invalidRequest } from '../core/errors.js';
import { decodeCursor, encodeCursor, type ListWindow } from '../db/row-cursor.js';

export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

/** limit and offset, as every admin list takes them; `defaultLimit` is what the list answered before it had pages. */
function pageQuery(defaultLimit: number) {
  return {
    limit: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_LIST_LIMIT,
        default: defaultLimit,
        description: `Rows to answer, 0 to ${MAX_LIST_LIMIT} (default ${defaultLimit}).`,
      }),
    ),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Rows to skip before the first one answered.' })),
  };
}

/** `from` / `to`: a time range on when the row was made. */
export const TIME_RANGE_QUERY = {
  from: Type.Optional(Type.String({ description: 'Rows made at or after this time: a date (YYYY-MM-DD or ISO 8601) or epoch milliseconds.' })),
  to: Type.Optional(Type.String({ description: 'Rows made before this time: a date (YYYY-MM-DD or ISO 8601) or epoch milliseconds.' })),
};

export const KEY_FILTER = { key: Type.Optional(Type.String({ description: 'Only rows of this client key (its id).' })) };
export const MODEL_FILTER = { model: Type.Optional(Type.String({ description: 'Only rows of this model.' })) };

/** The query schema of an admin list: a page, plus the route's filters. */
export function adminListQuery<T extends TProperties>(filters: T, defaultLimit = DEFAULT_LIST_LIMIT) {
  return Type.Object({ ...pageQuery(defaultLimit), ...filters });
}

/** `after`: where a list that pages by cursor goes on. */
const AFTER_QUERY = {
  after: Type.Optional(
    Type.String({
      maxLength: 400,
      description:
        'Rows after this cursor: the `next_cursor` of the page before. Unlike `offset`, it stays put while new rows arrive (none shown twice or skipped). Not with `offset`.',
    }),
  ),
};

/** The query schema of a list that grows with traffic (newest first): a page by offset or cursor, plus the route's filters. */
export function rowListQuery<T extends TProperties>(filters: T) {
  return Type.Object({ ...pageQuery(DEFAULT_LIST_LIMIT), ...AFTER_QUERY, ...filters });
}

/** One of a few strings (a single `enum`, so a refusal lists them). */
export function stringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export type Page = ListWindow;

/** The page a validated query asks for (the schema has filled in its defaults); a bad cursor is a 400 naming `after`. */
export function pageOf(query: { limit?: number; offset?: number; after?: string }): Page {
  const page = { limit: query.limit ?? DEFAULT_LIST_LIMIT, offset: query.offset ?? 0 };
  if (query.after === undefined) return page;
  const after = decodeCursor(query.after);
  if (!after) throw invalidRequest('after', 'invalid_value', 'after must be the next_cursor of an earlier page of this list.');
  if (page.offset > 0) throw invalidRequest('offset', 'invalid_value', 'offset cannot be combined with after: the cursor already says where the page starts.');
  return { ...page, after };
}

/** `has_more` beside `data`: fetch one row past the page to know. */
function pageAnswer<T>(rows: readonly T[], page: Page): { data: T[]; has_more: boolean } {
  return { data: rows.slice(0, page.limit), has_more: rows.length > page.limit };
}

/** `pageAnswer` of a newest-first list, with the cursor of its last row when more follow. */
export function rowPageAnswer<T extends { created_at: number; id: string }>(
  rows: readonly T[],
  page: Page,
): { data: T[]; has_more: boolean; next_cursor: string | null } {
  const { data, has_more } = pageAnswer(rows, page);
  const last = data.at(-1);
  return { data, has_more, next_cursor: has_more && last ? encodeCursor(last) : null };
}

/**
 * The page a list held whole asks for: by offset only. A cursor (its schema does not declare one)
 * is refused whatever it holds: ignored, another list's cursor answered this list from its start.
 */
export function offsetPageOf(query: { limit?: number; offset?: number; after?: unknown }): Page {
  const { after, ...byOffset } = query;
  if (after !== undefined)
    throw invalidRequest('after', 'invalid_value', 'This list is not paged by cursor: page it with offset (its answers carry no next_cursor).');
  return pageOf(byOffset);
}

/** A page of a list held whole (keys, channels, a key's ledger). */
export function pageOfList<T>(rows: readonly T[], page: Page): { data: T[]; has_more: boolean } {
  return pageAnswer(rows.slice(page.offset, page.offset + page.limit + 1), page);
}

/** The most epoch milliseconds a Date holds either side of 1970. */
const MAX_DATE_MS = 8.64e15;

/**
 * A time filter's value as epoch ms; absent or empty is no bound. Epoch ms past what a Date holds
 * (`to=99999999999999999999`) are refused like any other bad date: the database cannot bind them.
 */
export function timeBound(value: string | undefined, param: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms) || ms > MAX_DATE_MS)
    throw invalidRequest(param, 'invalid_value', `${param} must be a date (YYYY-MM-DD or ISO 8601) or epoch milliseconds.`);
  return ms;
}

/** `has_more` in a list answer's schema. */
export const HAS_MORE = { has_more: Type.Boolean({ description: 'More rows follow this page (ask again with a larger offset).' }) };

/** `has_more` and `next_cursor` in the answer of a list that pages by cursor. */
export const MORE_AFTER = {
  has_more: Type.Boolean({ description: 'More rows follow this page: ask again with `after` set to `next_cursor` (or a larger offset).' }),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Where the next page starts (give it back as `after`); null on the last page, and with limit=0 (no row to go on from).',
  }),
};
