/**
 * GET /admin/api/usage/report end to end, on SQLite and PostgreSQL: real requests through the
 * gateway to two OpenAI simulators (one fails over to the other, one is refused), then the
 * analytics by day, key, model and channel, checked against what was sent and against the
 * request rows the usage list answers; CSV export.
 */
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';

closeAfterEach();
const runPostgres = await postgresAvailable();

interface Figures {
  requests: number;
  succeeded: number;
  errors: number;
  error_rate: number;
  images: number;
  price: number;
  cost: number;
  margin: number;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null };
}
type Group = Figures & { day?: string; model?: string | null; key_id?: string | null; key_name?: string | null; channel?: string | null };
interface Report {
  object: string;
  group_by: string[];
  totals: Figures;
  groups: Group[];
}
interface LogRow {
  key_id: string | null;
  channel: string | null;
  status: number;
  delivered: number;
  latency_ms: number;
  price: number | null;
  cost: number | null;
}

async function admin(gw: TestGateway, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.origin}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...headers } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, text: await res.text() };
}

async function report(gw: TestGateway, query: string): Promise<Report> {
  const res = await admin(gw, `/admin/api/usage/report?${query}`);
  expect(res.status, res.text).toBe(200);
  return JSON.parse(res.text) as Report;
}

/** dall-e-2 at 256x256: $0.016 an image (OpenAI's list price); beta costs the operator half of it. */
const IMAGE_PRICE = 0.016;
const micro = (usd: number) => Math.round(usd * 1_000_000);

/** Nearest rank, as the report computes it. */
function percentile(values: readonly number[], p: number): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return sorted[Math.ceil((p / 100) * sorted.length) - 1] ?? null;
}

