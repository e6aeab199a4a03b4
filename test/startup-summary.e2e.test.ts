/**
 * The start-up summary: once listening, the gateway logs at info one line per fact (one `msg`
 * each, tagged `startup`): the URL it listens on, its database, its queue, its image store and
 * how links are made, whether the admin API is on, each channel with its kind and models, and
 * the API docs when served. No secret (client, admin and upstream keys, the URL secret, database,
 * Redis and channel URL passwords) appears in any line.
 */
import { isAbsolute } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/startup-summary.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { REDIS_URL, redisAvailable } from './helpers/redis.js';
import { S3RVER_CREDENTIALS, startS3 } from './helpers/s3.js';

closeAfterEach();
const runScaleOut = (await postgresAvailable()) && (await redisAvailable());

interface LogLine {
  level: number;
  msg: string;
  startup?: string;
  [field: string]: unknown;
}

/** A gateway whose log lines (as written, and parsed) the test reads. */
async function gatewayWithLog(env: Record<string, string>): Promise<{ gw: TestGateway; raw: string[]; lines: LogLine[] }> {
  const raw: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) });
  const gw = later(await startGateway(env, { logger }));
  return { gw, raw, lines: raw.map((line) => JSON.parse(line) as LogLine) };
}

function summaryOf(lines: LogLine[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of lines.filter((l) => l.startup !== undefined)) {
    expect(line.level, line.msg).toBe(30); // info
    const topic = line.startup ?? '';
    out[topic] = [...(out[topic] ?? []), line.msg];
  }
  return out;
}

