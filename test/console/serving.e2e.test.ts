/**
 * How the gateway serves the console (src/http/console.ts), over real HTTP: / sends you there, the page and
 * the app's routes answer index.html uncached, hashed assets are cached for a year, a missing file is the
 * gateway's 404, every answer carries the CSP; IMAGEGATE_CONSOLE=false removes the routes; an unbuilt
 * console answers a page saying how to build it, never a 500.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleCsp, imageOriginsOf, registerConsoleRoutes } from '../../src/http/console.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ensureConsoleBuilt } from './browser.js';

describe('the console, served', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    ensureConsoleBuilt();
    gw = await startGateway();
  }, 240_000);
  afterAll(() => gw.close());

  it('/ and /console redirect to /console/', async () => {
    for (const path of ['/', '/console']) {
      const res = await fetch(`${gw.origin}${path}`, { redirect: 'manual' });
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 302, '/console/']);
    }
  });

  it('the page and the app routes: index.html, never cached, under the CSP; its assets: cached a year', async () => {
    const page = await fetch(`${gw.origin}/console/`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toBe(consoleCsp([]));
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    // No inline script or style: every one is a file of this origin.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    const route = await fetch(`${gw.origin}/console/keys`);
    expect([route.status, route.headers.get('cache-control'), await route.text()]).toEqual([200, 'no-cache', html]);
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const res = await fetch(`${gw.origin}${asset}`);
      expect([asset, res.status, res.headers.get('cache-control')]).toEqual([asset, 200, 'public, max-age=31536000, immutable']);
      expect(res.headers.get('content-type')).toMatch(/javascript|css/);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
      // A revalidation (fetch would add Cache-Control: no-cache to a conditional request, asking for the whole file).
      const again = await fetch(`${gw.origin}${asset}`, { headers: { 'if-none-match': res.headers.get('etag') ?? '', 'cache-control': 'max-age=0' } });
      expect([asset, again.status]).toEqual([asset, 304]);
    }
  });

  it('a missing file, or a path out of the folder, is the gateway 404 (not the page)', async () => {
    for (const path of [
      '/console/assets/nope.js',
      '/console/favicon.ico',
      '/console/assets/..%2f..%2fpackage.json',
      '/console/assets/%2e%2e/%2e%2e/package.json',
    ]) {
      const res = await fetch(`${gw.origin}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
  });

  it('ranges: a part of a file is a 206; a range past its end is a 416 in the gateway envelope, naming the length', async () => {
    for (const path of ['/console/', '/console/keys']) {
      const part = await fetch(`${gw.origin}${path}`, { headers: { range: 'bytes=0-9' } });
      expect([path, part.status, (await part.text()).length]).toEqual([path, 206, 10]);
      const past = await fetch(`${gw.origin}${path}`, { headers: { range: 'bytes=99999999-' } });
      expect([path, past.status, past.headers.get('content-range')]).toEqual([path, 416, expect.stringMatching(/^bytes \*\/\d+$/)]);
      expect(past.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await past.json()).toEqual({
        error: { message: expect.stringContaining('Range'), type: 'invalid_request_error', param: 'range', code: 'range_not_satisfiable' },
      });
    }
  });

  it('IMAGEGATE_CONSOLE=false: no console, and / is not sent there', async () => {
    const off = await startGateway({ IMAGEGATE_CONSOLE: 'false' });
    try {
      for (const path of ['/', '/console', '/console/', '/console/assets/x.js'])
        expect([path, (await fetch(`${off.origin}${path}`)).status]).toEqual([path, 404]);
    } finally {
      await off.close();
    }
  });
});

describe('an unbuilt console', () => {
  it('answers 503 with a page saying how to build it', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'imagegate-console-'));
    const app = Fastify();
    registerConsoleRoutes(app, { root: empty, imageOrigins: [] });
    try {
      const res = await app.inject({ url: '/console/playground' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('npm run build:console');
      expect(await readdir(empty)).toEqual([]);
    } finally {
      await app.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('the CSP image origins', () => {
  const s3 = { bucket: 'pics', endpoint: undefined, region: 'us-east-1', credentials: undefined, forcePathStyle: false, prefix: 'images/' };
  it("adds IMAGEGATE_PUBLIC_URL's origin and a bucket's when its links are direct; gateway links add none", () => {
    expect(imageOriginsOf(undefined, undefined)).toEqual([]);
    expect(imageOriginsOf('https://img.example.com/gw', undefined)).toEqual(['https://img.example.com']);
    expect(imageOriginsOf(undefined, { ...s3, links: 'gateway', publicBaseUrl: undefined })).toEqual([]);
    expect(imageOriginsOf(undefined, { ...s3, links: 'public', publicBaseUrl: 'https://cdn.example.com/x' })).toEqual(['https://cdn.example.com']);
    expect(imageOriginsOf(undefined, { ...s3, links: 'presigned', publicBaseUrl: undefined })).toEqual(['https://*.amazonaws.com']);
    expect(imageOriginsOf(undefined, { ...s3, endpoint: 'http://minio:9000', forcePathStyle: true, links: 'presigned', publicBaseUrl: undefined })).toEqual([
      'http://minio:9000',
    ]);
    expect(imageOriginsOf(undefined, { ...s3, endpoint: 'https://r2.example.com', links: 'presigned', publicBaseUrl: undefined })).toEqual([
      'https://pics.r2.example.com',
    ]);
    expect(consoleCsp(['https://cdn.example.com'])).toContain("img-src 'self' data: blob: https://cdn.example.com;");
  });
});
