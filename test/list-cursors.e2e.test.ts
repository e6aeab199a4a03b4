/**
 * Paging by cursor (http/admin-list.ts, db/row-cursor.ts) on the lists that grow with traffic:
 * /admin/api/images, /admin/api/tasks, /admin/api/usage, /v1/account/images and
 * /v1/account/tasks, on SQLite and PostgreSQL. Walking `after` = `next_cursor` gives every row
 * once, in the list's order, including rows made in the same millisecond (an n=2 generation's
 * images); a page asked by cursor is the same after new rows arrive (an offset's page shifts);
 * a cursor that is not one, or one with an offset, is a 400 naming its parameter, and so is any
 * cursor given to a list held whole (keys, channels, a ledger). Real server on
 * port 0, the official SDK for the generations.
 */
import { describe, expect, it, vi } from 'vitest';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { rawRequest } from './helpers/raw-http.js';

closeAfterEach();
const runPostgres = await postgresAvailable();

interface Listed {
  data: { id: string }[];
  has_more: boolean;
  next_cursor: string | null;
}

/** Each list, and what each generation below adds to it (the account lists are the test key's). */
const LISTS = [
  { path: '/admin/api/images', admin: true },
  { path: '/admin/api/tasks', admin: true },
  { path: '/admin/api/usage', admin: true },
  { path: '/v1/account/images', admin: false },
  { path: '/v1/account/tasks', admin: false },
] as const;

async function listOf(gw: TestGateway, list: { path: string; admin: boolean }, query = ''): Promise<{ status: number; json: Record<string, unknown> }> {
  const authorization = `Bearer ${list.admin ? TEST_ADMIN_KEY : gw.apiKey}`;
  const res = await rawRequest(gw.origin, { method: 'GET', path: `${list.path}${query}`, headers: { authorization } });
  return { status: res.status, json: (res.json ?? {}) as Record<string, unknown> };
}

const ids = (page: { json: Record<string, unknown> }) => (page.json as unknown as Listed).data.map((row) => row.id);

