/**
 * The gallery API (/admin/api/images): images made through the real gateway with the official
 * `openai` SDK (the demo channel; Recraft's simulator for an SVG) are listed newest first with
 * the prompt and parameters behind them, filtered by key, model, task, request, operation and
 * time, paged; each has a working signed link and a signed thumbnail link (a real WebP of at
 * most 256 px, made by sharp; an SVG's is the SVG); time left before retention counts down;
 * deleting one removes its bytes (its links answer 404) and its row; bad filters and ids are
 * refused in the admin dialect; with IMAGEGATE_GALLERY_PROMPTS=false no prompt is stored.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecraftSimulator } from '../sim/recraft.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { makePng } from './helpers/inputs.js';
import { rawRequest } from './helpers/raw-http.js';
import { startS3 } from './helpers/s3.js';
import { schemaMismatch } from './helpers/schema-match.js';

closeAfterEach();
const runPostgres = await postgresAvailable();

interface GalleryImage {
  id: string;
  object: 'image';
  url: string;
  thumbnail_url: string;
  mime: string;
  bytes: number;
  width: number | null;
  height: number | null;
  created_at: string;
  expires_at: string;
  expires_in_s: number;
  key_id: string | null;
  model: string | null;
  request_id: string;
  task_id: string | null;
  operation: string | null;
  prompt: string | null;
  params: Record<string, unknown>;
}
interface ImageList {
  object: 'list';
  data: GalleryImage[];
  has_more: boolean;
}

const RETENTION_S = 3600;
let gw: TestGateway;
let keyA: string;
let keyB: string;
let foxRequestId: string;
let taskId: string;

const adminGet = (path: string) => rawRequest(gw.origin, { method: 'GET', path, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
const list = async (query = ''): Promise<ImageList> => {
  const res = await adminGet(`/admin/api/images${query}`);
  expect(res.status, res.text).toBe(200);
  return res.json as unknown as ImageList;
};

async function waitForImages(count: number): Promise<ImageList> {
  for (let i = 0; i < 400; i++) {
    const all = await list();
    if (all.data.length >= count) return all;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the gallery never held ${count} images`);
}

beforeAll(async () => {
  gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TASK_POLL: '50ms', IMAGEGATE_RETENTION: `${RETENTION_S}s` });
  keyA = String((await gw.app.keys.authenticate(gw.apiKey))?.id);
  const b = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'gallery-b' });
  keyB = String(b.id);
  const clientB = new OpenAI({ apiKey: String(b.key), baseURL: gw.baseURL, maxRetries: 0 });

  const fox = await gw.client.images.generate({ model: 'dall-e-2', prompt: 'a fox in the snow', size: '256x256', n: 2, response_format: 'url' }).withResponse();
  foxRequestId = String(fox.response.headers.get('x-request-id'));
  // b64_json: stored once the answer is out.
  const lighthouse = await gw.client.images.generate({
    model: 'gpt-image-1',
    prompt: 'a lighthouse at dusk',
    size: '1536x1024',
    quality: 'low',
    output_format: 'webp',
    response_format: 'b64_json',
  });
  expect(lighthouse.data?.[0]?.b64_json).toBeTruthy();
  await clientB.images.generate({ model: 'dall-e-2', prompt: 'an owl', size: '256x256', response_format: 'url' });
  const submitted = await postJson(
    gw,
    '/v1/images/generations',
    { model: 'dall-e-2', prompt: 'a fox as a task', size: '256x256' },
    {
      'x-new-api-async-task': 'true',
    },
  );
  taskId = String((submitted.json?.data as { task_id: string }).task_id);
  for (let i = 0; i < 400; i++) {
    const task = await adminJson(gw.origin, 'GET', `/admin/api/tasks/${taskId}`);
    if (task.state === 'succeeded') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await waitForImages(5);
}, 60_000);
afterAll(async () => gw?.close());

describe('GET /admin/api/images', () => {
  it('lists every stored image newest first, with the prompt and parameters behind it', async () => {
    const { data, has_more } = await list();
    expect(data).toHaveLength(5);
    expect(has_more).toBe(false);
    const times = data.map((i) => Date.parse(i.created_at));
    expect(times).toEqual([...times].sort((x, y) => y - x));

    const foxes = data.filter((i) => i.prompt === 'a fox in the snow');
    expect(foxes).toHaveLength(2);
    for (const fox of foxes) {
      expect(fox).toMatchObject({
        object: 'image',
        mime: 'image/png',
        width: 256,
        height: 256,
        key_id: keyA,
        model: 'dall-e-2',
        request_id: foxRequestId,
        task_id: null,
        operation: 'generations',
        params: { size: '256x256', response_format: 'url', n: 2 },
      });
      expect(fox.bytes).toBeGreaterThan(0);
    }
    expect(foxes.map((f) => f.params.index).sort()).toEqual([0, 1]);

    const lighthouse = data.find((i) => i.prompt === 'a lighthouse at dusk');
    expect(lighthouse).toMatchObject({
      mime: 'image/webp',
      width: 1536,
      height: 1024,
      model: 'gpt-image-1',
      params: { size: '1536x1024', quality: 'low', output_format: 'webp', response_format: 'b64_json', n: 1, index: 0 },
    });
    const task = data.find((i) => i.task_id === taskId);
    expect(task).toMatchObject({ prompt: 'a fox as a task', key_id: keyA, operation: 'generations' });
  });

  it('filters by key, model, task, request, operation and time', async () => {
    const ofB = await list(`?key=${keyB}`);
    expect(ofB.data.map((i) => i.prompt)).toEqual(['an owl']);
    expect((await list(`?key=${keyA}`)).data).toHaveLength(4);
    expect((await list('?model=gpt-image-1')).data.map((i) => i.prompt)).toEqual(['a lighthouse at dusk']);
    expect((await list(`?task=${taskId}`)).data.map((i) => i.prompt)).toEqual(['a fox as a task']);
    expect((await list(`?request=${foxRequestId}`)).data.map((i) => i.prompt)).toEqual(['a fox in the snow', 'a fox in the snow']);
    expect((await list('?operation=edits')).data).toEqual([]);
    expect((await list('?operation=generations')).data).toHaveLength(5);
    const all = (await list()).data;
    const oldest = Date.parse(all.at(-1)?.created_at ?? '');
    expect((await list(`?to=${oldest}`)).data).toEqual([]);
    expect((await list(`?from=${oldest}`)).data).toHaveLength(5);
    expect((await list(`?from=${new Date(Date.now() + 60_000).toISOString()}`)).data).toEqual([]);
    expect((await list(`?key=${keyB}&model=gpt-image-1`)).data).toEqual([]);
  });

  it('pages: limit rows, the next after offset, has_more while more follow', async () => {
    const all = (await list()).data.map((i) => i.id);
    const first = await list('?limit=2');
    const second = await list('?limit=2&offset=2');
    const last = await list('?limit=2&offset=4');
    expect(first.data.map((i) => i.id)).toEqual(all.slice(0, 2));
    expect(second.data.map((i) => i.id)).toEqual(all.slice(2, 4));
    expect(last.data.map((i) => i.id)).toEqual(all.slice(4));
    expect([first.has_more, second.has_more, last.has_more]).toEqual([true, true, false]);
  });

  it('each link serves the image, and the thumbnail link a WebP of at most 256 px, with no key', async () => {
    const lighthouse = (await list('?model=gpt-image-1')).data[0] as GalleryImage;
    const image = await fetch(lighthouse.url);
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).length).toBe(lighthouse.bytes);

    for (let round = 0; round < 2; round++) {
      // The second read comes from the cache: the same bytes.
      const thumb = await fetch(lighthouse.thumbnail_url);
      expect(thumb.status).toBe(200);
      expect(thumb.headers.get('content-type')).toBe('image/webp');
      expect(thumb.headers.get('x-content-type-options')).toBe('nosniff');
      const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
      expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: 256, height: 171 });
    }
    const fox = (await list(`?request=${foxRequestId}`)).data[0] as GalleryImage;
    const small = await sharp(Buffer.from(await (await fetch(fox.thumbnail_url)).arrayBuffer())).metadata();
    expect({ format: small.format, width: small.width, height: small.height }).toEqual({ format: 'webp', width: 256, height: 256 });
  });

  it('a thumbnail link whose signature does not match is refused', async () => {
    const newest = (await list()).data[0] as GalleryImage;
    const forged = newest.thumbnail_url.replace(/sig=[^&]+/, 'sig=AAAA');
    expect((await fetch(forged)).status).toBe(403);
    // Another image's name under this signature.
    const other = (await list()).data[1] as GalleryImage;
    expect((await fetch(newest.thumbnail_url.replace(newest.id, other.id))).status).toBe(403);
    // The image's own link's signature does not open the thumbnail route.
    const imageSig = new URL(newest.url).search;
    expect((await fetch(`${gw.origin}/thumbnails/${new URL(newest.url).pathname.split('/').at(-1)}${imageSig}`)).status).toBe(404);
  });

  it('counts down the time left before retention deletes an image', async () => {
    const first = (await list()).data[0] as GalleryImage;
    expect(first.expires_in_s).toBeLessThanOrEqual(RETENTION_S);
    expect(first.expires_in_s).toBeGreaterThan(RETENTION_S - 120);
    expect(Date.parse(first.expires_at) - Date.parse(first.created_at)).toBe(RETENTION_S * 1000);
    await new Promise((r) => setTimeout(r, 1100));
    const later = (await adminGet(`/admin/api/images/${first.id}`)).json as unknown as GalleryImage;
    expect(later.expires_in_s).toBeLessThan(first.expires_in_s);
  });
});

describe('GET and DELETE /admin/api/images/:id', () => {
  it('one image; deleted, its links answer 404, it is gone from the list, and a second delete is 404', async () => {
    const before = (await list()).data;
    const owl = before.find((i) => i.prompt === 'an owl') as GalleryImage;
    const one = await adminGet(`/admin/api/images/${owl.id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: owl.id, prompt: 'an owl', key_id: keyB });
    expect((await fetch(owl.thumbnail_url)).status).toBe(200);

    const del = await rawRequest(gw.origin, { method: 'DELETE', path: `/admin/api/images/${owl.id}`, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ id: owl.id, object: 'image', deleted: true });

    expect((await fetch(owl.url)).status).toBe(404);
    expect((await fetch(owl.thumbnail_url)).status).toBe(404);
    const gone = await adminGet(`/admin/api/images/${owl.id}`);
    expect(gone.status).toBe(404);
    expect(gone.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'image_not_found', param: 'id' } });
    const after = (await list()).data;
    expect(after.map((i) => i.id)).toEqual(before.map((i) => i.id).filter((id) => id !== owl.id));
    const again = await rawRequest(gw.origin, {
      method: 'DELETE',
      path: `/admin/api/images/${owl.id}`,
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    expect(again.status).toBe(404);
  });

  it('refuses hostile ids and filters in the admin dialect (400 or 404), and anyone without the admin key', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'nope', '%00', `${'x'.repeat(90)}`, "'%20or%201=1"]) {
      const res = await adminGet(`/admin/api/images/${id}`);
      expect(res.status, id).toBe(404);
      expect(res.json, id).toMatchObject({ error: { code: 'image_not_found' } });
    }
    const BAD: [query: string, code: string, param: string][] = [
      ['from=garbage', 'invalid_value', 'from'],
      ['to=yesterday-ish', 'invalid_value', 'to'],
      ['operation=delete', 'invalid_value', 'operation'],
      ['limit=abc', 'invalid_type', 'limit'],
      ['offset=-1', 'invalid_value', 'offset'],
      ['key=a&key=b', 'invalid_type', 'key'],
      ['task=a&task=b', 'invalid_type', 'task'],
    ];
    for (const [query, code, param] of BAD) {
      const res = await adminGet(`/admin/api/images?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json, query).toMatchObject({ error: { type: 'invalid_request_error', code, param } });
    }
    // A filter that matches nothing is an empty list, not an error.
    expect((await list('?model=%27%3B%20drop%20table%20images%3B--')).data).toEqual([]);
    const noKey = await rawRequest(gw.origin, { method: 'GET', path: '/admin/api/images' });
    expect(noKey.status).toBe(401);
    const clientKey = await rawRequest(gw.origin, { method: 'GET', path: '/admin/api/images', headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(clientKey.status).toBe(401);
  });
});

describe('the schemas describe the answers', () => {
  it('list, one image, a delete and the refusals match the schemas their routes declare', async () => {
    const routes = gw.app.routes();
    const first = (await list()).data[0] as GalleryImage;
    const checks: [method: string, path: string, url: string][] = [
      ['GET', '/admin/api/images?limit=2', '/admin/api/images'],
      ['GET', '/admin/api/images?from=garbage', '/admin/api/images'],
      ['GET', `/admin/api/images/${first.id}`, '/admin/api/images/:id'],
      ['GET', '/admin/api/images/nope', '/admin/api/images/:id'],
      ['DELETE', `/admin/api/images/${first.id}`, '/admin/api/images/:id'],
      ['DELETE', `/admin/api/images/${first.id}`, '/admin/api/images/:id'],
    ];
    const problems: string[] = [];
    for (const [method, path, url] of checks) {
      const res = await rawRequest(gw.origin, { method, path, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
      const problem = schemaMismatch(routes, method, url, res.status, res.json);
      if (problem) problems.push(problem);
    }
    const thumb = await fetch(first.thumbnail_url);
    problems.push(...[schemaMismatch(routes, 'GET', '/thumbnails/:name', thumb.status, await thumb.json())].flatMap((p) => (p ? [p] : [])));
    expect(problems).toEqual([]);
  });
});

describe('what the gallery keeps', () => {
  it('IMAGEGATE_GALLERY_PROMPTS=false: no prompt is stored, the parameters are', async () => {
    const quiet = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_GALLERY_PROMPTS: 'false' }));
    await quiet.client.images.generate({ model: 'dall-e-2', prompt: 'a secret plan', size: '256x256', response_format: 'url' });
    const res = await rawRequest(quiet.origin, { method: 'GET', path: '/admin/api/images', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const data = (res.json as unknown as ImageList).data;
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ prompt: null, model: 'dall-e-2', params: { size: '256x256' } });
    expect(res.text).not.toContain('secret plan');
  });

  it('an image recorded before the gallery kept anything is listed with what is known, its thumbnail 404 once its bytes are gone', async () => {
    const old = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    const now = Date.now();
    // A row as the gateway wrote them before migration 0004: the new columns null.
    await old.app.database.db
      .insertInto('images')
      .values({ id: 'legacyImage0001', request_id: 'req_legacy', key_id: null, mime: 'image/png', bytes: 10, created_at: now, expires_at: now + 60_000 })
      .execute();
    const res = await rawRequest(old.origin, { method: 'GET', path: '/admin/api/images', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const [legacy] = (res.json as unknown as ImageList).data;
    expect(legacy).toMatchObject({ id: 'legacyImage0001', model: null, prompt: null, operation: null, task_id: null, width: null, height: null, params: {} });
    expect(schemaMismatch(old.app.routes(), 'GET', '/admin/api/images', res.status, res.json)).toBeNull();
    expect((await fetch(legacy?.thumbnail_url ?? '')).status).toBe(404);
  });

  it('an image past retention is gone from the gallery at once, before the sweeper deletes its bytes', async () => {
    // A sweep every hour: only the gallery's own reading of expires_at hides it.
    const brief = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_RETENTION: '2s', IMAGEGATE_SWEEP_INTERVAL: '1h' }));
    await brief.client.images.generate({ model: 'dall-e-2', prompt: 'a mayfly', size: '256x256', response_format: 'url' });
    const get = (path: string) => rawRequest(brief.origin, { method: 'GET', path, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const [image] = ((await get('/admin/api/images')).json as unknown as ImageList).data;
    expect(image?.expires_in_s).toBeLessThanOrEqual(2);
    const expiresAt = Date.parse(image?.expires_at ?? '');
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 100));
    expect(((await get('/admin/api/images')).json as unknown as ImageList).data).toEqual([]);
    expect((await get(`/admin/api/images/${image?.id}`)).status).toBe(404);
    expect((await fetch(image?.thumbnail_url ?? '')).status).toBe(404);
    // Its bytes are still there until the sweep: only the gallery hides it.
    expect(await brief.app.sweeper.sweep()).toBe(1);
  });

  it('an edit and a variation are recorded as such: their operation, the edit its prompt, the variation none', async () => {
    const egw = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    const input = await makePng({ width: 256, height: 256, alpha: 0.5 });
    await egw.client.images.edit({
      model: 'gpt-image-1',
      prompt: 'put a hat on it',
      image: await toFile(input, 'in.png', { type: 'image/png' }),
      size: '1024x1024',
      quality: 'low',
    });
    await egw.client.images.createVariation({ model: 'dall-e-2', image: await toFile(input, 'in.png', { type: 'image/png' }), size: '256x256' });
    const get = (query: string) =>
      rawRequest(egw.origin, { method: 'GET', path: `/admin/api/images${query}`, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const edits = ((await get('?operation=edits')).json as unknown as ImageList).data;
    expect(edits).toEqual([expect.objectContaining({ operation: 'edits', prompt: 'put a hat on it', model: 'gpt-image-1', width: 1024 })]);
    const variations = ((await get('?operation=variations')).json as unknown as ImageList).data;
    expect(variations).toEqual([
      expect.objectContaining({ operation: 'variations', prompt: null, model: 'dall-e-2', params: expect.objectContaining({ size: '256x256' }) }),
    ]);
  });

  it("a cached thumbnail is dated as its image and pruned when the image's retention ends", async () => {
    const brief = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_RETENTION: '4s', IMAGEGATE_SWEEP_INTERVAL: '1s' }));
    await brief.client.images.generate({ model: 'dall-e-2', prompt: 'a mayfly', size: '256x256', response_format: 'url' });
    const res = await rawRequest(brief.origin, { method: 'GET', path: '/admin/api/images', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const [image] = (res.json as unknown as ImageList).data;
    expect((await fetch(image?.thumbnail_url ?? '')).status).toBe(200);
    const cached = join(brief.app.config.dataDir, 'thumbnails', `${image?.id}.webp`);
    expect(Math.abs((await stat(cached)).mtimeMs - Date.parse(image?.created_at ?? ''))).toBeLessThan(1000);
    for (let i = 0; i < 100 && (await stat(cached).catch(() => null)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await stat(cached).catch(() => null)).toBeNull();
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(image?.expires_at ?? ''));
  });

  it("an SVG's thumbnail is the SVG itself, served under the image links' policy", async () => {
    const sim = later(await startRecraftSimulator({ apiKey: 'rk-test' }));
    const file = await writeConfigFile({ channels: [{ name: 'recraft', kind: 'recraft', base_url: sim.baseURL, api_key: 'rk-test' }] });
    const vector = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    await vector.client.images.generate({ model: 'recraftv3_vector', prompt: 'a fox icon', style: 'vector_illustration' as never, size: '1024x1024' });
    const res = await rawRequest(vector.origin, { method: 'GET', path: '/admin/api/images', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const svg = (res.json as unknown as ImageList).data[0] as GalleryImage;
    expect(svg).toMatchObject({ mime: 'image/svg+xml', model: 'recraftv3_vector', prompt: 'a fox icon' });
    const thumb = await fetch(svg.thumbnail_url);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/svg+xml');
    expect(thumb.headers.get('content-security-policy')).toContain("default-src 'none'");
    const original = await fetch(svg.url);
    expect(Buffer.from(await thumb.arrayBuffer()).equals(Buffer.from(await original.arrayBuffer()))).toBe(true);
  });
});

describe.skipIf(!runPostgres)('on PostgreSQL', () => {
  it('the migration adds the columns there too: recorded, listed, filtered, thumbnailed and deleted alike', async () => {
    const pg = await createTestDatabase();
    onCleanup(() => pg.drop());
    const pgw = later(await startGateway({ DATABASE_URL: pg.url, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    const get = async (path: string) =>
      (await rawRequest(pgw.origin, { method: 'GET', path, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).json as unknown as ImageList;
    const made = await pgw.client.images
      .generate({ model: 'dall-e-2', prompt: 'a fox on postgres', size: '512x512', n: 2, response_format: 'url' })
      .withResponse();
    const requestId = String(made.response.headers.get('x-request-id'));
    await pgw.client.images.generate({ model: 'gpt-image-1', prompt: 'a heron', size: '1024x1536', quality: 'low', response_format: 'b64_json' });
    let all: GalleryImage[] = [];
    for (let i = 0; i < 400 && all.length < 3; i++) {
      all = (await get('/admin/api/images')).data;
      if (all.length < 3) await new Promise((r) => setTimeout(r, 25));
    }
    expect(all.map((i) => i.prompt)).toEqual(['a heron', 'a fox on postgres', 'a fox on postgres']);
    expect(all[0]).toMatchObject({ width: 1024, height: 1536, model: 'gpt-image-1', params: { quality: 'low', n: 1, index: 0 } });
    expect((await get(`/admin/api/images?request=${requestId}&model=dall-e-2`)).data).toHaveLength(2);
    expect((await get(`/admin/api/images?to=${Date.parse(all[2]?.created_at ?? '')}`)).data).toEqual([]);
    const heron = all[0] as GalleryImage;
    const thumbnail = await fetch(heron.thumbnail_url);
    const thumbnailBytes = Buffer.from(await thumbnail.arrayBuffer());
    // Once seen failing under a loaded CI run (not an image): say what came instead.
    expect(thumbnail.status, thumbnailBytes.toString('utf8', 0, 300)).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(thumbnailBytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: 171, height: 256 });
    const del = await rawRequest(pgw.origin, {
      method: 'DELETE',
      path: `/admin/api/images/${heron.id}`,
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    expect(del.status).toBe(200);
    expect((await fetch(heron.url)).status).toBe(404);
    expect((await get('/admin/api/images')).data.map((i) => i.id)).toEqual(all.slice(1).map((i) => i.id));
  });
});

describe('images in an S3 bucket', () => {
  it('thumbnails are cached under the data dir, many asked at once; a delete removes the object from the bucket', async () => {
    const s3 = later(await startS3());
    const sgw = later(await startGateway({ ...s3.env, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    await sgw.client.images.generate({ model: 'dall-e-2', prompt: 'six foxes', size: '512x512', n: 6, response_format: 'url' });
    const res = await rawRequest(sgw.origin, { method: 'GET', path: '/admin/api/images', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const images = (res.json as unknown as ImageList).data;
    expect(images).toHaveLength(6);
    // All at once: more than are made at a time, each one whole.
    const thumbs = await Promise.all(images.map(async (i) => sharp(Buffer.from(await (await fetch(i.thumbnail_url)).arrayBuffer())).metadata()));
    expect(thumbs.map((m) => `${m.format} ${m.width}x${m.height}`)).toEqual(Array(6).fill('webp 256x256'));
    const cacheDir = join(sgw.app.config.dataDir, 'thumbnails');
    expect((await readdir(cacheDir)).sort()).toEqual(images.map((i) => `${i.id}.webp`).sort());

    const gone = images[0] as GalleryImage;
    const key = `images/${gone.id}.png`;
    await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    const del = await rawRequest(sgw.origin, {
      method: 'DELETE',
      path: `/admin/api/images/${gone.id}`,
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    expect(del.status).toBe(200);
    await expect(s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).rejects.toMatchObject({ name: 'NotFound' });
    expect((await fetch(gone.url)).status).toBe(404);
    expect((await fetch(gone.thumbnail_url)).status).toBe(404);
    expect(await readdir(cacheDir)).not.toContain(`${gone.id}.webp`);
  });
});