describe('start-up summary', () => {
  it('embedded: listening URL, SQLite file, in-process queue, files, admin off, the demo channel; one line each', async () => {
    const { gw, lines } = await gatewayWithLog({ IMAGEGATE_API_KEYS: 'ig-env-client-secret-1', IMAGEGATE_URL_SECRET: 'url-signing-secret-abcdef' });
    const summary = summaryOf(lines);
    const { dataDir } = gw.app.config;
    expect(summary.listening).toEqual([`imagegate listening on ${gw.origin}`]);
    // The data dir is printed as an absolute path, whatever form it was given in.
    expect(isAbsolute(dataDir)).toBe(true);
    expect(summary.data_dir).toEqual([`data dir: ${dataDir} (uploads in flight under spool/)`]);
    expect(summary.database).toEqual([`database: SQLite file ${dataDir}/imagegate.db`]);
    expect(summary.queue).toEqual(["queue: in-process (8 task workers over the database's task rows; rate limits and channel health in memory)"]);
    expect(summary.image_store).toEqual([`image store: files under ${dataDir}/images; links signed by the gateway (/files/..., valid 24h)`]);
    expect(summary.admin_api).toEqual(['admin API: off (IMAGEGATE_ADMIN_KEY is not set)']);
    expect(summary.channel).toHaveLength(1);
    expect(summary.channel?.[0]).toMatch(
      /^channel demo \(demo, built in: images drawn locally, not by a real model\): every catalogue model \(\*\): gpt-image-2, /,
    );
    expect(summary.channel?.[0]).toContain(', dall-e-2');
    // The docs page is another part's (http/api-docs.ts): its line is there when its route is.
    const docsServed = gw.app.routes().some((r) => r.method === 'GET' && (r.url === '/docs' || r.url === '/docs/'));
    expect(summary.docs ?? []).toEqual(docsServed ? [`API docs: ${gw.origin}/docs (OpenAPI document: ${gw.origin}/openapi.json)`] : []);
    expect(summary.console).toEqual([`web console: ${gw.origin}/console/`]);
    // The listening line comes first: scripts wait for it.
    expect(lines.find((l) => l.startup !== undefined)?.startup).toBe('listening');
    const text = JSON.stringify(lines);
    for (const secret of ['ig-env-client-secret-1', 'url-signing-secret-abcdef', gw.apiKey]) expect(text).not.toContain(secret);
  });

  it.skipIf(!runScaleOut)(
    'scale-out: PostgreSQL and Redis URLs without their passwords, the bucket and presigned links, admin on, each channel and its models; no secret in any line',
    async () => {
      const pg = await createTestDatabase();
      later({ close: () => pg.drop() });
      const s3 = later(await startS3());
      const dbUrl = new URL(pg.url);
      dbUrl.password = 'db-pass-secret-42';
      const redisUrl = new URL(REDIS_URL);
      redisUrl.password = 'redis-pass-secret-43';
      const file = await writeConfigFile({
        channels: [
          {
            name: 'relay-a',
            kind: 'openai-compatible',
            base_url: 'http://relayuser:chan-pass-secret-44@127.0.0.1:9/v1?token=tok-secret-45',
            api_keys: ['rk-upstream-secret-46', 'rk-upstream-secret-47'],
            models: ['gpt-image-2', 'dall-e-3'],
          },
          {
            name: 'azure-east',
            kind: 'azure-openai',
            base_url: 'https://res.openai.azure.com',
            api_key: 'az-upstream-secret-48',
            models: ['gpt-image-1'],
            enabled: false,
          },
        ],
      });
      const secrets = [
        'db-pass-secret-42',
        'redis-pass-secret-43',
        'chan-pass-secret-44',
        'tok-secret-45',
        'rk-upstream-secret-46',
        'rk-upstream-secret-47',
        'az-upstream-secret-48',
        TEST_ADMIN_KEY,
        'ig-env-client-secret-2',
        S3RVER_CREDENTIALS.secretAccessKey,
        'sealing-key',
      ];
      const { gw, raw, lines } = await gatewayWithLog({
        ...s3.env,
        IMAGEGATE_S3_LINKS: 'presigned',
        IMAGEGATE_URL_TTL: '2h',
        DATABASE_URL: dbUrl.toString(),
        REDIS_URL: redisUrl.toString(),
        IMAGEGATE_REDIS_PREFIX: `summary-${process.pid}`,
        IMAGEGATE_TASK_WORKERS: '3',
        IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
        IMAGEGATE_API_KEYS: 'ig-env-client-secret-2',
        IMAGEGATE_SECRET_KEY: Buffer.from('sealing-key-of-32-bytes-exactly!').toString('base64'),
        IMAGEGATE_CONFIG: file,
      });
      const summary = summaryOf(lines);
      const dbShown = `postgres://postgres:***@127.0.0.1:${dbUrl.port || 5432}${dbUrl.pathname}`;
      expect(summary.database).toEqual([`database: PostgreSQL at ${dbShown}`]);
      const redisShown = `redis://:***@${redisUrl.host}`;
      expect(summary.queue).toEqual([
        `queue: BullMQ on Redis at ${redisShown} (prefix summary-${process.pid}; 3 task workers; rate limits and channel health shared in Redis)`,
      ]);
      expect(summary.image_store).toEqual([
        `image store: S3 bucket ${s3.bucket} at ${s3.endpoint}, keys under 'images/'; links presigned by the bucket (valid 2h)`,
      ]);
      expect(summary.admin_api).toEqual(['admin API: on (/admin/api/..., Authorization: Bearer IMAGEGATE_ADMIN_KEY)']);
      expect(summary.channel).toEqual([
        'channel relay-a (openai-compatible, http://relayuser:***@127.0.0.1:9/v1?token=***): gpt-image-2, dall-e-3',
        'channel azure-east (azure-openai, https://res.openai.azure.com) [disabled]: gpt-image-1',
      ]);
      expect(summary.listening).toEqual([`imagegate listening on ${gw.origin}`]);
      for (const line of raw) for (const secret of secrets) expect(line, secret).not.toContain(secret);
      // The bucket check of /readyz writes there too.
      const ready = await fetch(`${gw.origin}/readyz`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
      expect(((await ready.json()) as { checks: Record<string, { status: string }> }).checks).toMatchObject({
        database: { status: 'ok' },
        redis: { status: 'ok' },
        image_store: { status: 'ok' },
        channels: { status: 'ok' },
      });
    },
    30_000,
  );
});

describe('redactUrl', () => {
  it('hides passwords and credential-like query values, keeps the rest', () => {
    expect(redactUrl('postgres://app:s3cret@db.internal:5432/imagegate?sslmode=require&password=p2')).toBe(
      'postgres://app:***@db.internal:5432/imagegate?sslmode=require&password=***',
    );
    expect(redactUrl('rediss://default:tok@cache:6380/2')).toBe('rediss://default:***@cache:6380/2');
    expect(redactUrl('redis://:only-pass@cache:6379')).toBe('redis://:***@cache:6379');
    expect(redactUrl('redis://cache:6379')).toBe('redis://cache:6379');
    expect(redactUrl('https://relay.example.com/v1?api_key=k&region=eu')).toBe('https://relay.example.com/v1?api_key=***&region=eu');
    expect(redactUrl('not a url user:pw@host')).toBe('not a url user:pw@host');
    expect(redactUrl('//user:pw@host/x')).toBe('//user:***@host/x');
  });
});
