/**
 * Channels end to end: several simulators behind one gateway, fault injection on one, and the
 * request still succeeding through another; breakers, weights, key disabling, mappings, and every
 * upstream protocol (OpenAI, relay, Azure, new-api async, task API) through the official SDK.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startAzureOpenAISimulator } from '../sim/azure-openai.js';
import { startNewApiAsyncSimulator } from '../sim/newapi-async.js';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { startTaskApiSimulator } from '../sim/task-api.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';

closeAfterEach();

async function gatewayWith(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: 'admin-secret', ...env }));
}

const relay = (name: string, sim: RunningSimulator, extra: Record<string, unknown> = {}) => relayChannel(name, sim.baseURL, extra);

const runPostgres = await postgresAvailable();

const tinyPng = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c00' } })
  .png()
  .toBuffer();

describe('failover', () => {
  it.each([
    ['500', { kind: 'status', status: 500 }],
    ['429 with Retry-After', { kind: 'status', status: 429, retryAfterSeconds: 30 }],
    ['a hang past its timeout', { kind: 'hang' }],
    ['a connection cut mid-body', { kind: 'truncated' }],
    ['malformed JSON', { kind: 'malformed' }],
  ] as const)('channel A answering %s: the request still succeeds through channel B', async (_name, fault) => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('a', a, { priority: 10, timeout: 1 }), relay('b', b)]);
    a.sim.enqueueFault(fault);
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'fail over' }, { 'x-request-id': 'failover-1' });
    expect(res.status).toBe(200);
    expect(a.sim.requests).toHaveLength(1);
    expect(b.sim.requests).toHaveLength(1);
    await expect.poll(async () => gw.app.database.db.selectFrom('request_log').selectAll().where('id', '=', 'failover-1').executeTakeFirst()).toBeDefined();
    const row = await gw.app.database.db.selectFrom('request_log').selectAll().where('id', '=', 'failover-1').executeTakeFirstOrThrow();
    const attempts = JSON.parse(row.attempts ?? '[]') as { channel: string; outcome: string }[];
    expect(attempts.map((x) => x.channel)).toEqual(['a', 'b']);
    expect(attempts[1]?.outcome).toBe('ok');
    expect(attempts[0]?.outcome).not.toBe('ok');
  });

  it.each(['sync', 'task'] as const)(
    '%s: a retry goes to another channel than the one that just failed, not back to the preferred one every time',
    async (mode) => {
      // A keeps failing and is preferred (priority), below its breaker's threshold; B failed once.
      const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
      const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
      const gw = await gatewayWith([relay('a', a, { priority: 1 }), relay('b', b)], {
        IMAGEGATE_MAX_ATTEMPTS: '4',
        IMAGEGATE_TASK_MAX_ATTEMPTS: '4',
        IMAGEGATE_TASK_POLL: '50ms',
      });
      a.sim.enqueueFault(...Array.from({ length: 4 }, () => ({ kind: 'status', status: 500 }) as const));
      b.sim.enqueueFault({ kind: 'status', status: 500 });
      const { db } = gw.app.database;
      let logId = 'alternate-1';
      if (mode === 'sync') {
        expect((await postJson(gw, '/v1/images/generations', { prompt: 'alternate' }, { 'x-request-id': logId })).status).toBe(200);
      } else {
        const res = await postJson(gw, '/v1/images/generations', { prompt: 'alternate' }, { 'x-new-api-async-task': 'true' });
        expect(res.status).toBe(200);
        logId = String((res.json?.data as { task_id: string }).task_id);
        const status = async () => (await db.selectFrom('tasks').select('status').where('id', '=', logId).executeTakeFirstOrThrow()).status;
        await expect.poll(status, { timeout: 20_000 }).toMatch(/^(succeeded|failed)$/);
        expect(await status()).toBe('succeeded');
      }
      // Before: a, b, a, a (A's priority won every retry once both were tried) and the run failed.
      await expect
        .poll(async () => db.selectFrom('request_log').select('attempts').where('id', '=', logId).executeTakeFirst(), { timeout: 10_000 })
        .toBeDefined();
      const row = await db.selectFrom('request_log').select('attempts').where('id', '=', logId).executeTakeFirstOrThrow();
      const attempts = JSON.parse(row.attempts ?? '[]') as { channel: string; outcome: string }[];
      expect(attempts.map((x) => `${x.channel}:${x.outcome}`)).toEqual(['a:http_500', 'b:http_500', 'a:http_500', 'b:ok']);
    },
  );

  it('every channel down gives one clear 5xx naming no secret', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('a', a, { priority: 1 }), relay('b', b)]);
    a.sim.enqueueFault({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    b.sim.enqueueFault({ kind: 'status', status: 503, message: 'key-b is overloaded' }, { kind: 'status', status: 503 });
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'nobody home' });
    expect(res.status).toBe(502);
    expect(res.json?.error).toMatchObject({ type: 'server_error', code: 'upstream_error', param: null });
    expect(res.text).not.toMatch(/key-[ab]/);
    expect(a.sim.requests.length + b.sim.requests.length).toBe(3); // IMAGEGATE_MAX_ATTEMPTS
  });

  it("does not retry the caller's own error: a 400 from upstream goes back at once", async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('a', a, { priority: 1 }), relay('b', b)]);
    a.sim.enqueueFault({ kind: 'status', status: 400, message: 'Your prompt was flagged by the safety system.', code: 'moderation_blocked', param: 'prompt' });
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'something flagged' });
    expect(res.status).toBe(400);
    expect(res.json?.error).toMatchObject({ code: 'content_policy_violation', param: null, message: 'Your prompt was flagged by the safety system.' });
    expect(b.sim.requests).toHaveLength(0);
  });

  it('honours Retry-After: waits for the only channel when the wait is short', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('a', a)]);
    a.sim.enqueueFault({ kind: 'status', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'wait for me' });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(a.sim.requests).toHaveLength(2);
  });
});

describe('health', () => {
  it('the breaker opens after repeated failures, then a probe closes it again', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('a', a, { priority: 1 }), relay('b', b)], { IMAGEGATE_BREAKER_THRESHOLD: '2', IMAGEGATE_BREAKER_COOLDOWN: '1s' });
    a.sim.enqueueFault({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    for (let i = 0; i < 2; i++) expect((await postJson(gw, '/v1/images/generations', { prompt: `fail ${i}` })).status).toBe(200);
    expect(a.sim.requests).toHaveLength(2);
    // Open: A is skipped without being asked.
    expect((await postJson(gw, '/v1/images/generations', { prompt: 'skip a' })).status).toBe(200);
    expect(a.sim.requests).toHaveLength(2);
    const admin = await adminGet(gw, '/admin/api/channels/a');
    expect(admin.health).toMatchObject({ circuit: 'open', consecutive_failures: 2 });
    await new Promise((r) => setTimeout(r, 1_100));
    // Half-open: one probe goes to A, succeeds, and closes the circuit.
    expect((await postJson(gw, '/v1/images/generations', { prompt: 'probe' })).status).toBe(200);
    expect(a.sim.requests).toHaveLength(3);
    expect((await adminGet(gw, '/admin/api/channels/a')).health).toMatchObject({ circuit: 'closed', consecutive_failures: 0 });
  });

  it('an upstream 401 disables that key, visibly, and the request succeeds with the next key', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, apiKey: 'good-key-123456' }));
    const gw = await gatewayWith([{ name: 'a', kind: 'openai-compatible', base_url: a.baseURL, api_keys: ['bad-key-654321', 'good-key-123456'] }]);
    for (let i = 0; i < 4; i++) expect((await postJson(gw, '/v1/images/generations', { prompt: `k${i}` })).status).toBe(200);
    const sentKeys = a.sim.requests.map((r) => r.headers.authorization);
    expect(sentKeys.filter((k) => k === 'Bearer bad-key-654321')).toHaveLength(1);
    const view = await adminGet(gw, '/admin/api/channels/a');
    expect(view.api_keys).toEqual([
      expect.objectContaining({ key: 'bad…4321', disabled_reason: expect.stringContaining('401') }),
      expect.objectContaining({ key: 'goo…3456', disabled_reason: null }),
    ]);
    expect(JSON.stringify(view)).not.toContain('bad-key-654321');
  });

  it('a channel whose only key is refused is skipped; with nothing left the client gets 503', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, apiKey: 'right' }));
    const gw = await gatewayWith([{ name: 'a', kind: 'openai-compatible', base_url: a.baseURL, api_key: 'wrong-key-000' }]);
    const first = await postJson(gw, '/v1/images/generations', { prompt: 'x' });
    expect(first.status).toBe(502);
    expect(first.json?.error).toMatchObject({ code: 'upstream_auth_failed' });
    const second = await postJson(gw, '/v1/images/generations', { prompt: 'x' });
    expect(second.status).toBe(503);
    expect(second.json?.error).toMatchObject({ code: 'no_available_channel' });
    expect(a.sim.requests).toHaveLength(1);
  });

  it('a concurrency cap sends the overflow to the next channel', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, latencyMs: 300 }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('a', a, { priority: 1, max_concurrent: 2 }), relay('b', b)]);
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => postJson(gw, '/v1/images/generations', { prompt: `c${i}` })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(a.sim.requests).toHaveLength(2);
    expect(b.sim.requests).toHaveLength(3);
  });
});

describe('selection', () => {
  it('weights split traffic within ±10% over 1,000 requests', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const gw = await gatewayWith([relay('a', a, { weight: 3 }), relay('b', b, { weight: 1 })]);
    let next = 0;
    const worker = async () => {
      while (next < 1000) {
        next += 1;
        const res = await postJson(gw, '/v1/images/generations', { prompt: 'w', response_format: 'b64_json' });
        expect(res.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const share = a.sim.requests.length / (a.sim.requests.length + b.sim.requests.length);
    expect(a.sim.requests.length + b.sim.requests.length).toBe(1000);
    expect(share).toBeGreaterThan(0.75 * 0.9);
    expect(share).toBeLessThan(0.75 * 1.1);
  }, 120_000);

  it('a higher priority tier takes all traffic while it is healthy', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const gw = await gatewayWith([relay('a', a, { priority: 5, weight: 1 }), relay('b', b, { weight: 100 })]);
    for (let i = 0; i < 20; i++) await postJson(gw, '/v1/images/generations', { prompt: 'p' });
    expect(a.sim.requests).toHaveLength(20);
    expect(b.sim.requests).toHaveLength(0);
  });

  it('model mapping and parameter overrides reach the upstream; each model goes to its channels, an unserved one is not found', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([
      relay('a', a, {
        models: ['gpt-image-2-4k', 'gpt-image-1'],
        model_map: { 'gpt-image-1': { upstream_model: 'gpt-image-1.5', params: { quality: 'high' } }, 'gpt-image-2-4k': { params: { size: '2160x3840' } } },
      }),
      relay('b', b, { models: ['dall-e-3'] }),
    ]);
    await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'mapped', quality: 'low' });
    expect(a.sim.requests.at(-1)?.json).toMatchObject({ model: 'gpt-image-1.5', quality: 'high' });
    await gw.client.images.generate({ model: 'gpt-image-2-4k', prompt: 'override' });
    expect(a.sim.requests.at(-1)?.json).toMatchObject({ model: 'gpt-image-2', size: '2160x3840' });
    await gw.client.images.generate({ model: 'dall-e-3', prompt: 'elsewhere' });
    expect(b.sim.requests).toHaveLength(1);
    const models = await gw.client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['gpt-image-2-4k', 'gpt-image-1', 'dall-e-3']);
    expect(models.data.every((m) => m.owned_by === 'imagegate')).toBe(true);
    const none = await postJson(gw, '/v1/images/generations', { model: 'dall-e-2', prompt: 'nobody serves me' });
    expect(none.status).toBe(404);
    expect(none.json?.error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });
});

describe('upstream protocols through the gateway', () => {
  it('azure-openai: deployment URL, api-version and api-key header', async () => {
    const azure = later(await startAzureOpenAISimulator({ apiKey: 'azure-key-1234', deployments: { 'my-images': 'gpt-image-1' } }));
    const gw = await gatewayWith([
      {
        name: 'azure',
        kind: 'azure-openai',
        base_url: azure.origin,
        api_key: 'azure-key-1234',
        api_version: '2024-10-21',
        model_map: { 'gpt-image-1': 'my-images' },
        models: ['gpt-image-1'],
      },
    ]);
    const res = await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'azure', size: '1024x1536', response_format: 'b64_json' });
    expect(await describeImage(Buffer.from(res.data![0]!.b64_json!, 'base64'))).toMatchObject({ width: 1024, height: 1536 });
    const seen = azure.sim.requests.at(-1);
    expect(seen?.path).toBe('/openai/deployments/my-images/images/generations?api-version=2024-10-21');
    expect(seen?.headers['api-key']).toBe('azure-key-1234');
  });

  it('newapi-async: submitted once, polled to success, images normalized', async () => {
    const upstream = later(await startNewApiAsyncSimulator({ apiKey: 'na-key', taskDurationMs: 200 }));
    const gw = await gatewayWith([{ name: 'na', kind: 'newapi-async', base_url: upstream.baseURL, api_key: 'na-key', poll_interval: 0.05 }]);
    const res = await gw.client.images.generate({ prompt: 'async upstream', response_format: 'b64_json' });
    expect((await describeImage(Buffer.from(res.data![0]!.b64_json!, 'base64'))).format).toBe('png');
    expect(upstream.sim.submits).toBe(1);
  });

  it('newapi-async: a failed task reaches the client as 502 with the reason', async () => {
    const upstream = later(await startNewApiAsyncSimulator({ apiKey: 'na-key', taskDurationMs: 100 }));
    const gw = await gatewayWith([{ name: 'na', kind: 'newapi-async', base_url: upstream.baseURL, api_key: 'na-key', poll_interval: 0.05 }]);
    upstream.sim.failNext('upstream content filter');
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'fails' });
    expect(res.status).toBe(502);
    expect(res.json?.error).toMatchObject({ code: 'upstream_task_failed' });
    expect((res.json?.error as { message: string }).message).toContain('upstream content filter');
    expect(upstream.sim.submits).toBe(1);
  });

  it('task-api: submitted once, polled to success; a failure carries failMsg', async () => {
    const upstream = later(await startTaskApiSimulator({ apiKey: 'ta-key', taskDurationMs: 200 }));
    const gw = await gatewayWith([
      { name: 'ta', kind: 'task-api', base_url: upstream.origin, api_key: 'ta-key', poll_interval: 0.05, models: ['gpt-image-2-beta'] },
    ]);
    const res = await gw.client.images.generate({ model: 'gpt-image-2-beta', prompt: 'task api', size: '1536x1024' });
    const image = await describeImage(Buffer.from(await (await fetch(res.data![0]!.url!)).arrayBuffer()));
    // 1536x1024 went up as 3:2, and the task API rendered that shape.
    expect(image).toEqual({ format: 'png', width: 1536, height: 1024 });
    expect(upstream.sim.submits).toBe(1);
    expect(upstream.sim.requests.find((r) => r.method === 'POST')?.json).toMatchObject({ model: 'gpt-image-2', aspect_ratio: '3:2' });
    upstream.sim.failNext('Content policy violation');
    const failed = await postJson(gw, '/v1/images/generations', { model: 'gpt-image-2-beta', prompt: 'fails' });
    expect(failed.status).toBe(502);
    expect((failed.json?.error as { message: string }).message).toContain('Content policy violation');
  });
});

describe('admin API', () => {
  it('requires the admin key', async () => {
    const gw = await gatewayWith([]);
    expect((await fetch(`${gw.origin}/admin/api/channels`)).status).toBe(401);
    expect((await fetch(`${gw.origin}/admin/api/channels`, { headers: { authorization: `Bearer ${gw.apiKey}` } })).status).toBe(401);
    const off = later(await startGateway({}));
    const res = await fetch(`${off.origin}/admin/api/channels`, { headers: { authorization: 'Bearer anything' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'admin_disabled' } });
  });

  it('create, list, read, update, test and delete a channel; keys are never shown in clear', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, apiKey: 'sk-live-abcdef123456' }));
    const gw = await gatewayWith([]);
    const created = await admin(gw, 'POST', '/admin/api/channels', {
      name: 'relay-1',
      kind: 'openai-compatible',
      base_url: a.baseURL,
      api_key: 'sk-live-abcdef123456',
      headers: { 'x-api-key': 'hdr-secret-999999', 'x-team': 'images' },
      weight: 2,
    });
    expect(created.status).toBe(201);
    expect(created.text).not.toContain('sk-live-abcdef123456');
    expect(created.text).not.toContain('hdr-secret-999999');
    expect(created.json).toMatchObject({
      name: 'relay-1',
      status: 'active',
      weight: 2,
      source: 'admin',
      api_keys: [{ key: 'sk-…3456' }],
      headers: { 'x-team': 'images' },
    });
    const id = (created.json as { id: string }).id;

    // The new channel serves traffic at once (it replaced the demo channel).
    const gen = await postJson(gw, '/v1/images/generations', { prompt: 'via admin channel' });
    expect(gen.status).toBe(200);
    expect(a.sim.requests).toHaveLength(1);

    const list = await admin(gw, 'GET', '/admin/api/channels');
    expect((list.json as { data: { id: string }[] }).data.map((c) => c.id)).toEqual([id]);
    const dup = await admin(gw, 'POST', '/admin/api/channels', { name: 'relay-1', kind: 'openai-compatible', base_url: a.baseURL, api_key: 'x' });
    expect(dup.status).toBe(409);
    const bad = await admin(gw, 'POST', '/admin/api/channels', { name: 'r2', kind: 'carrier-pigeon', base_url: a.baseURL, api_key: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { param: 'kind', code: 'invalid_value' } });

    const patched = await admin(gw, 'PATCH', `/admin/api/channels/${id}`, { enabled: false });
    expect(patched.json).toMatchObject({ status: 'disabled', api_keys: [{ key: 'sk-…3456' }] });
    // Its only channel disabled, the model is not served: 404 model_not_found, as for a model nobody has.
    const disabled = await postJson(gw, '/v1/images/generations', { prompt: 'disabled' });
    expect([disabled.status, (disabled.json?.error as { code?: string } | undefined)?.code]).toEqual([404, 'model_not_found']);
    await admin(gw, 'PATCH', `/admin/api/channels/${id}`, { enabled: true });

    const test = await admin(gw, 'POST', `/admin/api/channels/${id}/test`);
    expect(test.json).toMatchObject({ ok: true, model: 'gpt-image-2' });
    expect((test.json as { latency_ms: number }).latency_ms).toBeGreaterThanOrEqual(0);
    expect((await admin(gw, 'GET', `/admin/api/channels/relay-1`)).json).toMatchObject({ last_test: { ok: true } });

    expect((await admin(gw, 'DELETE', `/admin/api/channels/${id}`)).status).toBe(204);
    expect((await admin(gw, 'GET', `/admin/api/channels/${id}`)).status).toBe(404);
  });

  it('the test endpoint reports an upstream failure without leaking the key', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, apiKey: 'other' }));
    const gw = await gatewayWith([relay('a', a, { api_key: 'sk-wrong-key-777777' })]);
    const test = await admin(gw, 'POST', '/admin/api/channels/a/test');
    expect(test.status).toBe(200);
    // The test reached the upstream with the channel's key, and reports the upstream's refusal.
    expect(a.sim.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-wrong-key-777777']);
    expect(test.json).toMatchObject({ ok: false, model: 'gpt-image-2', error: expect.stringContaining('Incorrect API key provided') });
    expect(test.text).not.toContain('sk-wrong-key-777777');
    expect(test.text).not.toContain('777777');
    expect((await adminGet(gw, '/admin/api/channels/a')).last_test).toMatchObject({ ok: false, error: expect.stringContaining('Incorrect API key provided') });
  });
});

describe('channel operations', () => {
  it('periodic channel tests run on their own and show in the admin API', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const gw = await gatewayWith([relay('a', a)], { IMAGEGATE_CHANNEL_TEST_INTERVAL: '0.2s' });
    await expect.poll(async () => (await adminGet(gw, '/admin/api/channels/a')).last_test, { timeout: 5_000 }).toMatchObject({ ok: true });
    expect(a.sim.requests.some((r) => (r.json as { prompt?: string }).prompt?.startsWith('imagegate channel test'))).toBe(true);
  });

  it('a channel added on one instance serves traffic on another sharing the database', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const first = await gatewayWith([], { IMAGEGATE_CHANNEL_REFRESH: '0.2s' });
    const dbFile = first.app.config.database.kind === 'sqlite' ? first.app.config.database.file : '';
    const second = later(await startGateway({ DATABASE_URL: dbFile, IMAGEGATE_CHANNEL_REFRESH: '0.2s' }));
    expect(
      (await admin(first, 'POST', '/admin/api/channels', { name: 'shared', kind: 'openai-compatible', base_url: a.baseURL, api_key: 'k-shared' })).status,
    ).toBe(201);
    // Until the second instance refreshes it serves from the demo channel; then from the new one.
    const servedByShared = async () => {
      const res = await postJson(second, '/v1/images/generations', { prompt: 'via the other instance' });
      expect(res.status).toBe(200);
      return a.sim.requests.length;
    };
    await expect.poll(servedByShared, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
  });
});

describe.skipIf(!runPostgres)('channels on PostgreSQL', () => {
  it('config and admin channels, failover and key disabling persist in PostgreSQL', async () => {
    const pg = await createTestDatabase();
    onCleanup(() => pg.drop());
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, apiKey: 'good-key-pg-1234' }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith(
      [{ name: 'a', kind: 'openai-compatible', base_url: a.baseURL, api_keys: ['bad-key-pg-0000', 'good-key-pg-1234'], priority: 1 }],
      { DATABASE_URL: pg.url },
    );
    const created = await admin(gw, 'POST', '/admin/api/channels', { name: 'b', kind: 'openai-compatible', base_url: b.baseURL, api_key: 'k-b' });
    expect(created.status).toBe(201);
    a.sim.enqueueFault({ kind: 'status', status: 500 });
    for (let i = 0; i < 3; i++) expect((await postJson(gw, '/v1/images/generations', { prompt: `pg ${i}` })).status).toBe(200);
    const view = await adminGet(gw, '/admin/api/channels/a');
    expect(view.api_keys).toEqual([
      expect.objectContaining({ disabled_reason: expect.stringContaining('401') }),
      expect.objectContaining({ disabled_reason: null }),
    ]);
    const list = (await admin(gw, 'GET', '/admin/api/channels')).json as { data: { name: string; source: string }[] };
    expect(list.data.map((c) => [c.name, c.source])).toEqual([
      ['a', 'config'],
      ['b', 'admin'],
    ]);
    // Rows are written after their answers.
    await expect
      .poll(async () =>
        (await gw.app.database.db.selectFrom('request_log').select(['attempts']).execute()).some((r) => (r.attempts ?? '').includes('"channel":"b"')),
      )
      .toBe(true);
  });
});

async function admin(gw: TestGateway, method: string, path: string, body?: unknown) {
  const res = await fetch(`${gw.origin}${path}`, {
    method,
    headers: { authorization: 'Bearer admin-secret', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? (JSON.parse(text) as unknown) : undefined };
}

async function adminGet(gw: TestGateway, path: string): Promise<Record<string, unknown>> {
  const res = await admin(gw, 'GET', path);
  expect(res.status).toBe(200);
  return res.json as Record<string, unknown>;
}
