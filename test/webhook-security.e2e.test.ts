/**
 * Webhook security end to end, on the real gateway: a callback_url the gateway will not call
 * (private, loopback or link-local address, a name resolving to one, credentials, a wrong type,
 * hidden whitespace, too long) is a 400 naming callback_url at submission in both task dialects,
 * with no credits reserved and no task stored. Every callback is signed: env keys' with the
 * gateway-wide secret the admin API and the CLI show. Webhook secrets are sealed at rest; ones
 * stored in clear before keep working and are sealed on their next read.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { createCallbackUrlCheck, type ResolveHost } from '../src/tasks/callback-url.js';
import { newWebhookSecret } from '../src/tasks/webhook-secrets.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';

closeAfterEach();
const runPostgres = await postgresAvailable();
const ASYNC = { 'x-new-api-async-task': 'true' };
const TASK_API = '/api/v1/images/generations';
const ENV_KEY = 'ig-env-webhooks-0123456789abcdef';

/** The gateway with one OpenAI channel to a simulator; `env` adds to (or overrides) the defaults. */
async function gateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const sim = later(await startOpenAISimulator());
  const file = await writeConfigFile({ channels: [{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }] });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TASK_POLL: '50ms', ...env }));
}

interface Received {
  headers: Record<string, string>;
  body: string;
}

/** A webhook receiver on 127.0.0.1 answering 204. */
async function receiver(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: flatHeaders(req.headers), body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') flat[name] = value;
  return flat;
}

/** The one callback a receiver got, once it has. */
async function firstCallback(hook: { received: Received[] }): Promise<Received> {
  await expect.poll(() => hook.received.length, { timeout: 15_000, interval: 50 }).toBeGreaterThan(0);
  return hook.received[0] as Received;
}

async function createKey(gw: TestGateway, credits?: number): Promise<{ id: string; key: string }> {
  const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'hooks', ...(credits === undefined ? {} : { credits }) });
  return { id: String(created.id), key: String(created.key) };
}

async function taskCount(gw: TestGateway): Promise<number> {
  const row = await gw.app.database.db
    .selectFrom('tasks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Values the gateway accepted as callback_url before, all of which it must refuse at submission. */
const REFUSED_STRINGS: readonly [string, string, RegExp][] = [
  ['loopback IPv4', 'http://127.0.0.1:9/hook', /public address/],
  ['loopback IPv6', 'http://[::1]/hook', /public address/],
  ['cloud metadata', 'http://169.254.169.254/latest/meta-data/', /public address/],
  ['private network', 'https://10.1.2.3/hook', /public address/],
  ['loopback spelled in hex', 'http://0x7f.1/hook', /public address/],
  ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook', /public address/],
  ['a name resolving to loopback', 'http://localhost:8080/hook', /'localhost' does not resolve to public addresses/],
  ['a name that does not resolve', 'http://nothing-here.invalid/hook', /'nothing-here\.invalid' does not resolve to public addresses/],
  ['credentials', 'https://user:pass@example.com/hook', /credentials/],
  ['a tab inside', 'https://exa\tmple.com/hook', /spaces or control characters/],
  ['a line break inside', 'https://example.com/ho\nok', /spaces or control characters/],
  ['over 2048 characters', `https://example.com/${'a'.repeat(2048)}`, /at most 2048/],
];

const CODES: Record<string, string> = { 'over 2048 characters': 'string_above_max_length' };

/** Non-strings new-api's dialect used to drop silently (the task ran without a callback). */
const REFUSED_TYPES: readonly [string, unknown][] = [
  ['a number', 8080],
  ['an object', { url: 'https://example.com/hook' }],
  ['an array', ['https://example.com/hook']],
  ['a boolean', true],
];

/** No reservation, no ledger entry but the grant, no task: nothing happened. */
async function expectNothingHappened(gw: TestGateway, keyId: string, credits: number): Promise<void> {
  expect((await adminJson(gw.origin, 'GET', `/admin/api/keys/${keyId}`)).credits).toBe(credits);
  expect(((await adminJson(gw.origin, 'GET', `/admin/api/keys/${keyId}/ledger`)).data as { kind: string }[]).map((e) => e.kind)).toEqual(['grant']);
  expect(await taskCount(gw)).toBe(0);
}

describe('callback_url is checked at submission', () => {
  it('new-api dialect: 400 in the OpenAI envelope with param callback_url; nothing reserved, no task', async () => {
    const gw = await gateway();
    const key = await createKey(gw, 5);
    const submit = (callback: unknown) => postJson({ ...gw, apiKey: key.key }, '/v1/images/generations', { prompt: 'hook me', callback_url: callback }, ASYNC);

    for (const [what, url, message] of REFUSED_STRINGS) {
      const res = await submit(url);
      expect(res.status, what).toBe(400);
      expect(res.json, what).toEqual({
        error: { message: expect.stringMatching(message), type: 'invalid_request_error', param: 'callback_url', code: CODES[what] ?? 'invalid_value' },
      });
    }
    for (const [what, value] of REFUSED_TYPES) {
      const res = await submit(value);
      expect(res.status, what).toBe(400);
      expect(res.json, what).toMatchObject({ error: { type: 'invalid_request_error', param: 'callback_url', code: 'invalid_type' } });
    }
    // Edits (multipart: every field is text) take the same check.
    const form = new FormData();
    form.append('prompt', 'edit and call back');
    form.append('image', new Blob([await tinyPng()], { type: 'image/png' }), 'p.png');
    form.append('callback_url', 'http://169.254.169.254/');
    const edit = await fetch(`${gw.baseURL}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key.key}`, ...ASYNC }, body: form });
    expect(edit.status).toBe(400);
    expect(await edit.json()).toMatchObject({ error: { param: 'callback_url', code: 'invalid_value' } });

    await expectNothingHappened(gw, key.id, 5);
    // The same key and body without the callback is a task, and reserves: the checks above would have seen it.
    expect((await submit(null)).status).toBe(200);
    expect(await taskCount(gw)).toBe(1);
    expect((await adminJson(gw.origin, 'GET', `/admin/api/keys/${key.id}`)).credits).toBeLessThan(5);
  }, 30_000);

  it('task API dialect: 400 in its envelope naming callback_url; nothing reserved, no task', async () => {
    const gw = await gateway();
    const key = await createKey(gw, 5);
    for (const [what, url, message] of REFUSED_STRINGS) {
      const res = await postJson({ ...gw, apiKey: key.key }, TASK_API, { model: 'gpt-image-2', prompt: 'hook me', callback_url: url });
      expect(res.status, what).toBe(400);
      expect(res.json, what).toEqual({ code: 400, msg: expect.stringMatching(message), data: null });
      expect(String(res.json?.msg), what).toContain('callback_url');
    }
    await expectNothingHappened(gw, key.id, 5);
  }, 30_000);

  it('names only the host the caller gave, never what it resolved to', async () => {
    const gw = await gateway();
    const res = await postJson(gw, TASK_API, { model: 'gpt-image-2', prompt: 'x', callback_url: 'http://localhost:1/hook' });
    expect(res.status).toBe(400);
    expect(res.text).toContain("'localhost'");
    expect(res.text).not.toMatch(/127\.0\.0\.1|::1/);
  });
});

