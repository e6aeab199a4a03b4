/**
 * Liveness and readiness through the real server. /healthz (and /livez) say the process answers,
 * whatever its dependencies do; /readyz says whether it can serve now: the database answers,
 * Redis answers (with REDIS_URL), the image store takes a write, some channel is enabled. Each
 * check is bounded, so a dependency that hangs (a TCP server that accepts and never answers)
 * makes /readyz answer 503 within the bound, never hang. Without the admin key the answers carry
 * the status only; with it, /readyz shows each check (status, latency, reason).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { redisServerAvailable, startRedisServer } from './helpers/redis-server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

closeAfterEach();
const runPostgres = await postgresAvailable();
const runRedisServer = redisServerAvailable();

interface CheckDetail {
  status: 'ok' | 'failed';
  latency_ms: number;
  reason?: string;
}

interface Probe {
  status: number;
  body: { status: string; checks?: Record<string, CheckDetail> };
  ms: number;
}

async function probe(gw: TestGateway, path: string, key?: string): Promise<Probe> {
  const started = Date.now();
  const res = await fetch(`${gw.origin}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  const body = (await res.json()) as Probe['body'];
  return { status: res.status, body, ms: Date.now() - started };
}

const gateway = async (env: Record<string, string> = {}) => later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, ...env }));

describe('/healthz and /readyz', () => {
  it('all good: 200 everywhere; the status only without the admin key, every check with it', async () => {
    const gw = await gateway();
    for (const path of ['/healthz', '/livez', '/readyz']) {
      const anonymous = await probe(gw, path);
      expect([anonymous.status, anonymous.body], path).toEqual([200, { status: 'ok' }]);
      // A client key, or a wrong admin key, is not the admin key: the status only, no refusal.
      expect((await probe(gw, path, gw.apiKey)).body, path).toEqual({ status: 'ok' });
      expect((await probe(gw, path, 'not-the-admin-key')).body, path).toEqual({ status: 'ok' });
    }
    const admin = await probe(gw, '/readyz', TEST_ADMIN_KEY);
    expect(admin.status).toBe(200);
    expect(admin.body.status).toBe('ok');
    expect(Object.keys(admin.body.checks ?? {})).toEqual(['database', 'image_store', 'channels']);
    for (const [name, check] of Object.entries(admin.body.checks ?? {})) {
      expect(check, name).toEqual({ status: 'ok', latency_ms: expect.any(Number) });
      expect(check.latency_ms, name).toBeGreaterThanOrEqual(0);
    }
    // Liveness has no dependency to show, with the admin key too.
    expect((await probe(gw, '/healthz', TEST_ADMIN_KEY)).body).toEqual({ status: 'ok' });
  });

  it('no enabled channel: /readyz 503 naming the channels; /healthz 200', async () => {
    const gw = await gateway();
    await adminJson(gw.origin, 'POST', '/admin/api/channels', { name: 'only', kind: 'demo', models: ['gpt-image-2'] });
    expect((await probe(gw, '/readyz')).status).toBe(200);
    await adminJson(gw.origin, 'PATCH', '/admin/api/channels/only', { enabled: false });
    const anonymous = await probe(gw, '/readyz');
    expect([anonymous.status, anonymous.body]).toEqual([503, { status: 'unavailable' }]);
    const admin = await probe(gw, '/readyz', TEST_ADMIN_KEY);
    expect(admin.status).toBe(503);
    expect(admin.body.checks?.channels).toEqual({ status: 'failed', latency_ms: expect.any(Number), reason: 'no enabled channel (only: disabled)' });
    expect(admin.body.checks?.database?.status).toBe('ok');
    expect((await probe(gw, '/healthz')).status).toBe(200);
  });

  it('an image store that takes no write: /readyz 503 naming image_store; /healthz 200', async () => {
    const gw = await gateway();
    const images = join(gw.app.config.dataDir, 'images');
    // A file where the images folder should be: no write goes in (as root too, unlike a chmod).
    await rm(images, { recursive: true, force: true });
    await writeFile(images, 'not a folder');
    const admin = await probe(gw, '/readyz', TEST_ADMIN_KEY);
    expect(admin.status).toBe(503);
    expect(admin.body.checks?.image_store).toMatchObject({ status: 'failed', reason: expect.stringMatching(/EEXIST|ENOTDIR/) });
    expect((await probe(gw, '/healthz')).status).toBe(200);
  });

  it.skipIf(!runRedisServer)(
    'Redis stopped mid-test: /readyz 503 naming redis; /healthz 200; Redis back: 200 again',
    async () => {
      const redis = later(await startRedisServer());
      const gw = await gateway({ REDIS_URL: redis.url, IMAGEGATE_REDIS_PREFIX: `health-${process.pid}` });
      const before = await probe(gw, '/readyz', TEST_ADMIN_KEY);
      expect(before.status).toBe(200);
      expect(before.body.checks?.redis?.status).toBe('ok');

      await redis.stop();
      await expect.poll(async () => (await probe(gw, '/readyz')).status, { timeout: 5_000, interval: 50 }).toBe(503);
      expect((await probe(gw, '/readyz')).body).toEqual({ status: 'unavailable' });
      const admin = await probe(gw, '/readyz', TEST_ADMIN_KEY);
      expect(admin.status).toBe(503);
      expect(admin.body.checks?.redis).toMatchObject({ status: 'failed', reason: expect.any(String) });
      expect(admin.ms).toBeLessThan(1_500);
      for (const name of ['database', 'image_store', 'channels']) expect(admin.body.checks?.[name]?.status, name).toBe('ok');
      const alive = await probe(gw, '/healthz');
      expect([alive.status, alive.body]).toEqual([200, { status: 'ok' }]);

      await redis.start();
      await expect.poll(async () => (await probe(gw, '/readyz')).status, { timeout: 10_000, interval: 100 }).toBe(200);
    },
    30_000,
  );

  it('a Redis endpoint that accepts and never answers: /readyz 503 in under 1.5 s; /healthz 200', async () => {
    const hung = later(await startTcpProxy());
    const gw = await gateway({ REDIS_URL: `redis://127.0.0.1:${hung.port}`, IMAGEGATE_REDIS_PREFIX: `health-${process.pid}` });
    for (let round = 0; round < 3; round++) {
      const admin = await probe(gw, '/readyz', TEST_ADMIN_KEY);
      expect(admin.ms, `round ${round}`).toBeLessThan(1_500);
      expect(admin.status).toBe(503);
      expect(admin.body.checks?.redis).toMatchObject({ status: 'failed', reason: expect.any(String) });
      expect(admin.body.checks?.database?.status).toBe('ok');
    }
    const anonymous = await probe(gw, '/readyz');
    expect([anonymous.status, anonymous.body]).toEqual([503, { status: 'unavailable' }]);
    expect(anonymous.ms).toBeLessThan(1_500);
    const alive = await probe(gw, '/healthz');
    expect(alive.status).toBe(200);
    expect(alive.ms).toBeLessThan(500);
  }, 30_000);

  it.skipIf(!runRedisServer)(
    'a Redis that stops answering on its open connection: /readyz 503 in under 1.5 s; /healthz 200',
    async () => {
      const redis = later(await startRedisServer());
      const proxy = later(await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(redis.url).port) }));
      const gw = await gateway({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, IMAGEGATE_REDIS_PREFIX: `health-${process.pid}` });
      expect((await probe(gw, '/readyz')).status).toBe(200);
      proxy.hang();
      const admin = await probe(gw, '/readyz', TEST_ADMIN_KEY);
      expect(admin.ms).toBeLessThan(1_500);
      expect(admin.status).toBe(503);
      expect(admin.body.checks?.redis).toMatchObject({ status: 'failed', reason: expect.any(String) });
      expect((await probe(gw, '/healthz')).status).toBe(200);
      // Forwarding again (the silent connections cut): ready again once the instance has reconnected.
      proxy.resume();
      await expect.poll(async () => (await probe(gw, '/readyz')).status, { timeout: 10_000, interval: 100 }).toBe(200);
    },
    30_000,
  );

  it.skipIf(!runPostgres)(
    'a PostgreSQL that stops answering mid-test: /readyz 503 in under 1.5 s naming the database; /healthz 200',
    async () => {
      const pg = await createTestDatabase();
      const url = new URL(pg.url);
      const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      // Closed after the gateway (cleanups run in reverse): first the proxy forwards again, then the database goes.
      later({ close: async () => pg.drop() });
      later({ close: async () => proxy.close() });
      url.port = String(proxy.port);
      const gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, DATABASE_URL: url.toString(), IMAGEGATE_DB_CONNECT_TIMEOUT: '2s' });
      later({
        close: async () => {
          proxy.resume();
          await gw.close();
        },
      });
      expect((await probe(gw, '/readyz')).status).toBe(200);

      proxy.hang();
      for (let round = 0; round < 3; round++) {
        const admin = await probe(gw, '/readyz', TEST_ADMIN_KEY);
        expect(admin.ms, `round ${round}`).toBeLessThan(1_500);
        expect(admin.status).toBe(503);
        expect(admin.body.checks?.database).toMatchObject({ status: 'failed', reason: expect.any(String) });
      }
      const alive = await probe(gw, '/healthz');
      expect([alive.status, alive.body]).toEqual([200, { status: 'ok' }]);
      expect(alive.ms).toBeLessThan(500);

      proxy.resume();
      await expect.poll(async () => (await probe(gw, '/readyz')).status, { timeout: 10_000, interval: 100 }).toBe(200);
    },
    30_000,
  );
});
