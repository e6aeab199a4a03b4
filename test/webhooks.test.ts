/**
 * Task callbacks: retried on the schedule until a 2xx, signed with Standard Webhooks, refused for
 * private addresses, sent once per attempt across instances (the lease), and kept across restarts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ApiKeyService } from '../src/billing/api-keys.js';
import { openDatabase, type Database, type Db } from '../src/db/database.js';
import type { DatabaseConfig } from '../src/config.js';
import type { DeliveryRow } from '../src/db/schema.js';
import { SafeFetcher } from '../src/net/safe-fetch.js';
import { WebhookSecrets } from '../src/tasks/webhook-secrets.js';
import { EndingWebhooks } from '../src/tasks/ending-webhooks.js';
import { TaskStore } from '../src/tasks/task-store.js';
import { DEFAULT_RETRY_SCHEDULE, deliveryIdFor, retryDelay, WebhookOutbox, type RetrySchedule } from '../src/tasks/webhooks.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { insertEndedTask } from './helpers/task-rows.js';

const runPostgres = await postgresAvailable();

interface Received {
  at: number;
  headers: Record<string, string>;
  body: string;
}

/** A receiver on 127.0.0.1: each path answers with `statusFor(n)` for its n-th request (1-based). */
let server: Server;
let origin: string;
let targetHits = 0;
const routes = new Map<string, { statusFor: (n: number) => number; delayMs: number; received: Received[] }>();

function route(statusFor: (n: number) => number, delayMs = 0): { url: string; received: Received[] } {
  const path = `/hook/${randomUUID()}`;
  const received: Received[] = [];
  routes.set(path, { statusFor, delayMs, received });
  return { url: origin + path, received };
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') flat[name] = value;
  return flat;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/special/redirect') return res.writeHead(302, { location: '/special/target' }).end();
      if (req.url === '/special/target') {
        targetHits++;
        return res.writeHead(200).end();
      }
      if (req.url === '/special/big') return res.writeHead(200).end(Buffer.alloc(5_000_000, 1));
      if (req.url === '/special/slow') return void setTimeout(() => res.writeHead(200).end(), 1_000);
      const handler = routes.get(req.url ?? '');
      if (!handler || req.method !== 'POST') return res.writeHead(404).end();
      handler.received.push({ at: Date.now(), headers: flatHeaders(req.headers), body: Buffer.concat(chunks).toString('utf8') });
      const status = handler.statusFor(handler.received.length);
      setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope'), handler.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const FAST: RetrySchedule = { delaysMs: [10, 20, 40], windowMs: 10_000 };
const PAYLOAD = { code: 200, msg: 'success', data: { taskId: 't', state: 'completed', resultJson: '{"resultUrls":[]}' } };

/** Fetchers: one allowing just the local receiver, one strict (public addresses only). */
function fetcher(strict = false): SafeFetcher {
  const f = new SafeFetcher({ maxBytes: 1_000_000, timeoutMs: 10_000, maxRedirects: 0, allowPrivate: false, allowAddresses: strict ? [] : ['127.0.0.1'] });
  onTestFinished(() => f.close());
  return f;
}

async function open(config: DatabaseConfig): Promise<Database> {
  const database = await openDatabase(config);
  onTestFinished(() => database.close());
  return database;
}

function sqliteFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-webhooks-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'imagegate.db');
}

async function sqlite(): Promise<Db> {
  return (await open({ kind: 'sqlite', file: sqliteFile() })).db;
}

/** A finished task of a fresh database key (or of `keyId` as given). */
async function task(db: Db, keyId?: string | null): Promise<{ taskId: string; keyId: string | null }> {
  const key = keyId === undefined ? (await new ApiKeyService(db, []).create('hooks')).id : keyId;
  const taskId = `task_${randomUUID()}`;
  await insertEndedTask(db, { id: taskId, key_id: key });
  return { taskId, keyId: key };
}