/** A url generation (two images made in the same millisecond) and a task, then until every list shows them. */
async function makeRows(gw: TestGateway, counts: Record<string, number>, prompt: string): Promise<void> {
  await gw.client.images.generate({ model: 'dall-e-2', prompt, size: '256x256', n: 2, response_format: 'url' });
  const res = await fetch(`${gw.origin}/api/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'dall-e-2', prompt: `${prompt} (task)`, size: '256x256' }),
  });
  expect(res.status).toBe(200);
  // A task's image and request row land when it runs: wait until each list has what it will have.
  const want = { '/admin/api/images': 3, '/admin/api/tasks': 1, '/admin/api/usage': 2, '/v1/account/images': 3, '/v1/account/tasks': 1 };
  for (const list of LISTS) counts[list.path] = (counts[list.path] ?? 0) + want[list.path];
  await vi.waitFor(
    async () => {
      for (const list of LISTS) {
        const shown = ids(await listOf(gw, list, '?limit=1000')).length;
        if (shown !== counts[list.path]) throw new Error(`${list.path}: ${shown} rows, ${counts[list.path]} to come`);
      }
    },
    { timeout: 30_000, interval: 50 },
  );
}

function cursorSuite(backend: 'sqlite' | 'postgres') {
  async function gateway(): Promise<TestGateway> {
    const env: Record<string, string> = { IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY };
    if (backend === 'postgres') {
      const pg = await createTestDatabase();
      onCleanup(() => pg.drop());
      env.DATABASE_URL = pg.url;
    }
    return later(await startGateway(env));
  }

  it('walking next_cursor gives every row once, in order, ties in the same millisecond included; a cursor’s page stays put as rows arrive, an offset’s shifts', async () => {
    const gw = await gateway();
    const counts: Record<string, number> = {};
    for (const prompt of ['a fox', 'a heron', 'a lighthouse']) await makeRows(gw, counts, prompt);

    const firstPages = new Map<string, { cursor: string; next: string[] }>();
    for (const list of LISTS) {
      const all = ids(await listOf(gw, list, '?limit=1000'));
      expect(all.length, list.path).toBe(counts[list.path]);
      const walked: string[] = [];
      let query = '?limit=2';
      for (let turn = 0; turn < 50; turn++) {
        const page = await listOf(gw, list, query);
        expect(page.status, list.path).toBe(200);
        const listed = page.json as unknown as Listed;
        walked.push(...ids(page));
        expect(listed.has_more, list.path).toBe(listed.next_cursor !== null);
        if (listed.next_cursor === null) break;
        if (turn === 0) firstPages.set(list.path, { cursor: listed.next_cursor, next: all.slice(2, 4) });
        query = `?limit=2&after=${listed.next_cursor}`;
      }
      expect(walked, list.path).toEqual(all);
    }

    // New rows arrive: the page after the first one's cursor is what it was; offset=2 now shows other rows.
    await makeRows(gw, counts, 'a bridge');
    for (const list of LISTS) {
      const first = firstPages.get(list.path);
      if (!first) throw new Error(`${list.path}: no first page`);
      expect(ids(await listOf(gw, list, `?limit=2&after=${first.cursor}`)), list.path).toEqual(first.next);
      expect(ids(await listOf(gw, list, '?limit=2&offset=2')), list.path).not.toEqual(first.next);
    }
  }, 120_000);

  it('a cursor that is not one is a 400 naming after; with an offset, a 400 naming offset', async () => {
    const gw = await gateway();
    await makeRows(gw, {}, 'a kite');
    const good = (await listOf(gw, LISTS[0], '?limit=1')).json.next_cursor as string;
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const bad = [
      '',
      'garbage',
      '%00',
      forged({ created_at: 1, id: 'x' }),
      forged([1]),
      forged([-1, 'x']),
      forged([1.5, 'x']),
      forged([1, '']),
      forged([1, 'x'.repeat(201)]),
      'A'.repeat(401),
    ];
    for (const list of LISTS) {
      for (const after of bad) {
        const res = await listOf(gw, list, `?after=${after}`);
        expect(res.status, `${list.path} after=${after.slice(0, 20)}`).toBe(400);
        expect(res.json, list.path).toMatchObject({ error: { type: 'invalid_request_error', param: 'after' } });
      }
      const both = await listOf(gw, list, `?after=${good}&offset=1`);
      expect(both.status, list.path).toBe(400);
      expect(both.json, list.path).toMatchObject({ error: { code: 'invalid_value', param: 'offset' } });
    }
  }, 60_000);

  it('the lists held whole (keys, channels, a key’s ledger) refuse a cursor instead of answering from their start', async () => {
    const gw = await gateway();
    await makeRows(gw, {}, 'a lantern');
    const good = (await listOf(gw, LISTS[0], '?limit=1')).json.next_cursor as string;
    expect(typeof good).toBe('string');
    const keyId = ((await listOf(gw, { path: '/admin/api/keys', admin: true })).json.data as { id: string }[])[0]?.id;
    for (const path of ['/admin/api/keys', '/admin/api/channels', `/admin/api/keys/${keyId}/ledger`]) {
      const whole = await listOf(gw, { path, admin: true }, '?limit=1');
      expect(whole.status, path).toBe(200);
      expect(whole.json.next_cursor, path).toBeUndefined();
      // Another list's cursor, a mangled one, an empty one: each told this list pages by offset.
      for (const after of [good, 'garbage', '']) {
        const res = await listOf(gw, { path, admin: true }, `?after=${after}`);
        expect(res.status, `${path} after=${after}`).toBe(400);
        expect(res.json, path).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_value', param: 'after' } });
        expect((res.json.error as { message: string }).message, path).toContain('not paged by cursor');
      }
    }
  }, 60_000);
}

describe('paging by cursor', () => {
  describe('sqlite', () => cursorSuite('sqlite'));
  describe.skipIf(!runPostgres)('postgres', () => cursorSuite('postgres'));
});
