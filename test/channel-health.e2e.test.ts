/**
 * A channel's live health in the admin API, end to end (real gateway on port 0, OpenAI
 * simulators upstream): the breaker opening and going half-open, requests in flight against
 * max_concurrent, keys the gateway disabled and why, and the test call's latency.
 */
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';

closeAfterEach();

interface Health {
  circuit: string;
  consecutive_failures: number;
  unavailable_until: string | null;
  last_error: string | null;
  in_flight: number;
}
interface ChannelView {
  id: string;
  name: string;
  status: string;
  priority: number;
  weight: number;
  max_concurrent: number;
  api_keys: { key: string; disabled_reason: string | null }[];
  health: Health;
  last_test: { ok: boolean; latency_ms: number; tested_at: string | null } | null;
}

async function admin(gw: TestGateway, method: string, path: string) {
  const res = await fetch(`${gw.origin}${path}`, { method, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Every channel as the console polls them: one request. */
async function channels(gw: TestGateway): Promise<Record<string, ChannelView>> {
  const res = await admin(gw, 'GET', '/admin/api/channels');
  expect(res.status).toBe(200);
  return Object.fromEntries((res.json.data as ChannelView[]).map((c) => [c.name, c]));
}

const SMALL = { model: 'dall-e-2', prompt: 'a kite', size: '256x256', response_format: 'b64_json' };

describe('channel health', () => {
  it('shows the breaker open after consecutive failures, until when, then half-open', async () => {
    const flaky = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const steady = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const file = await writeConfigFile({
      channels: [relayChannel('flaky', flaky.baseURL, { priority: 10, weight: 3 }), relayChannel('steady', steady.baseURL, { priority: 1 })],
    });
    const gw = later(
      await startGateway({
        IMAGEGATE_CONFIG: file,
        IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
        IMAGEGATE_MAX_ATTEMPTS: '1',
        IMAGEGATE_BREAKER_THRESHOLD: '2',
        IMAGEGATE_BREAKER_COOLDOWN: '4s',
      }),
    );
    const before = await channels(gw);
    expect(before.flaky).toMatchObject({
      status: 'active',
      priority: 10,
      weight: 3,
      health: { circuit: 'closed', consecutive_failures: 0, unavailable_until: null, in_flight: 0 },
    });

    flaky.sim.enqueueFault({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    for (let i = 0; i < 2; i++) expect((await postJson(gw, '/v1/images/generations', SMALL)).status).toBeGreaterThanOrEqual(500);
    const opened = Date.now();
    const open = (await channels(gw)).flaky?.health;
    expect(open).toMatchObject({ circuit: 'open', consecutive_failures: 2, in_flight: 0 });
    expect(open?.last_error).toEqual(expect.any(String));
    const until = Date.parse(String(open?.unavailable_until));
    expect(until).toBeGreaterThan(opened);
    expect(until).toBeLessThanOrEqual(opened + 4_000);
    // The one-channel answer says the same.
    expect((await admin(gw, 'GET', `/admin/api/channels/${before.flaky?.id}`)).json.health).toMatchObject({ circuit: 'open' });
    // Meanwhile the other channel serves.
    expect((await postJson(gw, '/v1/images/generations', SMALL)).status).toBe(200);
    expect((await channels(gw)).steady?.health.circuit).toBe('closed');

    // After the cooldown, the next request may probe it.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now()) + 50));
    expect((await channels(gw)).flaky?.health).toMatchObject({ circuit: 'half-open', unavailable_until: null });
  });

  it('counts a request in flight against max_concurrent while it runs, and none after', async () => {
    const slow = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const file = await writeConfigFile({ channels: [relayChannel('slow', slow.baseURL, { max_concurrent: 3 })] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    slow.sim.enqueueFault({ kind: 'delay', ms: 4_000 });
    const held = postJson(gw, '/v1/images/generations', SMALL);
    await expect.poll(async () => (await channels(gw)).slow?.health.in_flight, { timeout: 8_000, interval: 50 }).toBe(1);
    expect((await channels(gw)).slow).toMatchObject({ max_concurrent: 3, health: { circuit: 'closed' } });
    expect((await held).status).toBe(200);
    expect((await channels(gw)).slow?.health.in_flight).toBe(0);
  });

  it('shows a key the upstream refused, and why; the test call answers its latency, kept as last_test', async () => {
    const sim = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const file = await writeConfigFile({ channels: [relayChannel('keys', sim.baseURL, { api_keys: ['sk-refused-0001', 'sk-accepted-0002'] })] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
    sim.sim.enqueueFault({ kind: 'status', status: 401 });
    expect((await postJson(gw, '/v1/images/generations', SMALL)).status).toBe(200);
    const view = (await channels(gw)).keys;
    expect(view?.status).toBe('active');
    expect(view?.api_keys).toEqual([
      expect.objectContaining({ disabled_reason: expect.stringContaining('401') }),
      expect.objectContaining({ disabled_reason: null }),
    ]);
    expect(view?.last_test).toBeNull();

    sim.sim.enqueueFault({ kind: 'delay', ms: 300 });
    const tested = await admin(gw, 'POST', `/admin/api/channels/${view?.id}/test`);
    expect(tested.status).toBe(200);
    expect(tested.json).toMatchObject({ ok: true });
    expect(tested.json.latency_ms).toBeGreaterThanOrEqual(300);
    expect((await channels(gw)).keys?.last_test).toMatchObject({ ok: true, latency_ms: tested.json.latency_ms, tested_at: expect.any(String) });
  });
});