function outbox(db: Db, f: SafeFetcher, schedule: RetrySchedule = FAST, now?: () => number): WebhookOutbox {
  const errors: unknown[] = [];
  const box = new WebhookOutbox({
    db,
    fetcher: f,
    secrets: new WebhookSecrets(db, null),
    schedule,
    onError: (err) => errors.push(err),
    ...(now ? { now } : {}),
  });
  onTestFinished(async () => {
    await box.drain();
    expect(errors).toEqual([]);
  });
  return box;
}

async function only(db: Db, taskId: string): Promise<DeliveryRow> {
  const rows = await db.selectFrom('webhook_deliveries').selectAll().where('task_id', '=', taskId).execute();
  expect(rows).toHaveLength(1);
  return rows[0] as DeliveryRow;
}

/** Calls deliverDue until the task's delivery is no longer pending. */
async function settle(box: WebhookOutbox, db: Db, taskId: string, limitMs = 10_000): Promise<DeliveryRow> {
  const until = Date.now() + limitMs;
  for (;;) {
    await box.deliverDue();
    const row = await only(db, taskId);
    if (row.status !== 'pending') return row;
    if (Date.now() > until) throw new Error(`delivery still pending after ${limitMs} ms: ${JSON.stringify(row)}`);
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
}

async function secretOf(db: Db, keyId: string): Promise<string> {
  const row = await db.selectFrom('api_keys').select('webhook_secret').where('id', '=', keyId).executeTakeFirstOrThrow();
  expect(row.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
  return row.webhook_secret as string;
}

describe('SafeFetcher.post', () => {
  it('sends the body and headers, answers the status, and follows no redirect', async () => {
    const hook = route(() => 202);
    const f = fetcher();
    expect(await f.post(hook.url, '{"a":1}', { 'content-type': 'application/json', 'x-extra': 'yes' })).toEqual({ status: 202 });
    expect(hook.received[0]).toMatchObject({ body: '{"a":1}', headers: { 'content-type': 'application/json', 'x-extra': 'yes' } });
    expect(await f.post(`${origin}/special/redirect`, '{}', {})).toEqual({ status: 302 });
    expect(targetHits).toBe(0);
    // A large answer is dropped after a small cap: the status still comes back.
    expect(await f.post(`${origin}/special/big`, '{}', {})).toEqual({ status: 200 });
  });

  it('refuses private addresses and times out per call, as UnsafeUrlError', async () => {
    const strict = fetcher(true);
    await expect(strict.post('http://169.254.169.254/', '{}', {})).rejects.toMatchObject({ name: 'UnsafeUrlError', reason: 'address' });
    await expect(strict.post(`${origin}/special/target`, '{}', {})).rejects.toMatchObject({ reason: 'address' });
    await expect(strict.post('file:///etc/passwd', '{}', {})).rejects.toMatchObject({ reason: 'scheme' });
    await expect(fetcher().post(`${origin}/special/slow`, '{}', {}, { timeoutMs: 100 })).rejects.toMatchObject({ reason: 'timeout' });
    await expect(fetcher().post(`${origin}/special/slow`, '{}', {}, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'UnsafeUrlError' });
    expect(targetHits).toBe(0);
  });
});

describe('retry schedule', () => {
  it('defaults to 1 s, 2 s, 4 s, then backoff to 10 minutes within 30 minutes', () => {
    const delays = Array.from({ length: 10 }, (_, i) => retryDelay(DEFAULT_RETRY_SCHEDULE, i + 1));
    expect(delays).toEqual([1_000, 2_000, 4_000, 30_000, 60_000, 120_000, 300_000, 600_000, 600_000, 600_000]);
    expect(DEFAULT_RETRY_SCHEDULE.windowMs).toBe(30 * 60_000);
  });
});

describe('webhook secrets', () => {
  it("makes a key its secret once, even asked concurrently; rotates; env keys and no key share the gateway's", async () => {
    const db = await sqlite();
    const key = await new ApiKeyService(db, []).create('s');
    const a = new WebhookSecrets(db, null);
    const b = new WebhookSecrets(db, null);
    const answers = await Promise.all([a.secretFor(key.id), b.secretFor(key.id), a.secretFor(key.id)]);
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toBe(await secretOf(db, key.id));
    const rotated = await a.rotate(key.id);
    expect(rotated).not.toBe(answers[0]);
    expect(await b.secretFor(key.id)).toBe(rotated);
    const gateway = await Promise.all([a.secretFor('env:ig-abcdefg'), b.secretFor(null), b.gatewaySecret()]);
    expect(new Set(gateway).size).toBe(1);
    expect(gateway[0]).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(gateway[0]).not.toBe(rotated);
    expect(await a.rotate('env:ig-abcdefg')).toBeNull();
    expect(await a.secretFor('no-such-key')).toBeNull();
  });
});

describe('webhook outbox (sqlite)', () => {
  it('retries a failing receiver on the schedule and delivers on the 4th attempt, signed, with one webhook-id', async () => {
    const db = await sqlite();
    const { taskId, keyId } = await task(db);
    const hook = route((n) => (n <= 3 ? 500 : 204));
    const box = outbox(db, fetcher());
    await box.enqueue(taskId, keyId, hook.url, PAYLOAD);
    const row = await settle(box, db, taskId);

    expect(row).toMatchObject({ status: 'delivered', attempts: 4, last_status: 204, last_error: null, lease_until: null });
    expect(row.delivered_at).toBeGreaterThanOrEqual(row.first_attempt_at ?? Infinity);
    expect(hook.received).toHaveLength(4);
    // The same id on every attempt, and it is the delivery's id.
    expect(new Set(hook.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([row.id]));
    // Waits of at least 10, 20 and 40 ms between attempts.
    const gaps = hook.received.slice(1).map((r, i) => r.at - (hook.received[i] as Received).at);
    for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual((FAST.delaysMs[i] as number) - 2);

    const last = hook.received[3] as Received;
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.body).toBe(row.payload);
    expect(JSON.parse(last.body)).toEqual(PAYLOAD);
    const secret = await secretOf(db, keyId as string);
    expect(new Webhook(secret).verify(last.body, last.headers)).toEqual(PAYLOAD);
    // A signature under any other secret does not verify.
    expect(() => new Webhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(last.body, last.headers)).toThrow();
    expect(await box.deliveries(taskId)).toEqual([row]);
  });

  it('delivers through the timer too (start/drain)', async () => {
    const db = await sqlite();
    const { taskId, keyId } = await task(db);
    const hook = route((n) => (n === 1 ? 503 : 200));
    const box = outbox(db, fetcher());
    box.start(1_000);
    await box.enqueue(taskId, keyId, hook.url, PAYLOAD);
    const until = Date.now() + 5_000;
    while ((await only(db, taskId)).status === 'pending' && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
    await box.drain();
    expect(await only(db, taskId)).toMatchObject({ status: 'delivered', attempts: 2, last_status: 200 });
    expect(hook.received).toHaveLength(2);
  });

  it('gives up once the next attempt would fall beyond the window after the first', async () => {
    const db = await sqlite();
    const { taskId, keyId } = await task(db);
    const hook = route(() => 500);
    const schedule: RetrySchedule = { delaysMs: [10, 20, 40], windowMs: 150 };
    // The outbox's clock, stepped to each attempt's due time: which attempts fit the window is
    // the schedule's arithmetic, not how fast this machine sends them.
    let clock = Date.now();
    const box = outbox(db, fetcher(), schedule, () => clock);
    await box.enqueue(taskId, keyId, hook.url, PAYLOAD);
    const first = clock;
    const triedAt: number[] = [];
    for (let pending = await only(db, taskId); pending.status === 'pending' && triedAt.length < 20; pending = await only(db, taskId)) {
      clock = pending.next_attempt_at;
      triedAt.push(clock - first);
      expect(await box.deliverDue()).toBe(1);
    }
    const row = await only(db, taskId);

    expect(row).toMatchObject({ status: 'failed', last_status: 500, last_error: 'answered HTTP 500', delivered_at: null, lease_until: null });
    // 10, 20, 40, then the last delay repeats; an attempt at 190 would start past the window.
    expect(triedAt).toEqual([0, 10, 30, 70, 110, 150]);
    expect(triedAt.at(-1)! + retryDelay(schedule, triedAt.length)).toBeGreaterThan(schedule.windowMs);
    expect(row.attempts).toBe(6);
    expect(hook.received).toHaveLength(6);
  });

  it('refuses private addresses without a request and records why', async () => {
    const db = await sqlite();
    const { taskId: metadata, keyId } = await task(db);
    const { taskId: local } = await task(db, keyId);
    const hook = route(() => 200);
    const box = outbox(db, fetcher(true));
    await box.enqueue(metadata, keyId, 'http://169.254.169.254/latest/meta-data/', PAYLOAD);
    // A name resolving to loopback: the connect-time check stops it before our receiver hears anything.
    await box.enqueue(local, keyId, hook.url.replace('127.0.0.1', 'localhost'), PAYLOAD);
    expect(await box.deliverDue()).toBe(2);

    const refused = await only(db, metadata);
    expect(refused).toMatchObject({ status: 'failed', attempts: 1, last_status: null, lease_until: null });
    expect(refused.last_error).toMatch(/^address: 169\.254\.169\.254 is not a public address/);
    const loopback = await only(db, local);
    expect(loopback).toMatchObject({ status: 'failed', attempts: 1, last_status: null });
    expect(loopback.last_error).toMatch(/^address: localhost resolves to/);
    expect(hook.received).toHaveLength(0);
  });

  it('signs env-key callbacks with the gateway-wide secret, with the id', async () => {
    const db = await sqlite();
    const { taskId, keyId } = await task(db, 'env:ig-abcdefg');
    const hook = route(() => 200);
    const box = outbox(db, fetcher());
    await box.enqueue(taskId, keyId, hook.url, PAYLOAD);
    expect(await settle(box, db, taskId)).toMatchObject({ status: 'delivered', attempts: 1 });
    const [request] = hook.received;
    expect(request?.headers['webhook-id']).toMatch(/^msg_/);
    expect(new Webhook(await new WebhookSecrets(db, null).gatewaySecret()).verify((request as Received).body, (request as Received).headers)).toEqual(PAYLOAD);
  });

  it('survives a restart: a delivery written by one instance is sent by the next', async () => {
    const file = sqliteFile();
    const hook = route(() => 200);
    const before = await openDatabase({ kind: 'sqlite', file });
    const { taskId, keyId } = await task(before.db);
    await outbox(before.db, fetcher()).enqueue(taskId, keyId, hook.url, PAYLOAD);
    await before.close();
    expect(hook.received).toHaveLength(0);

    const after = await open({ kind: 'sqlite', file });
    const box = outbox(after.db, fetcher());
    expect(await box.deliverDue()).toBe(1);
    expect(await only(after.db, taskId)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hook.received).toHaveLength(1);
    expect(new Webhook(await secretOf(after.db, keyId as string)).verify((hook.received[0] as Received).body, (hook.received[0] as Received).headers)).toEqual(
      PAYLOAD,
    );
  });

  it("takes over an attempt whose lease ran out (a crashed instance's), not one still held", async () => {
    const db = await sqlite();
    const { taskId, keyId } = await task(db);
    const hook = route(() => 200);
    const box = outbox(db, fetcher());
    await box.enqueue(taskId, keyId, hook.url, PAYLOAD);
    await db
      .updateTable('webhook_deliveries')
      .set({ lease_until: Date.now() + 60_000 })
      .where('task_id', '=', taskId)
      .execute();
    expect(await box.deliverDue()).toBe(0);
    await db
      .updateTable('webhook_deliveries')
      .set({ lease_until: Date.now() - 1 })
      .where('task_id', '=', taskId)
      .execute();
    expect(await box.deliverDue()).toBe(1);
    expect(await only(db, taskId)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hook.received).toHaveLength(1);
  });

  leaseSuite(() => ({ kind: 'sqlite', file: sqliteFile() }));
});

describe.skipIf(!runPostgres)('webhook outbox (postgres)', () => {
  leaseSuite(async () => {
    const pg = await createTestDatabase();
    onTestFinished(() => pg.drop());
    return { kind: 'postgres', url: pg.url };
  });
});

/** Two instances (two connections to one database) polling at once: each attempt goes out once. */
function leaseSuite(database: () => DatabaseConfig | Promise<DatabaseConfig>) {
  it('two outboxes on one database never send the same attempt twice', async () => {
    const config = await database();
    const a = await open(config);
    const b = await open(config);
    const f = fetcher();
    const boxA = outbox(a.db, f);
    const boxB = outbox(b.db, f);
    for (let round = 0; round < 5; round++) {
      const { taskId, keyId } = await task(a.db);
      const hook = route(() => 200, 30);
      await boxA.enqueue(taskId, keyId, hook.url, PAYLOAD);
      const tried = await Promise.all([boxA.deliverDue(), boxB.deliverDue(), boxB.deliverDue()]);
      expect(tried.reduce((sum, n) => sum + n, 0)).toBe(1);
      expect(hook.received).toHaveLength(1);
      expect(await only(b.db, taskId)).toMatchObject({ status: 'delivered', attempts: 1 });
    }
    // Failed attempts too: each retry is claimed by one of them.
    const { taskId, keyId } = await task(a.db);
    const hook = route((n) => (n <= 2 ? 500 : 200), 20);
    await boxA.enqueue(taskId, keyId, hook.url, PAYLOAD);
    const until = Date.now() + 10_000;
    let tried = 0;
    while ((await only(a.db, taskId)).status === 'pending' && Date.now() < until) {
      tried += (await Promise.all([boxA.deliverDue(), boxB.deliverDue()])).reduce((sum, n) => sum + n, 0);
    }
    expect(await only(a.db, taskId)).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(tried).toBe(3);
    expect(hook.received).toHaveLength(3);
  });

  it('two instances sweeping for an ended task without its delivery write it once, and it goes out once', async () => {
    const config = await database();
    const a = await open(config);
    const b = await open(config);
    const f = fetcher();
    const hook = route(() => 200);
    const { taskId } = await task(a.db);
    await a.db.updateTable('tasks').set({ callback_url: hook.url, dialect: 'newapi' }).where('id', '=', taskId).execute();
    const repaired: string[] = [];
    const sweeper = (db: Db, box: WebhookOutbox) =>
      new EndingWebhooks({
        db,
        store: new TaskStore(db),
        outbox: box,
        sign: (name) => name,
        sweepEveryMs: 60_000,
        sweepWindowMs: 60_000,
        onRepaired: (id) => repaired.push(id),
        onError: (err) => expect.fail(String(err)),
      });
    const boxA = outbox(a.db, f);
    const boxB = outbox(b.db, f);
    const written = await Promise.all([sweeper(a.db, boxA).repair(), sweeper(b.db, boxB).repair(), sweeper(b.db, boxB).repair(Date.now() - 60_000)]);
    expect(written.reduce((sum, n) => sum + n, 0)).toBe(1);
    expect(repaired).toEqual([taskId]);
    expect(await only(b.db, taskId)).toMatchObject({ id: deliveryIdFor(taskId), status: 'pending' });
    // A second write of the same task's delivery (an ending racing a sweep) changes nothing.
    expect(await boxB.add(b.db, taskId, hook.url, PAYLOAD)).toBe(false);
    await Promise.all([boxA.deliverDue(), boxB.deliverDue()]);
    expect(await only(a.db, taskId)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.headers['webhook-id']).toBe(deliveryIdFor(taskId));
  });
}