describe('the callback URL check, with a stand-in DNS', () => {
  /** Answers `addresses` for any name, and records the names asked. */
  const resolving = (addresses: string[]): ResolveHost & { asked: string[] } => {
    const asked: string[] = [];
    const resolve = async (host: string) => {
      asked.push(host);
      return addresses;
    };
    return Object.assign(resolve, { asked });
  };

  it('a name is refused when any of its addresses is not public, without saying which; allowed ones pass', async () => {
    const mixed = createCallbackUrlCheck({ allowPrivate: false, resolve: resolving(['8.8.8.8', '10.0.0.5']) });
    const refusal = (await mixed('https://hooks.example/cb').catch((err: unknown) => err)) as Error;
    expect(refusal).toMatchObject({ status: 400, param: 'callback_url', code: 'invalid_value' });
    expect(refusal.message).toContain("'hooks.example'");
    expect(refusal.message).not.toMatch(/10\.0\.0\.5|8\.8\.8\.8/);
    const publicOnly = createCallbackUrlCheck({ allowPrivate: false, resolve: resolving(['8.8.8.8', '2001:4860:4860::8888']) });
    expect(await publicOnly('  https://Hooks.Example/cb?x=1  ')).toBe('https://hooks.example/cb?x=1');
    const excepted = createCallbackUrlCheck({ allowPrivate: false, allowAddresses: ['10.0.0.0/8'], resolve: resolving(['10.0.0.5']) });
    expect(await excepted('http://inside.example/cb')).toBe('http://inside.example/cb');
  });

  it('a lookup that does not answer in time is a refusal; with private addresses allowed, nothing is looked up', async () => {
    const hanging = createCallbackUrlCheck({ allowPrivate: false, resolve: () => new Promise(() => undefined), lookupTimeoutMs: 50 });
    await expect(hanging('https://slow.example/cb')).rejects.toMatchObject({ param: 'callback_url' });
    const resolve = resolving(['127.0.0.1']);
    const open = createCallbackUrlCheck({ allowPrivate: true, resolve });
    expect(await open('http://localhost:1/cb')).toBe('http://localhost:1/cb');
    expect(resolve.asked).toEqual([]);
    expect(await open(null)).toBeNull();
    expect(await open('   ')).toBeNull();
  });
});