function analyticsSuite(database: 'sqlite' | 'postgres') {
  it(`sums requests, images, price, cost, errors and latency per day, key, model and channel, as JSON and CSV (${database})`, async () => {
    const pg = database === 'postgres' ? await createTestDatabase() : undefined;
    if (pg) onCleanup(() => pg.drop());
    const alpha = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const beta = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const file = await writeConfigFile({
      channels: [relayChannel('alpha', alpha.baseURL, { priority: 10 }), relayChannel('beta', beta.baseURL, { priority: 1, cost_ratio: 0.5 })],
    });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, ...(pg ? { DATABASE_URL: pg.url } : {}) }));
    const keyOf = async (name: string) => {
      const res = await fetch(`${gw.origin}/admin/api/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, credits: 5 }),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as { id: string; key: string };
    };
    const painter = await keyOf('painter');
    const sketcher = await keyOf('sketcher');
    const generate = async (key: string, n = 1) =>
      (
        await postJson(
          gw,
          '/v1/images/generations',
          { model: 'dall-e-2', prompt: 'a harbour', size: '256x256', n, response_format: 'b64_json' },
          { authorization: `Bearer ${key}` },
        )
      ).status;

    // painter: three images on alpha; one more that alpha fails (500) and beta serves.
    expect([await generate(painter.key), await generate(painter.key), await generate(painter.key)]).toEqual([200, 200, 200]);
    alpha.sim.enqueueFault({ kind: 'status', status: 500 });
    expect(await generate(painter.key)).toBe(200);
    // sketcher: two images in one request on alpha; one request alpha refuses (400: no failover).
    expect(await generate(sketcher.key, 2)).toBe(200);
    alpha.sim.enqueueFault({ kind: 'status', status: 400, code: 'content_policy_violation' });
    expect(await generate(sketcher.key)).toBe(400);

    // Each request's row is written after its answer: wait for the last one to land.
    const loggedRows = async () => (JSON.parse((await admin(gw, '/admin/api/usage?limit=1000')).text) as { data: LogRow[] }).data;
    await expect.poll(async () => (await loggedRows()).length).toBe(6);
    const rows = await loggedRows();
    const today = new Date().toISOString().slice(0, 10);
    const range = `from=${today}&to=${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}`;

    // The whole range, by day: six requests, one error, six images at list price.
    const byDay = await report(gw, `${range}&group_by=day`);
    expect(byDay.group_by).toEqual(['day']);
    const latencies = rows.map((r) => r.latency_ms);
    const expectedTotals = {
      requests: 6,
      succeeded: 5,
      errors: 1,
      error_rate: 1 / 6,
      images: 6,
      price: 6 * IMAGE_PRICE,
      latency_ms: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
    };
    expect(byDay.totals).toMatchObject(expectedTotals);
    expect(byDay.groups).toEqual([{ day: today, ...byDay.totals }]);
    // Cost: five images at list price on alpha, one at half on beta.
    expect(micro(byDay.totals.cost)).toBe(micro(5 * IMAGE_PRICE + 0.5 * IMAGE_PRICE));
    expect(micro(byDay.totals.margin)).toBe(micro(byDay.totals.price - byDay.totals.cost));
    // The same sums as the request rows themselves.
    expect(micro(byDay.totals.price)).toBe(micro(rows.reduce((sum, r) => sum + (r.price ?? 0), 0)));
    expect(micro(byDay.totals.cost)).toBe(micro(rows.reduce((sum, r) => sum + (r.cost ?? 0), 0)));

    // By key, with names; each key's latency percentiles from its own rows.
    const byKey = await report(gw, `${range}&group_by=key`);
    const keyGroup = (id: string) => byKey.groups.find((g) => g.key_id === id);
    expect(keyGroup(painter.id)).toMatchObject({ key_name: 'painter', requests: 4, images: 4, errors: 0, error_rate: 0 });
    expect(keyGroup(sketcher.id)).toMatchObject({ key_name: 'sketcher', requests: 2, images: 2, errors: 1, error_rate: 0.5 });
    for (const key of [painter, sketcher]) {
      const own = rows.filter((r) => r.key_id === key.id).map((r) => r.latency_ms);
      expect(keyGroup(key.id)?.latency_ms).toEqual({ p50: percentile(own, 50), p95: percentile(own, 95), p99: percentile(own, 99) });
    }
    expect(byKey.groups).toHaveLength(2);

    // By day and channel (a stacked chart): the channel a request ended on.
    const byChannel = await report(gw, `${range}&group_by=day,channel`);
    expect(byChannel.groups.map((g) => [g.day, g.channel, g.requests, g.images, g.errors, micro(g.cost)])).toEqual([
      [today, 'alpha', 5, 5, 1, micro(5 * IMAGE_PRICE)],
      [today, 'beta', 1, 1, 0, micro(0.5 * IMAGE_PRICE)],
    ]);
    // Filters: one channel, one key, one model; a range that holds nothing.
    expect((await report(gw, `${range}&group_by=model&channel=beta`)).groups).toEqual([expect.objectContaining({ model: 'dall-e-2', requests: 1 })]);
    expect((await report(gw, `group_by=model&key=${sketcher.id}`)).totals).toMatchObject({ requests: 2, errors: 1 });
    const empty = await report(gw, 'from=2001-01-01&to=2001-01-02&group_by=day');
    expect(empty.groups).toEqual([]);
    expect(empty.totals).toMatchObject({ requests: 0, errors: 0, error_rate: 0, price: 0, latency_ms: { p50: null, p95: null, p99: null } });

    // CSV: a header row, one line per group, the JSON's numbers; by format=csv or Accept.
    const csv = await admin(gw, `/admin/api/usage/report?${range}&group_by=day,key&format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.type).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="usage-day-key\.csv"/);
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('day,key_id,key_name,requests,succeeded,errors,error_rate,images,price,cost,margin,latency_p50_ms,latency_p95_ms,latency_p99_ms');
    const json = await report(gw, `${range}&group_by=day,key`);
    expect(lines.slice(1)).toEqual(
      json.groups.map((g) =>
        [
          g.day,
          g.key_id,
          g.key_name,
          g.requests,
          g.succeeded,
          g.errors,
          g.error_rate,
          g.images,
          g.price,
          g.cost,
          g.margin,
          g.latency_ms.p50,
          g.latency_ms.p95,
          g.latency_ms.p99,
        ].join(','),
      ),
    );
    const accepted = await admin(gw, `/admin/api/usage/report?${range}&group_by=day,key`, { accept: 'text/csv' });
    expect(accepted.type).toMatch(/^text\/csv/);
    expect(accepted.text).toBe(csv.text);

    // A group_by the report does not have is the caller's mistake, named.
    for (const groupBy of ['week', 'day,day', 'day,model,key', '']) {
      const bad = await admin(gw, `/admin/api/usage/report?group_by=${groupBy}`);
      expect([groupBy, bad.status]).toEqual([groupBy, 400]);
      expect(JSON.parse(bad.text).error).toMatchObject({ code: 'invalid_value', param: 'group_by' });
    }
    const badTime = await admin(gw, '/admin/api/usage/report?from=yesterday');
    expect(badTime.status).toBe(400);
    expect(JSON.parse(badTime.text).error).toMatchObject({ param: 'from' });
    // Epoch ms past what a Date holds were a database 500 (the fuzz suite found it).
    const farTime = await admin(gw, '/admin/api/usage/report?to=99999999999999999999');
    expect(farTime.status).toBe(400);
    expect(JSON.parse(farTime.text).error).toMatchObject({ code: 'invalid_value', param: 'to' });
  });
}

describe('usage analytics', () => {
  describe('sqlite', () => analyticsSuite('sqlite'));
  describe.skipIf(!runPostgres)('postgres', () => analyticsSuite('postgres'));
});
