// The HTTP edge as a hostile client meets it: access belongs to the route however its path is
// spelled, nothing is parsed for a caller who may not call, slow senders are cut off, hostile
// JSON and malformed HTTP get a 4xx in the caller's dialect, and proxies are believed only when
// trusted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBudget } from '../src/core/memory-budget.js';
import { createHttpServer } from '../src/http/server.js';
import { SpoolDir } from '../src/spool/spool-dir.js';
import { TEST_ADMIN_KEY, adminJson } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { startHttpServer, type TestServer } from './helpers/inputs.js';
import { rawRequest, rawSocket, readUntilClose } from './helpers/raw-http.js';

const GENERATION = JSON.stringify({ model: 'gpt-image-1', prompt: 'a lighthouse', size: '1024x1024' });

/** The same path written the ways a router, a proxy or a WAF might read differently. */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  const encodeFirst = (upper: boolean) => `/${segments.map((s) => (upper ? hex(s[0] ?? '').toUpperCase() : hex(s[0] ?? '')) + s.slice(1)).join('/')}`;
  const letters = path.replace(/[a-z]/g, (c) => hex(c).toUpperCase());
  return [
    path,
    encodeFirst(false),
    encodeFirst(true),
    letters,
    `/${path}`,
    path.replace(/\//g, '//'),
    `/.${path}`,
    path.replace(/\/([^/]+)$/, '/./$1'),
    `/x/..${path}`,
    `/%2e${path}`,
    `${path}/`,
    path.toUpperCase(),
    `${path};x`,
    path.replace(/^\/([^/]+)/, '/$1;x'),
    `${path}%3Fa=1`,
    path.replace(/\//g, '%2F'),
    `/${segments[0] ?? ''}%2F${segments.slice(1).join('/')}`,
    path.replace(/\//g, '\\'),
    `${path}%00`,
    `${path}%20`,
    `${path}#frag`,
  ];
}

/** Rows in every table: a request that wrote nothing leaves these the same. */
async function rowCounts(gw: TestGateway): Promise<Record<string, number>> {
  const { db } = gw.app.database;
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db);
  const counts: Record<string, number> = {};
  for (const { name } of tables.rows) {
    const result = await sql<{ n: number }>`select count(*) as n from ${sql.table(name)}`.execute(db);
    counts[name] = Number(result.rows[0]?.n ?? 0);
  }
  return counts;
}

describe('access belongs to the route, not the URL string', () => {
  let upstream: TestServer;
  let upstreamCalls = 0;
  let gw: TestGateway;
  let noAdmin: TestGateway;

  beforeAll(async () => {
    upstream = await startHttpServer((_req, res) => {
      upstreamCalls += 1;
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"no"}}');
    });
    const upstreamEnv = { OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: `${upstream.origin}/v1` };
    gw = await startGateway({ ...upstreamEnv, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY });
    noAdmin = await startGateway(upstreamEnv);
  });
  afterAll(async () => {
    await gw.close();
    await noAdmin.close();
    await upstream.close();
  });

  it('every registered route declares an access class and a dialect', () => {
    const routes = gw.app.routes();
    expect(routes.length).toBeGreaterThan(20);
    const classes = new Set(routes.map((r) => r.access));
    expect([...classes].sort()).toEqual(['admin', 'client', 'public', 'signed-link', 'task-owner']);
    const byUrl = (url: string) => routes.find((r) => r.url === url && r.method === 'GET')?.access;
    expect(byUrl('/v1/models')).toBe('client');
    expect(byUrl('/v1/images/tasks/:id')).toBe('task-owner');
    expect(byUrl('/admin/api/keys')).toBe('admin');
    expect(byUrl('/files/:name')).toBe('signed-link');
    expect(byUrl('/healthz')).toBe('public');
    expect(routes.filter((r) => r.url.startsWith('/api/v1/')).every((r) => r.dialect === 'task-api')).toBe(true);
  });

  it('a route registered outside any group stops the server from starting', async () => {
    const spoolPath = await mkdtemp(join(tmpdir(), 'imagegate-spool-'));
    const { app } = createHttpServer({
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      timeouts: { headersMs: 30_000, requestMs: 60_000, bodyIdleMs: 30_000, sendIdleMs: 60_000 },
      trustedProxies: [],
      memory: new MemoryBudget(1024 ** 3),
      spool: await SpoolDir.open(spoolPath, 1024 ** 3),
    });
    app.get('/sneaky', async () => ({ ok: true }));
    await expect(app.ready()).rejects.toThrow(/GET \/sneaky has no access class/);
    await app.close();
    await rm(spoolPath, { recursive: true, force: true });
  });

  it('keyless requests to every protected route, however spelled, get 401/403/404: no upstream call, no row written', async () => {
    const before = await rowCounts(gw);
    const protectedRoutes = gw.app.routes().filter((r) => r.access !== 'public');
    const unexpected: string[] = [];
    for (const target of [gw, noAdmin]) {
      for (const route of protectedRoutes) {
        const path = route.url.replace(/:\w+/g, 'img_abc.png');
        for (const spelled of spellings(path)) {
          const hasBody = route.method !== 'GET' && route.method !== 'HEAD' && route.method !== 'DELETE';
          const res = await rawRequest(target.origin, {
            method: route.method,
            path: spelled,
            headers: hasBody ? { 'content-type': 'application/json' } : {},
            ...(hasBody ? { body: GENERATION } : {}),
          }).catch((err: unknown) => ({ status: 0, text: String(err) }));
          // A target that is not a path (`%2F...`, `\...`) is not HTTP/1.1 at all: 400.
          const allowed = spelled.startsWith('/') ? [401, 403, 404] : [400];
          if (!allowed.includes(res.status)) unexpected.push(`${route.method} ${spelled} -> ${res.status} ${res.text.slice(0, 120)}`);
        }
      }
    }
    expect(unexpected).toEqual([]);
    expect(upstreamCalls).toBe(0);
    expect(await rowCounts(gw)).toEqual(before);

    // The harness can see a call that gets through: the same request with a key reaches the upstream.
    const keyed = await rawRequest(gw.origin, {
      method: 'POST',
      path: '/v%31/images/generations',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.apiKey}` },
      body: GENERATION,
    });
    expect(keyed.status).toBeGreaterThanOrEqual(500);
    expect(upstreamCalls).toBeGreaterThan(0);
  }, 120_000); // about a thousand requests, each on a new connection: 7 s at load 9, past 30 s at load 18 (CPU-bound, so not sped up by sending them at once)

  it('the admin API when disabled answers 403 to any key, on every admin route and spelling', async () => {
    const admin = noAdmin.app.routes().filter((r) => r.access === 'admin');
    for (const route of admin) {
      for (const spelled of spellings(route.url.replace(/:\w+/g, 'x')).slice(0, 4)) {
        const res = await rawRequest(noAdmin.origin, { method: route.method, path: spelled, headers: { authorization: `Bearer ${noAdmin.apiKey}` } });
        expect(res.status, `${route.method} ${spelled}`).toBe(403);
      }
    }
  });
});

describe('no body work before the route and the key', () => {
  let gw: TestGateway;
  let noAdmin: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY });
    noAdmin = await startGateway();
  });
  afterAll(async () => {
    await gw.close();
    await noAdmin.close();
  });

  const NOT_JSON = '{"prompt": "x",';
  const json = { 'content-type': 'application/json' };

  it('an unrouted path is a 404 in its dialect without its body being parsed', async () => {
    const root = await rawRequest(gw.origin, { method: 'POST', path: '/', headers: json, body: NOT_JSON });
    expect(root.status).toBe(404);
    expect(root.json).toMatchObject({ error: { code: 'not_found', type: 'invalid_request_error' } });
    const taskApi = await rawRequest(gw.origin, {
      method: 'POST',
      path: '/api/v1/nothing',
      headers: { ...json, authorization: `Bearer ${gw.apiKey}` },
      body: NOT_JSON,
    });
    expect(taskApi.status).toBe(404);
    expect(taskApi.json).toMatchObject({ code: 404, data: null });
  });

  it('a wrong method on a known path is a 404 without parsing', async () => {
    const res = await rawRequest(gw.origin, {
      method: 'PUT',
      path: '/v1/images/generations',
      headers: { ...json, authorization: `Bearer ${gw.apiKey}` },
      body: NOT_JSON,
    });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: { code: 'not_found' } });
  });

  it('a keyless request is a 401, and a disabled admin API a 403, before parsing', async () => {
    const keyless = await rawRequest(gw.origin, { method: 'POST', path: '/v1/images/generations', headers: json, body: NOT_JSON });
    expect(keyless.status).toBe(401);
    const admin = await rawRequest(noAdmin.origin, {
      method: 'POST',
      path: '/admin/api/keys',
      headers: { ...json, authorization: 'Bearer anything' },
      body: NOT_JSON,
    });
    expect(admin.status).toBe(403);
    expect(admin.json).toMatchObject({ error: { code: 'admin_disabled' } });
  });

  it('60 MB sent to an unrouted path is answered long before it is all sent, and the connection closed', async () => {
    const socket = await rawSocket(gw.origin);
    const total = 60 * 1024 * 1024;
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n{"a":"`);
    const answer = readUntilClose(socket, 20_000);
    let sent = 0;
    let answeredAt: number | null = null;
    socket.once('data', () => (answeredAt = sent));
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    while (sent < total && answeredAt === null && !socket.destroyed) {
      await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
      sent += chunk.length;
    }
    const { text } = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 404/);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(answeredAt).not.toBeNull();
    expect(answeredAt ?? total).toBeLessThan(total / 2);
  });
});

