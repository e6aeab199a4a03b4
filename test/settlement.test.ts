/**
 * The settlement rules (billing/settlement.ts) against a real SQLite ledger: a hold settles once
 * (a second settlement is reported and not sent), a failed sync run is refunded, a task run cut
 * short by shutdown or the database keeps its reservation, and two holds on one reservation (two
 * runs of one task) still settle it once, by the ledger's idempotence.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyService } from '../src/billing/api-keys.js';
import { Credits } from '../src/billing/credits.js';
import { Settlement, type HoldEnding } from '../src/billing/settlement.js';
import { gatewayError } from '../src/core/errors.js';
import { parseImageRequest } from '../src/core/image-request.js';
import { ModelCatalogue } from '../src/core/models.js';
import { openDatabase, type Database } from '../src/db/database.js';
import { DatabaseConnectionError } from '../src/db/unavailable.js';

const PRICE = 16_000;

let dir: string;
let database: Database;
let credits: Credits;
let settlement: Settlement;
let keyId: string;
let keySecret: string;
let twice: string[];
let settleErrors: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imagegate-settlement-'));
  database = await openDatabase({ kind: 'sqlite', file: join(dir, 'db.sqlite') });
  credits = new Credits(database.db);
  ({ id: keyId, key: keySecret } = await new ApiKeyService(database.db, []).create({ name: 'metered', creditsMicros: 1 }));
  await credits.grant(keyId, 1_000_000, null);
  twice = [];
  settleErrors = [];
  settlement = new Settlement({
    credits,
    prices: { maxPriceMicros: () => PRICE },
    onSettleError: (_err, requestId) => void settleErrors.push(requestId),
    onSettledTwice: (requestId: string, first: HoldEnding, second: HoldEnding) => void twice.push(`${requestId}: ${first}, then ${second}`),
  });
});

afterEach(async () => {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The request's ledger rows, as `kind amount`, reserve first (rows written in one millisecond have no order). */
async function rows(requestId: string): Promise<string[]> {
  const entries = (await credits.ledger(keyId)).filter((e) => e.request_id === requestId);
  return entries.map((e) => `${e.kind} ${e.amount_micros}`).sort((a, b) => Number(b.startsWith('reserve')) - Number(a.startsWith('reserve')));
}

async function balance(): Promise<number | null | undefined> {
  return (await new ApiKeyService(database.db, []).get(keyId))?.balanceMicros;
}

/** A task's reservation, as the task service makes it at submission. */
async function reserved(requestId: string) {
  await credits.reserve(keyId, requestId, PRICE);
  return settlement.heldFor(requestId);
}

const notAborted = new AbortController().signal;
const databaseAway = new DatabaseConnectionError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

describe('a hold settles once', () => {
  it('a second settlement of one hold is reported and not sent; the first stands', async () => {
    const hold = await reserved('req_twice');
    await hold.charge(10_000);
    await hold.refund('late failure');
    await hold.charge(PRICE);
    expect(twice).toEqual(['req_twice: charged, then refunded', 'req_twice: charged, then charged']);
    expect(await rows('req_twice')).toEqual([`reserve ${-PRICE}`, `release ${PRICE - 10_000}`]);
    expect(await balance()).toBe(1_000_000 - 10_000);
  });

  it('a kept reservation is not settled by the same owner afterwards', async () => {
    const hold = await reserved('req_kept');
    hold.keep();
    await hold.refund('after keep');
    expect(twice).toEqual(['req_kept: kept, then refunded']);
    expect(await rows('req_kept')).toEqual([`reserve ${-PRICE}`]);
  });

  it('an unlimited key holds nothing, and is held to the same rule', async () => {
    const hold = await settlement.heldFor('req_unlimited');
    expect(hold.metered).toBe(false);
    await hold.charge(PRICE);
    await hold.charge(PRICE);
    expect(twice).toEqual(['req_unlimited: charged, then charged']);
    expect(await rows('req_unlimited')).toEqual([]);
  });

  it('two holds on one reservation (two runs of one task) settle it once: the ledger ignores the second', async () => {
    await credits.reserve(keyId, 'req_two_runs', PRICE);
    const first = await settlement.heldFor('req_two_runs');
    const second = await settlement.heldFor('req_two_runs');
    await first.charge(PRICE);
    await second.refund('the other run failed');
    expect(twice).toEqual([]);
    expect(await rows('req_two_runs')).toEqual([`reserve ${-PRICE}`, 'release 0']);
    expect(await balance()).toBe(1_000_000 - PRICE);
  });
});

describe('a failed run', () => {
  it('reserve-now: refunded in full, under the error code', async () => {
    const key = await new ApiKeyService(database.db, []).authenticate(keySecret);
    const job = parseImageRequest(
      { endpoint: 'generations', body: { model: 'dall-e-2', prompt: 'a refund', size: '256x256' } },
      ModelCatalogue.withAliases([]),
      'req_sync',
    ).job;
    const hold = await settlement.reserve(key, job);
    expect(await rows('req_sync')).toEqual([`reserve ${-PRICE}`]);
    await settlement.failed(hold, { kind: 'reserve-now' }, gatewayError('upstream_error', 'the upstream failed'));
    expect(await rows('req_sync')).toEqual([`reserve ${-PRICE}`, `refund ${PRICE}`]);
    expect((await credits.ledger(keyId)).find((e) => e.request_id === 'req_sync' && e.kind === 'refund')?.note).toBe('upstream_error');
  });

  it('reserve-now: a database outage is refunded too (the request is answered 503, never run again)', async () => {
    const hold = await reserved('req_sync_db');
    await settlement.failed(hold, { kind: 'reserve-now' }, databaseAway);
    expect(await rows('req_sync_db')).toEqual([`reserve ${-PRICE}`, `refund ${PRICE}`]);
  });

  it('already-reserved: kept when cut short by shutdown or by the database, refunded otherwise', async () => {
    const shutdown = new AbortController();
    shutdown.abort(new Error('shutting down'));
    const atShutdown = await reserved('req_shutdown');
    await settlement.failed(atShutdown, { kind: 'already-reserved', hold: atShutdown, shutdown: shutdown.signal }, gatewayError('upstream_error', 'aborted'));
    const dbAway = await reserved('req_db_away');
    await settlement.failed(dbAway, { kind: 'already-reserved', hold: dbAway, shutdown: notAborted }, databaseAway);
    const failed = await reserved('req_failed');
    await settlement.failed(failed, { kind: 'already-reserved', hold: failed, shutdown: notAborted }, new Error('boom'));
    expect(await rows('req_shutdown')).toEqual([`reserve ${-PRICE}`]);
    expect(await rows('req_db_away')).toEqual([`reserve ${-PRICE}`]);
    expect(await rows('req_failed')).toEqual([`reserve ${-PRICE}`, `refund ${PRICE}`]);
    // The next run's hold settles what the interrupted one kept.
    await (await settlement.heldFor('req_shutdown')).charge(PRICE);
    expect(await rows('req_shutdown')).toEqual([`reserve ${-PRICE}`, 'release 0']);
    expect(twice).toEqual([]);
    expect(settleErrors).toEqual([]);
  });
});