describe('every webhook is signed', () => {
  it('env keys: signed with the gateway-wide secret the admin API and the CLI show; rotation replaces it', async () => {
    const gw = await gateway({ IMAGEGATE_API_KEYS: ENV_KEY, IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1' });
    const envGw = { ...gw, apiKey: ENV_KEY };
    const newApiHook = await receiver();
    const taskApiHook = await receiver();
    expect((await postJson(envGw, '/v1/images/generations', { prompt: 'env key', callback_url: newApiHook.url }, ASYNC)).status).toBe(200);
    expect((await postJson(envGw, TASK_API, { model: 'gpt-image-2', prompt: 'env key', callback_url: taskApiHook.url })).status).toBe(200);

    const secret = (await adminJson(gw.origin, 'GET', '/admin/api/webhook-secret')).secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    for (const hook of [newApiHook, taskApiHook]) {
      const { body, headers } = await firstCallback(hook);
      expect(headers['webhook-signature']).toMatch(/^v1,/);
      expect(new Webhook(secret).verify(body, headers)).toBeTruthy();
    }

    const rotated = (await adminJson(gw.origin, 'POST', '/admin/api/webhook-secret/rotate')).secret as string;
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    expect((await adminJson(gw.origin, 'GET', '/admin/api/webhook-secret')).secret).toBe(rotated);
    // The CLI reads the same database (and its key file) and shows the same secret.
    const cli = await runCli(['webhooks', 'secret'], { IMAGEGATE_DATA_DIR: gw.app.config.dataDir });
    expect(cli).toMatchObject({ status: 0, stdout: `${rotated}\n` });
    // Sealed at rest too.
    const stored = await gw.app.database.db.selectFrom('settings').select('value').where('key', '=', 'webhook_signing_secret').executeTakeFirstOrThrow();
    expect(stored.value).toMatch(/^enc:v1:/);
    expect(stored.value).not.toContain(rotated.slice('whsec_'.length));
  }, 60_000);

  it('the image-link signing secret is sealed at rest too, and links made with it work', async () => {
    const gw = await gateway();
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'sealed link', response_format: 'url' });
    const url = String((res.json?.data as { url: string }[])[0]?.url);
    // Read to its end: an answer left unread holds its connection, and the server's close waits for it.
    const image = await fetch(url);
    await image.arrayBuffer();
    expect(image.status).toBe(200);
    const stored = await gw.app.database.db.selectFrom('settings').select('value').where('key', '=', 'url_signing_secret').executeTakeFirstOrThrow();
    expect(stored.value).toMatch(/^enc:v1:/);
  });
});

function sealedSuite(database: 'sqlite' | 'postgres') {
  it(`key secrets are sealed in api_keys.webhook_secret, clear legacy ones still sign and get sealed, and signatures verify (${database})`, async () => {
    const pg = database === 'postgres' ? await createTestDatabase() : undefined;
    if (pg) onCleanup(() => pg.drop());
    const gw = await gateway({
      IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1',
      ...(pg ? { DATABASE_URL: pg.url, IMAGEGATE_SECRET_KEY: randomBytes(32).toString('base64') } : {}),
    });
    const { db } = gw.app.database;
    const column = async (id: string) =>
      (await db.selectFrom('api_keys').select('webhook_secret').where('id', '=', id).executeTakeFirstOrThrow()).webhook_secret;

    const fresh = await createKey(gw);
    const secret = (await adminJson(gw.origin, 'GET', `/admin/api/keys/${fresh.id}/webhook-secret`)).webhook_secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const raw = await column(fresh.id);
    expect(raw).toMatch(/^enc:v1:/);
    expect(raw).not.toContain(secret.slice('whsec_'.length));

    // A secret stored in clear before sealing: used as it is, and sealed once read.
    const legacy = await createKey(gw);
    const clear = newWebhookSecret();
    await db.updateTable('api_keys').set({ webhook_secret: clear }).where('id', '=', legacy.id).execute();
    expect((await adminJson(gw.origin, 'GET', `/admin/api/keys/${legacy.id}/webhook-secret`)).webhook_secret).toBe(clear);
    expect(await column(legacy.id)).toMatch(/^enc:v1:/);

    for (const [key, signing] of [
      [fresh, secret],
      [legacy, clear],
    ] as const) {
      const hook = await receiver();
      expect((await postJson({ ...gw, apiKey: key.key }, '/v1/images/generations', { prompt: 'sealed', callback_url: hook.url }, ASYNC)).status).toBe(200);
      const { body, headers } = await firstCallback(hook);
      expect(new Webhook(signing).verify(body, headers)).toMatchObject({ code: 'success' });
    }
  }, 60_000);
}

describe('webhook secrets at rest', () => {
  sealedSuite('sqlite');
  describe.skipIf(!runPostgres)('postgres', () => sealedSuite('postgres'));
});

/** The real CLI in a child process, on the test's data dir only. */
function runCli(args: string[], extra: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const {
    OPENAI_API_KEY: _k,
    OPENAI_BASE_URL: _b,
    IMAGEGATE_API_KEYS: _a,
    DATABASE_URL: _d,
    IMAGEGATE_CONFIG: _c,
    IMAGEGATE_SECRET_KEY: _s,
    ...rest
  } = process.env;
  const cli = ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'cli.ts')];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...cli, ...args], { env: { ...rest, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function tinyPng(): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } })
    .png()
    .toBuffer();
}