describe('timeouts for slow senders; a long generation is not cut', () => {
  closeAfterEach();
  const SHORT = { IMAGEGATE_HEADERS_TIMEOUT: '1s', IMAGEGATE_REQUEST_TIMEOUT: '3s', IMAGEGATE_BODY_IDLE_TIMEOUT: '1s' };

  it('headers that do not arrive in time get a 408 in the envelope, and the connection closes', async () => {
    const gw = later(await startGateway(SHORT));
    const socket = await rawSocket(gw.origin);
    socket.write('POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n');
    const { text, closedAfterMs } = await readUntilClose(socket, 10_000);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(text).toContain('"code":"request_timeout"');
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs ?? Infinity).toBeLessThan(5_000);
  });

  it('a body that stops flowing is cut after the idle bound', async () => {
    // The request bound far off: only the idle bound can explain a close within 15 s, however late a busy machine runs its timers.
    const gw = later(await startGateway({ ...SHORT, IMAGEGATE_REQUEST_TIMEOUT: '60s' }));
    const socket = await rawSocket(gw.origin);
    socket.write(
      `POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"prompt":`,
    );
    const { closedAfterMs } = await readUntilClose(socket, 20_000);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs ?? 0).toBeGreaterThanOrEqual(900);
    expect(closedAfterMs ?? Infinity).toBeLessThan(15_000);
  });

  it('a body trickled under the idle bound is still cut by the request bound', async () => {
    const gw = later(await startGateway(SHORT));
    const socket = await rawSocket(gw.origin);
    socket.write(
      `POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
    );
    const trickle = setInterval(() => socket.writable && socket.write(' '), 300);
    const { text, closedAfterMs } = await readUntilClose(socket, 15_000);
    clearInterval(trickle);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs ?? Infinity).toBeLessThan(10_000);
    expect(closedAfterMs ?? 0).toBeGreaterThan(2_000);
    expect(text === '' || text.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('a generation that takes longer than every bound, after its body arrived, is answered', async () => {
    const gw = later(await startGateway({ ...SHORT, IMAGEGATE_DEMO_DELAY: '4s' }));
    const image = await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'slow', size: '1024x1024', quality: 'low' });
    expect(image.data?.[0]?.url ?? image.data?.[0]?.b64_json).toBeTruthy();
  });
});

describe('hostile JSON and malformed HTTP: a 4xx in the caller dialect', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_BODY_LIMIT: '4mb' });
  });
  afterAll(() => gw.close());

  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    rawRequest(gw.origin, { method: 'POST', path, headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', ...headers }, body });

  it('a pass-through field nested 6,000 deep is a 400 naming the field, not a 500', async () => {
    const res = await post('/v1/images/generations', `{"model":"gpt-image-1","prompt":"x","extra":${nested(6000)}}`);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'nesting_too_deep', param: 'extra' } });
  });

  it('a body that is itself deeply nested is a 400 with no param', async () => {
    const res = await post('/v1/images/generations', nested(100_000));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'nesting_too_deep', param: null } });
  });

  it('deep JSON in the task API gets its envelope', async () => {
    const res = await post('/api/v1/images/generations', `{"model":"gpt-image-1","prompt":"x","metadata":${nested(500)}}`);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 400, data: null });
    expect(String(res.json?.msg)).toContain('metadata');
  });

  it('an oversized unknown field is a 400 naming it', async () => {
    const res = await post('/v1/images/generations', JSON.stringify({ model: 'gpt-image-1', prompt: 'x', vendor_blob: 'z'.repeat(2 * 1024 * 1024) }));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'field_too_large', param: 'vendor_blob' } });
  });

  it('413 and 415 in each dialect; 415 says which Content-Type to send', async () => {
    const big = JSON.stringify({ model: 'gpt-image-1', prompt: 'x'.repeat(5 * 1024 * 1024) });
    const openai413 = await post('/v1/images/generations', big);
    expect(openai413.status).toBe(413);
    expect(openai413.json).toMatchObject({ error: { code: 'request_too_large' } });
    const task413 = await post('/api/v1/images/generations', big);
    expect(task413.status).toBe(413);
    expect(task413.json).toMatchObject({ code: 413, data: null });

    const openai415 = await post('/v1/images/generations', 'prompt=x', { 'content-type': 'text/plain' });
    expect(openai415.status).toBe(415);
    expect(openai415.json).toMatchObject({ error: { code: 'unsupported_media_type' } });
    expect(JSON.stringify(openai415.json)).toContain('Content-Type: application/json');
    const task415 = await post('/api/v1/images/generations', 'prompt=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(task415.status).toBe(415);
    expect(task415.json).toMatchObject({ code: 415, data: null });
  });

  it('a URL that does not decode and an over-long path parameter are 4xx envelopes', async () => {
    const badUrl = await rawRequest(gw.origin, { method: 'GET', path: '/v1/models/%E0%A4%A', headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(badUrl.status).toBe(400);
    expect(badUrl.json).toMatchObject({ error: { code: 'invalid_url' } });
    const badTaskUrl = await rawRequest(gw.origin, { method: 'GET', path: '/api/v1/images/%E0%A4%A', headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect([400, 404]).toContain(badTaskUrl.status);
    expect(badTaskUrl.json).toMatchObject({ code: badTaskUrl.status, data: null });
    const longParam = await rawRequest(gw.origin, { method: 'GET', path: `/v1/models/${'m'.repeat(5000)}`, headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(longParam.status).toBe(414);
    expect(longParam.json).toMatchObject({ error: { code: 'uri_too_long' } });
  });

  it('431 and malformed framing are answered with an envelope, in the dialect of the request line', async () => {
    for (const [path, expectEnvelope] of [
      ['/v1/models', (t: string) => expect(t).toContain('"code":"headers_too_large"')],
      ['/api/v1/images/generations', (t: string) => expect(t).toContain('"code":431')],
    ] as const) {
      const socket = await rawSocket(gw.origin);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
      const { text } = await readUntilClose(socket, 5_000);
      expect(text).toMatch(/^HTTP\/1\.1 431/);
      expectEnvelope(text);
    }
    const socket = await rawSocket(gw.origin);
    socket.write('POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    const { text } = await readUntilClose(socket, 5_000);
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toContain('"type":"invalid_request_error"');
  });

  it('DELETE with Content-Type: application/json and no body works', async () => {
    const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'to-delete' });
    const id = String(created.id);
    const res = await rawRequest(gw.origin, {
      method: 'DELETE',
      path: `/admin/api/keys/${id}`,
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBeLessThan(300);
    const after = await rawRequest(gw.origin, { method: 'GET', path: `/admin/api/keys/${id}`, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(typeof after.json?.revoked_at).toBe('string');
  });
});

describe('behind a load balancer', () => {
  closeAfterEach();
  const CLIENT = '203.0.113.7';

  async function keyFor(gw: TestGateway): Promise<string> {
    const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'office', allowed_ips: [CLIENT] });
    return String(created.key);
  }
  const models = (gw: TestGateway, key: string, headers: Record<string, string> = {}) =>
    rawRequest(gw.origin, { method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${key}`, ...headers } });

  it('a trusted proxy’s X-Forwarded-For gives the client address for allowed_ips', async () => {
    const gw = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TRUSTED_PROXIES: '127.0.0.1/32' }));
    const key = await keyFor(gw);
    expect((await models(gw, key, { 'x-forwarded-for': CLIENT })).status).toBe(200);
    expect((await models(gw, key, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(403);
    expect((await models(gw, key)).status).toBe(403);
  });

  it('an untrusted peer’s X-Forwarded-For is ignored', async () => {
    const gw = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    const key = await keyFor(gw);
    const res = await models(gw, key, { 'x-forwarded-for': CLIENT });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: { code: 'ip_not_allowed' } });
  });
});
