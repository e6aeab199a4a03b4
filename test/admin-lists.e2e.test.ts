/**
 * The admin list routes read their query one way (http/admin-list.ts): a bad limit, offset or
 * filter is a 400 naming it on every one of them, and a valid page is the same page everywhere
 * (limit rows, offset skipped, has_more when more follow). Real server on port 0.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_ADMIN_KEY, adminJson } from './helpers/admin.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest } from './helpers/raw-http.js';

let gw: TestGateway;
let lists: string[];
beforeAll(async () => {
  gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY });
  // Three of everything each list shows: keys (with the tests' own), ledger entries, channels, requests, tasks.
  const key = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'lists', credits: 1 });
  for (const name of ['b', 'c']) await adminJson(gw.origin, 'POST', '/admin/api/keys', { name });
  for (const amount of [1, 2]) await adminJson(gw.origin, 'POST', `/admin/api/keys/${String(key.id)}/credits`, { amount });
  for (const name of ['demo-a', 'demo-b', 'demo-c']) await adminJson(gw.origin, 'POST', '/admin/api/channels', { name, kind: 'demo' });
  for (let i = 0; i < 3; i++) await gw.client.images.generate({ model: 'dall-e-2', prompt: `fox ${i}`, size: '256x256', response_format: 'url' });
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${gw.origin}/api/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-2', prompt: `task ${i}`, size: '256x256' }),
    });
    expect(res.status).toBe(200);
  }
  // Request rows land after their answers (and the tasks' when they run): a row landing mid-test would shift the pages.
  await vi.waitFor(
    async () => {
      const usage = await adminJson(gw.origin, 'GET', '/admin/api/usage');
      if ((usage.data as unknown[]).length !== 6) throw new Error('request rows still landing');
    },
    { timeout: 15_000, interval: 50 },
  );
  lists = ['/admin/api/keys', '/admin/api/channels', '/admin/api/tasks', '/admin/api/usage', `/admin/api/keys/${String(key.id)}/ledger`];
});
afterAll(async () => gw?.close());

const get = (path: string) => rawRequest(gw.origin, { method: 'GET', path, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
const join = (path: string, query: string) => `${path}${path.includes('?') ? '&' : '?'}${query}`;

interface Listed {
  data: { id: string }[];
  has_more: boolean;
}

describe('admin lists: one query, the same everywhere', () => {
  const BAD: [query: string, code: string, param: string][] = [
    ['limit=abc', 'invalid_type', 'limit'],
    ['limit=', 'invalid_type', 'limit'],
    ['limit=1.5', 'invalid_type', 'limit'],
    ['limit=-1', 'invalid_value', 'limit'],
    ['limit=1001', 'invalid_value', 'limit'],
    ['limit=1&limit=2', 'invalid_type', 'limit'],
    ['offset=x', 'invalid_type', 'offset'],
    ['offset=-5', 'invalid_value', 'offset'],
    ['limit=1e400', 'invalid_value', 'limit'],
    ['offset=1e400', 'invalid_value', 'offset'],
    ['offset=1e20', 'invalid_value', 'offset'],
  ];

  it.each(BAD)('?%s is a 400 naming the parameter on every admin list', async (query, code, param) => {
    for (const path of lists) {
      const res = await get(join(path, query));
      expect(res.status, path).toBe(400);
      expect(res.json, path).toMatchObject({ error: { type: 'invalid_request_error', code, param } });
      expect(String((res.json?.error as { message?: unknown }).message), path).toContain(param);
    }
  });

  it('a filter that is not valid is a 400 naming it, on the lists that take it', async () => {
    for (const path of ['/admin/api/tasks', '/admin/api/usage']) {
      for (const param of ['from', 'to']) {
        // Epoch ms past what a Date holds were a database 500 (the fuzz suite found it).
        for (const value of ['garbage', '99999999999999999999', '8640000000000001']) {
          const res = await get(`${path}?${param}=${value}`);
          expect(res.status, `${path} ${param}=${value}`).toBe(400);
          expect(res.json).toMatchObject({ error: { code: 'invalid_value', param } });
        }
      }
      const repeated = await get(`${path}?model=a&model=b`);
      expect(repeated.json).toMatchObject({ error: { code: 'invalid_type', param: 'model' } });
    }
    const state = await get('/admin/api/tasks?state=done');
    expect(state.status).toBe(400);
    expect(state.json).toMatchObject({ error: { code: 'invalid_value', param: 'state' } });
    expect(String((state.json?.error as { message: string }).message)).toContain('queued, running, succeeded, failed');
  });

  it('limit and offset page every list alike: limit rows, the next page after offset, has_more while more follow', async () => {
    for (const path of lists) {
      const all = (await get(path)).json as unknown as Listed;
      expect(all.data.length, path).toBeGreaterThanOrEqual(3);
      expect(all.has_more, path).toBe(false);
      const first = (await get(join(path, 'limit=1'))).json as unknown as Listed;
      expect(
        first.data.map((r) => r.id),
        path,
      ).toEqual([all.data[0]?.id]);
      expect(first.has_more, path).toBe(true);
      const second = (await get(join(path, 'limit=1&offset=1'))).json as unknown as Listed;
      expect(
        second.data.map((r) => r.id),
        path,
      ).toEqual([all.data[1]?.id]);
      const last = (await get(join(path, `limit=2&offset=${all.data.length - 1}`))).json as unknown as Listed;
      expect(
        last.data.map((r) => r.id),
        path,
      ).toEqual([all.data.at(-1)?.id]);
      expect(last.has_more, path).toBe(false);
      const none = (await get(join(path, 'limit=0'))).json as unknown as Listed;
      expect(none.data, path).toEqual([]);
      expect(none.has_more, path).toBe(true);
      const past = (await get(join(path, 'offset=1000000'))).json as unknown as Listed;
      expect(past.data, path).toEqual([]);
    }
  });

  it('usage keeps its totals whatever the page; limit=0 answers them alone', async () => {
    const usage = (await get('/admin/api/usage?limit=0')).json as { totals: { requests: number }; data: unknown[] };
    expect(usage.data).toEqual([]);
    expect(usage.totals.requests).toBeGreaterThanOrEqual(3);
  });
});
