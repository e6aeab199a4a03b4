/**
 * Scale-out, proven: three gateway processes sharing PostgreSQL, Redis and an S3-compatible
 * bucket. Credits hold globally (no overspend across instances), an instance killed with tasks
 * in flight leaves them to the others (all finish, none resubmitted upstream, none charged
 * twice), rate limits hold globally, and an image written by one instance is served by another.
 */
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { startNewApiAsyncSimulator } from '../sim/newapi-async.js';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { spawnGateways, type ChildGateway } from './helpers/child-gateway.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { REDIS_URL, redisAvailable } from './helpers/redis.js';
import { startS3 } from './helpers/s3.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';

closeAfterEach();
const runPostgres = await postgresAvailable();
const runRedis = await redisAvailable();
const ADMIN = TEST_ADMIN_KEY;
const ASYNC = { 'x-new-api-async-task': 'true' };
/** dall-e-2 256x256 list price: $0.016. */
const PRICE = 16_000;

const admin = adminJson;

const client = (gateway: ChildGateway, key: string) => ({ origin: gateway.origin, apiKey: key }) as TestGateway;

async function taskStatus(gateway: ChildGateway, key: string, id: string): Promise<{ status: string; image_urls: string[] }> {
  const res = await fetch(`${gateway.origin}/v1/images/tasks/${id}`, { headers: { authorization: `Bearer ${key}` } });
  return ((await res.json()) as { data: { status: string; image_urls: string[] } }).data;
}

describe.skipIf(!runPostgres || !runRedis)('three instances on PostgreSQL, Redis and S3', () => {
  it('credits, a crash with tasks in flight, rate limits and images all hold across instances', async () => {
    const pg = await createTestDatabase();
    onCleanup(() => pg.drop());
    const s3 = later(await startS3());
    const tasksUpstream = later(await startNewApiAsyncSimulator({ apiKey: 'nk', taskDurationMs: 3_000 }));
    const syncUpstream = later(await startOpenAISimulator({ latencyMs: 100 }));
    const config = await writeConfigFile({
      channels: [
        { name: 'async', kind: 'newapi-async', base_url: `${tasksUpstream.origin}/v1`, api_key: 'nk', models: ['dall-e-2'], poll_interval: 0.2 },
        { name: 'sync', kind: 'openai', base_url: syncUpstream.baseURL, api_key: 'sk', models: ['gpt-image-2'] },
      ],
    });
    const env = {
      ...s3.env,
      DATABASE_URL: pg.url,
      REDIS_URL,
      IMAGEGATE_REDIS_PREFIX: `multi-${randomBytes(4).toString('hex')}`,
      IMAGEGATE_URL_SECRET: randomBytes(32).toString('base64url'),
      IMAGEGATE_ADMIN_KEY: ADMIN,
      IMAGEGATE_CONFIG: config,
      IMAGEGATE_TASK_WORKERS: '20',
      IMAGEGATE_TASK_LEASE: '2s',
      IMAGEGATE_TASK_POLL: '500ms',
    };
    // Started together: the migrations must tolerate it.
    const gateways = await spawnGateways(3, env);
    for (const g of gateways) onCleanup(() => g.stop());
    const [first, second, third] = gateways as [ChildGateway, ChildGateway, ChildGateway];

    // Credits for exactly 20 images; 30 submissions spread over the three instances.
    const metered = await admin(first.origin, 'POST', '/admin/api/keys', { name: 'metered', credits: (20 * PRICE) / 1_000_000 });
    const key = String(metered.key);
    const submissions = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        postJson(client(gateways[i % 3]!, key), '/v1/images/generations', { model: 'dall-e-2', prompt: `task ${i}`, size: '256x256' }, ASYNC),
      ),
    );
    const unexpected = submissions.filter((s) => s.status !== 200 && s.status !== 402).map((s) => `${s.status} ${s.text.slice(0, 200)}`);
    expect(unexpected, 'every submission is accepted or refused for credits').toEqual([]);
    expect(submissions.filter((s) => s.status === 402)).toHaveLength(10);
    const ids = submissions.filter((s) => s.status === 200).map((s) => String((s.json?.data as { task_id: string }).task_id));
    expect(ids).toHaveLength(20);

    // Every task is running upstream; then the first instance dies without a word.
    await expect
      .poll(
        async () =>
          ((await admin(second.origin, 'GET', '/admin/api/tasks?limit=100')).data as { upstream_task_id: string | null }[]).filter((t) => t.upstream_task_id)
            .length,
        {
          timeout: 30_000,
        },
      )
      .toBe(20);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    await expect
      .poll(async () => (await Promise.all(ids.map((id) => taskStatus(second, key, id)))).filter((t) => t.status === 'succeeded').length, {
        timeout: 60_000,
        interval: 500,
      })
      .toBe(20);
    expect(tasksUpstream.sim.submits).toBe(20);
    const ledger = (await admin(second.origin, 'GET', `/admin/api/keys/${String(metered.id)}/ledger`)).data as { kind: string; request_id: string | null }[];
    for (const id of ids) expect(ledger.filter((e) => e.request_id === id).map((e) => e.kind)).toEqual(['reserve', 'release']);
    expect(Number((await admin(third.origin, 'GET', `/admin/api/keys/${String(metered.id)}`)).balance_micros)).toBe(0);

    // An image one instance stored, served by another (same bucket, same link secret).
    const url = new URL((await taskStatus(second, key, ids[0]!)).image_urls[0]!);
    const elsewhere = await fetch(`${third.origin}${url.pathname}${url.search}`);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get('content-type')).toBe('image/png');
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    expect(listed.KeyCount).toBeGreaterThanOrEqual(20);

    // A global rate limit: 6 requests per minute across both remaining instances.
    const limited = await admin(second.origin, 'POST', '/admin/api/keys', { name: 'limited', rpm: 6 });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        postJson(client(i % 2 === 0 ? second : third, String(limited.key)), '/v1/images/generations', {
          model: 'gpt-image-2',
          prompt: `burst ${i}`,
          response_format: 'b64_json',
        }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(6);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(6);
  }, 120_000);
});
