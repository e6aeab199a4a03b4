/**
 * /metrics end to end (real server on port 0, an OpenAI simulator upstream): admin only, the
 * Prometheus text format, and counters that move by exactly what happened, with bounded labels.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';

closeAfterEach();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text exposition format, read strictly: a line that does not parse fails the test. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const [, name = '', body = '', value = ''] = match;
    const labels: Record<string, string> = {};
    for (const pair of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) labels[pair[1] ?? ''] = (pair[2] ?? '').replace(/\\(.)/g, '$1');
    const number = value === '+Inf' ? Number.POSITIVE_INFINITY : value === '-Inf' ? Number.NEGATIVE_INFINITY : Number(value);
    // NaN (prom-client writes `Nan`; Prometheus reads it, as Go's ParseFloat, in any case).
    if (Number.isNaN(number) && value.toLowerCase() !== 'nan') throw new Error(`not a sample value: ${line}`);
    samples.push({ name, labels, value: number });
  }
  return samples;
}

async function scrape(gw: TestGateway): Promise<Sample[]> {
  const res = await fetch(`${gw.origin}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** The value of one series (0 when it does not exist yet). */
function seriesValue(samples: readonly Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.find(
    (s) => s.name === name && Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found?.value ?? 0;
}

async function createKey(gw: TestGateway, settings: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await fetch(`${gw.origin}/admin/api/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'metrics key', ...settings }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}

const GENERATIONS = '/v1/images/generations';
const PROMPT = 'a prompt that must never be a label';

describe('/metrics', () => {
  it('reports an open breaker as 2 once its channel has failed past the threshold', async () => {
    const sim = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const file = await writeConfigFile({ channels: [relayChannel('flaky', sim.baseURL)] });
    const gw = later(
      await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_MAX_ATTEMPTS: '1', IMAGEGATE_BREAKER_THRESHOLD: '2' }),
    );
    const breaker = async () => (await scrape(gw)).find((s) => s.name === 'imagegate_channel_breaker_state' && s.labels.channel === 'flaky')?.value;
    expect(await breaker()).toBe(0);
    sim.sim.enqueueFault({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    for (let i = 0; i < 2; i++) expect((await postJson(gw, GENERATIONS, { prompt: 'fail' })).status).toBeGreaterThanOrEqual(500);
    expect(await breaker()).toBe(2);
  });

  it('counts an async task that ends (its duration by final state; queued, running and queue depth from the store) and the attempts and delivery of its webhook', async () => {
    const sim = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const file = await writeConfigFile({ channels: [relayChannel('sim', sim.baseURL)] });
    // The webhook receiver refuses the first attempt (500) and takes the second.
    let hooks = 0;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(++hooks === 1 ? 500 : 204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const gw = later(
      await startGateway({
        IMAGEGATE_CONFIG: file,
        IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
        IMAGEGATE_TASK_POLL: '50ms',
        IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1',
      }),
    );
    const before = await scrape(gw);
    expect(seriesValue(before, 'imagegate_tasks', { state: 'queued' })).toBe(0);
    expect(before.some((s) => s.name === 'imagegate_task_queue_depth')).toBe(true);
    const res = await postJson(
      gw,
      GENERATIONS,
      { model: 'dall-e-2', prompt: PROMPT, size: '256x256', callback_url: callbackUrl },
      { 'x-new-api-async-task': 'true' },
    );
    expect(res.status).toBe(200);
    const taskId = String((res.json?.data as { task_id: string }).task_id);
    const status = async () => (await gw.app.database.db.selectFrom('tasks').select('status').where('id', '=', taskId).executeTakeFirstOrThrow()).status;
    await expect.poll(status, { timeout: 20_000 }).toBe('succeeded');
    const ended = (samples: Sample[], state: string) => seriesValue(samples, 'imagegate_task_duration_seconds_count', { state });
    // The counts are cached 5 s; the duration is not.
    const after = await scrape(gw);
    expect(ended(after, 'succeeded') - ended(before, 'succeeded')).toBe(1);
    expect(ended(after, 'failed') - ended(before, 'failed')).toBe(0);
    // Its webhook: one attempt answered 500 (retried), then delivered.
    await expect.poll(() => hooks, { timeout: 15_000, interval: 100 }).toBe(2);
    const webhooks = async () => {
      const now = await scrape(gw);
      const moved = (name: string, outcome: string) => seriesValue(now, name, { outcome }) - seriesValue(before, name, { outcome });
      return {
        attempts: { delivered: moved('imagegate_webhook_attempts_total', 'delivered'), http_error: moved('imagegate_webhook_attempts_total', 'http_error') },
        deliveries: { delivered: moved('imagegate_webhook_deliveries_total', 'delivered'), failed: moved('imagegate_webhook_deliveries_total', 'failed') },
        labels: now.flatMap((sample) => Object.values(sample.labels)),
      };
    };
    await expect.poll(async () => (await webhooks()).attempts.delivered).toBe(1);
    const hooked = await webhooks();
    expect(hooked.attempts).toEqual({ delivered: 1, http_error: 1 });
    expect(hooked.deliveries).toEqual({ delivered: 1, failed: 0 });
    for (const value of [...hooked.labels, ...after.flatMap((sample) => Object.values(sample.labels))]) {
      expect(value).not.toContain(taskId);
      expect(value).not.toContain('127.0.0.1');
    }
  });

  it('IMAGEGATE_METRICS_PORT: a second listener serves /metrics without auth, and nothing else; the main port still wants the admin key', async () => {
    const gw = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_METRICS_PORT: '0' }));
    const address = gw.app.metricsAddress;
    expect(address).toBeDefined();
    expect(address).not.toBe(gw.origin);
    const res = await fetch(`${address}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(
      parseExposition(await res.text()).some((s) => s.name === 'imagegate_http_requests_total' || s.name === 'imagegate_process_cpu_user_seconds_total'),
    ).toBe(true);
    expect((await fetch(`${address}/v1/models`)).status).toBe(404);
    expect((await fetch(`${address}/metrics`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${gw.origin}/metrics`)).status).toBe(401);
  });

  it('without IMAGEGATE_METRICS_PORT there is no second listener', async () => {
    const gw = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    expect(gw.app.metricsAddress).toBeUndefined();
  });

  it('is admin only: without the admin key 401 in the admin dialect (as any admin route answers)', async () => {
    const gw = later(await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    const res = await fetch(`${gw.origin}/metrics`);
    expect(res.status).toBe(401);
    const other = await fetch(`${gw.origin}/admin/api/keys`);
    expect(other.status).toBe(401);
    const [body, otherBody] = [(await res.json()) as { error: Record<string, unknown> }, (await other.json()) as { error: Record<string, unknown> }];
    expect(body).toEqual({ error: { ...otherBody.error, message: body.error.message } });
    expect(body.error.code).toBe(otherBody.error.code);
    const wrong = await fetch(`${gw.origin}/metrics`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(wrong.status).toBe(401);
  });

  it('counts a success, an upstream failure and a 429 by route pattern, method and status, with bounded labels', async () => {
    const sim = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const file = await writeConfigFile({ channels: [relayChannel('sim', sim.baseURL)] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_MAX_ATTEMPTS: '1' }));
    const key = await createKey(gw, { rpm: 2, credits: 1 });
    const asKey = { ...gw, apiKey: key.key };
    const body = { model: 'dall-e-2', prompt: PROMPT, size: '256x256', response_format: 'b64_json' };

    const before = await scrape(gw);
    const ok = await postJson(asKey, GENERATIONS, body);
    expect(ok.status).toBe(200);
    sim.sim.enqueueFault({ kind: 'status', status: 500 });
    const failed = await postJson(asKey, GENERATIONS, body);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const limited = await postJson(asKey, GENERATIONS, body);
    expect(limited.status).toBe(429);
    // An unrouted path with an id in it: counted under one label, never its URL.
    expect((await fetch(`${gw.origin}/v1/nothing/${key.id}?q=${encodeURIComponent(PROMPT)}`)).status).toBe(404);
    // The answer is counted once it has been sent: the scrape may come a moment after.
    const requests = 'imagegate_http_requests_total';
    const delta = (samples: Sample[], status: string, route = GENERATIONS, method = 'POST') =>
      seriesValue(samples, requests, { route, method, status }) - seriesValue(before, requests, { route, method, status });
    let after: Sample[] = [];
    await expect
      .poll(async () => {
        after = await scrape(gw);
        return delta(after, '429');
      })
      .toBe(1);
    expect(delta(after, '200')).toBe(1);
    expect(delta(after, String(failed.status))).toBe(1);
    expect(delta(after, '404', 'unmatched', 'GET')).toBe(1);
    const generationStatuses = after.filter((s) => s.name === requests && s.labels.route === GENERATIONS).map((s) => s.labels.status);
    expect(new Set(generationStatuses)).toEqual(new Set(['200', String(failed.status), '429']));

    // The latency histogram saw the same answers.
    const histogramCount = (samples: Sample[], status: string) =>
      seriesValue(samples, 'imagegate_http_request_duration_seconds_count', { route: GENERATIONS, method: 'POST', status });
    expect(histogramCount(after, '200') - histogramCount(before, '200')).toBe(1);
    expect(histogramCount(after, '429') - histogramCount(before, '429')).toBe(1);
    const inf = after.find(
      (s) =>
        s.name === 'imagegate_http_request_duration_seconds_bucket' && s.labels.route === GENERATIONS && s.labels.status === '200' && s.labels.le === '+Inf',
    );
    expect(inf?.value).toBe(seriesValue(after, 'imagegate_http_request_duration_seconds_count', { route: GENERATIONS, method: 'POST', status: '200' }));

    // Upstream attempts by channel and outcome: the success and the 500 reached the channel, the 429 never did.
    const attempts = (samples: Sample[], outcome: string) => seriesValue(samples, 'imagegate_upstream_attempts_total', { channel: 'sim', outcome });
    expect(attempts(after, 'ok') - attempts(before, 'ok')).toBe(1);
    expect(attempts(after, 'http_500') - attempts(before, 'http_500')).toBe(1);
    expect(after.filter((s) => s.name === 'imagegate_upstream_attempts_total').reduce((sum, s) => sum + s.value, 0)).toBe(2);
    expect(seriesValue(after, 'imagegate_upstream_attempt_duration_seconds_count', { channel: 'sim', outcome: 'ok' })).toBe(1);
    // Read at scrape time: nothing in flight now, and one failure leaves the breaker closed.
    expect(after.find((s) => s.name === 'imagegate_upstream_in_flight' && s.labels.channel === 'sim')?.value).toBe(0);
    expect(after.find((s) => s.name === 'imagegate_channel_breaker_state' && s.labels.channel === 'sim')?.value).toBe(0);

    // Images: the one delivered, by model and format (dall-e-2 has no output_format: its answers do not say), its stored bytes, and what it cost as the request log says.
    const imagesDelta =
      seriesValue(after, 'imagegate_images_delivered_total', { model: 'dall-e-2', format: 'unknown' }) -
      seriesValue(before, 'imagegate_images_delivered_total', { model: 'dall-e-2', format: 'unknown' });
    expect(imagesDelta).toBe(1);
    // The request's row is written after its answer: retried until it is there.
    const row = await vi.waitFor(() =>
      gw.app.database.db.selectFrom('request_log').select(['price_micros', 'cost_micros']).where('status', '=', 200).executeTakeFirstOrThrow(),
    );
    const moved = (name: string) => seriesValue(after, name, { model: 'dall-e-2' }) - seriesValue(before, name, { model: 'dall-e-2' });
    expect(row.cost_micros).toBeGreaterThan(0);
    expect(moved('imagegate_operator_cost_micros_total')).toBe(row.cost_micros);
    expect(row.price_micros).toBeGreaterThan(0);
    expect(moved('imagegate_credits_charged_micros_total')).toBe(row.price_micros);
    // A passed-through image is stored as it goes out, its size recorded when it is whole: maybe after the answer.
    const storedBytes = async () => (await gw.app.database.db.selectFrom('images').select('bytes').execute()).map((row) => row.bytes);
    await expect.poll(storedBytes).toEqual([expect.any(Number)]);
    await expect.poll(async () => (await storedBytes())[0]).toBeGreaterThan(0);
    const [bytes] = await storedBytes();
    const storedMetric = 'imagegate_image_bytes_stored_total';
    await expect.poll(async () => seriesValue(await scrape(gw), storedMetric, {}) - seriesValue(before, storedMetric, {})).toBe(bytes);

    // The 429, by the limit that refused it.
    const refusals = (samples: Sample[], reason: string) => seriesValue(samples, 'imagegate_rate_limit_refusals_total', { reason });
    expect(refusals(after, 'rpm') - refusals(before, 'rpm')).toBe(1);
    expect(refusals(after, 'concurrency') - refusals(before, 'concurrency')).toBe(0);

    // Process metrics, prefixed.
    expect(after.some((s) => s.name === 'imagegate_process_cpu_user_seconds_total')).toBe(true);
    expect(after.some((s) => s.name === 'imagegate_nodejs_heap_size_used_bytes')).toBe(true);

    // Bounded labels: routes are the server's patterns (or `unmatched`); no key id, key or prompt anywhere.
    const patterns = new Set([...gw.app.routes().map((r) => r.url), 'unmatched']);
    for (const sample of after) {
      if (sample.labels.route !== undefined) expect(patterns).toContain(sample.labels.route);
      for (const value of Object.values(sample.labels)) {
        expect(value).not.toContain(key.id);
        expect(value).not.toContain(key.key);
        expect(value).not.toContain('prompt');
      }
    }
  });
});
