/**
 * Channel health shared by two gateway instances (one PostgreSQL database, one Redis prefix):
 * a channel's max_concurrent holds across both, counted at the upstream, and a channel one
 * instance found failing is skipped by the other without its failing first.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { SimHandler, SimRequest, SimResponse } from '../sim/http-server.js';
import { startSimulatorServer } from '../sim/http-server.js';
import { OpenAIImagesSimulator, startOpenAISimulator } from '../sim/openai/simulator.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { createTestRedis, deleteKeys, REDIS_URL, redisAvailable } from './helpers/redis.js';

closeAfterEach();
const runPostgres = await postgresAvailable();
const runRedis = await redisAvailable();
const tinyPng = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#08c' } })
  .png()
  .toBuffer();

/** An OpenAI-compatible upstream that counts the requests it is answering at once. */
class CountingUpstream implements SimHandler {
  inFlight = 0;
  peak = 0;
  received = 0;
  constructor(private readonly inner: OpenAIImagesSimulator) {}

  get aborted(): number {
    return this.inner.aborted;
  }

  set aborted(value: number) {
    this.inner.aborted = value;
  }

  async handle(req: SimRequest, signal?: AbortSignal): Promise<SimResponse> {
    this.received++;
    this.peak = Math.max(this.peak, ++this.inFlight);
    try {
      return await this.inner.handle(req, signal);
    } finally {
      this.inFlight--;
    }
  }
}

const relay = relayChannel;

/** Two instances on one fresh PostgreSQL database and one Redis prefix, with these channels. */
async function twoInstances(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<[TestGateway, TestGateway]> {
  const pg = await createTestDatabase();
  onCleanup(() => pg.drop());
  const prefix = `shared-health-${randomBytes(4).toString('hex')}`;
  onCleanup(async () => {
    const client = createTestRedis();
    await deleteKeys(client, `${prefix}:`);
    await client.quit();
  });
  const shared = {
    IMAGEGATE_CONFIG: await writeConfigFile({ channels }),
    DATABASE_URL: pg.url,
    REDIS_URL,
    IMAGEGATE_REDIS_PREFIX: prefix,
    IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
    ...env,
  };
  const first = later(await startGateway(shared));
  const second = later(await startGateway(shared));
  return [first, second];
}

describe.skipIf(!runPostgres || !runRedis)('channel health shared through Redis', () => {
  it("a channel's max_concurrent holds across instances: at most 2 requests in flight upstream in all", async () => {
    const slow = later(
      await startSimulatorServer(
        (origin) =>
          new CountingUpstream(new OpenAIImagesSimulator({ relay: { answer: 'b64_json' }, latencyMs: 1_500, fixedImage: tinyPng, publicBaseUrl: origin })),
      ),
    );
    const spare = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const [a, b] = await twoInstances([relay('slow', `${slow.origin}/v1`, { priority: 1, max_concurrent: 2 }), relay('spare', spare.baseURL)]);
    // Six at once, three on each instance: alone, each would let 2 through to the slow channel.
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => postJson(i % 2 === 0 ? a : b, '/v1/images/generations', { prompt: `capped ${i}` })));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(slow.sim.peak).toBe(2);
    expect(slow.sim.received + spare.sim.requests.length).toBe(6); // the overflow went to the spare channel
  });

  it('a channel opened by one instance is skipped by the other, which never tries it', async () => {
    const failing = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const healthy = later(await startOpenAISimulator({ relay: { answer: 'b64_json' }, fixedImage: tinyPng }));
    const [a, b] = await twoInstances([relay('failing', failing.baseURL, { priority: 1 }), relay('healthy', healthy.baseURL)], {
      IMAGEGATE_BREAKER_THRESHOLD: '2',
      IMAGEGATE_BREAKER_COOLDOWN: '60s',
    });
    failing.sim.enqueueFault(...Array.from({ length: 5 }, () => ({ kind: 'status' as const, status: 500 })));
    for (let i = 0; i < 2; i++) expect((await postJson(a, '/v1/images/generations', { prompt: `fail ${i}` })).status).toBe(200);
    expect(failing.sim.requests).toHaveLength(2); // a failed over twice: the circuit is open

    expect((await postJson(b, '/v1/images/generations', { prompt: 'elsewhere' })).status).toBe(200);
    expect(failing.sim.requests).toHaveLength(2); // b skipped it without trying
    expect(healthy.sim.requests).toHaveLength(3);
    const seenFromB = await adminJson(b.origin, 'GET', '/admin/api/channels/failing');
    expect(seenFromB.health).toMatchObject({ circuit: 'open', consecutive_failures: 2, last_error: expect.stringContaining('500') });
  });
});
