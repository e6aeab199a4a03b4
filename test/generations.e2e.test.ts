/**
 * End to end: the real gateway on port 0, a real OpenAI simulator upstream over HTTP, the
 * official openai SDK as client, on SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../src/core/models.js';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import { createTestDatabase, postgresAvailable, type TestPostgres } from './helpers/postgres.js';

const UPSTREAM_KEY = 'sk-upstream-secret-123456';
const runPostgres = await postgresAvailable();

function gatewaySuite(database: 'sqlite' | 'postgres') {
  describe(`generations on ${database}`, () => {
    let upstream: RunningSimulator;
    let gw: TestGateway;
    let pgdb: TestPostgres | undefined;

    beforeAll(async () => {
      upstream = await startOpenAISimulator({ apiKey: UPSTREAM_KEY });
      pgdb = database === 'postgres' ? await createTestDatabase() : undefined;
      gw = await startGateway({
        OPENAI_API_KEY: UPSTREAM_KEY,
        OPENAI_BASE_URL: upstream.baseURL,
        IMAGEGATE_UPSTREAM_TIMEOUT: '6s',
        // One attempt and a lenient breaker: these tests look at how each failure is reported.
        IMAGEGATE_MAX_ATTEMPTS: '1',
        IMAGEGATE_BREAKER_THRESHOLD: '100',
        ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
      });
    });

    afterAll(async () => {
      await gw?.close();
      await upstream?.close();
      await pgdb?.drop();
    });

    it('returns a signed URL that serves the real image', async () => {
      const res = await gw.client.images.generate({ model: 'gpt-image-2', prompt: 'a red bicycle', size: '1536x1024' });
      expect(res.data).toHaveLength(1);
      const url = res.data?.[0]?.url;
      expect(url).toMatch(new RegExp(`^${gw.origin}/files/[\\w-]+\\.png\\?expires=\\d+&sig=`));
      expect(res.data?.[0]?.b64_json).toBeUndefined();
      expect(res.size).toBe('1536x1024');
      expect(res.output_format).toBe('png');
      expect(res.usage?.total_tokens).toBeGreaterThan(0);
      const file = await fetch(url!);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/png');
      const image = await describeImage(Buffer.from(await file.arrayBuffer()));
      expect(image).toEqual({ format: 'png', width: 1536, height: 1024 });
    });

    it('returns b64_json (and base64 as its alias) and stores the image too', async () => {
      for (const format of ['b64_json', 'base64'] as const) {
        const res = await postJson(gw, '/v1/images/generations', {
          prompt: 'a blue cube',
          response_format: format,
          output_format: 'webp',
          output_compression: 80,
        });
        expect(res.status).toBe(200);
        const data = res.json?.data as { b64_json?: string; url?: string }[];
        expect(data[0]?.url).toBeUndefined();
        const image = await describeImage(Buffer.from(data[0]!.b64_json!, 'base64'));
        expect(image.format).toBe('webp');
        expect(res.json?.output_format).toBe('webp');
      }
      const webpRows = () => gw.app.database.db.selectFrom('images').select(['bytes']).where('mime', '=', 'image/webp').execute();
      // The record is of the decoded image, not of its base64 text (a streamed image's size is set once it is stored whole).
      await expect.poll(async () => (await webpRows()).filter((row) => row.bytes > 1000).length).toBeGreaterThanOrEqual(2);
    });

    it('never sends response_format to a GPT image upstream, and asks dall-e for b64', async () => {
      upstream.sim.requests.length = 0;
      await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'x', response_format: 'url' });
      await gw.client.images.generate({ model: 'dall-e-3', prompt: 'y', response_format: 'url' });
      const [gpt, dalle] = upstream.sim.requests.filter((r) => r.path === '/v1/images/generations').map((r) => r.json as Record<string, unknown>);
      expect(gpt).not.toHaveProperty('response_format');
      expect(dalle).toMatchObject({ model: 'dall-e-3', response_format: 'b64_json', quality: 'standard' });
    });

    // OpenAI's models: Recraft's go to recraft channels only (test/recraft.e2e.test.ts).
    it.each(BUILTIN_MODELS.filter((m) => m.vendor === 'openai').map((m) => [m.id, m.upstreamModel, m.defaults.size] as const))(
      'serves %s (upstream model %s)',
      async (model, upstreamModel, defaultSize) => {
        upstream.sim.requests.length = 0;
        const res = await gw.client.images.generate({ model, prompt: `built-in model ${model}`, response_format: 'b64_json' });
        expect(res.data?.[0]?.b64_json?.length).toBeGreaterThan(100);
        const sent = upstream.sim.requests.at(-1)?.json as Record<string, unknown>;
        expect(sent.model).toBe(upstreamModel);
        if (defaultSize) expect(sent.size).toBe(defaultSize);
        if (model.startsWith('gpt-image-2-') && model.endsWith('k')) expect(sent.quality).toBe('medium');
      },
    );

    it('sends unknown fields upstream; official OpenAI refusing them reaches the client as its 400', async () => {
      upstream.sim.requests.length = 0;
      const res = await postJson(gw, '/v1/images/generations', { prompt: 'x', seed: 42 });
      expect(upstream.sim.requests.at(-1)?.json).toMatchObject({ seed: 42, model: 'gpt-image-2' });
      expect(res.status).toBe(400);
      expect(res.json?.error).toMatchObject({ type: 'invalid_request_error', code: 'unknown_parameter', param: 'seed' });
    });

    it('tells upstream failures apart, without leaking the upstream key', async () => {
      const cases = [
        { fault: { kind: 'status', status: 500 }, status: 502, code: 'upstream_error' },
        { fault: { kind: 'status', status: 429, retryAfterSeconds: 7 }, status: 503, code: 'upstream_rate_limited' },
        { fault: { kind: 'malformed' }, status: 502, code: 'upstream_invalid_response' },
        { fault: { kind: 'truncated' }, status: 502, code: 'upstream_unavailable' },
        { fault: { kind: 'hang' }, status: 504, code: 'upstream_timeout' },
      ] as const;
      for (const c of cases) {
        upstream.sim.enqueueFault(c.fault);
        const res = await postJson(gw, '/v1/images/generations', { prompt: 'fail please' });
        expect(res.status, JSON.stringify(c.fault)).toBe(c.status);
        expect(res.json?.error).toMatchObject({ type: 'server_error', code: c.code });
        expect(res.text).not.toContain(UPSTREAM_KEY);
        if (c.status === 503) expect(res.headers.get('retry-after')).toBe('7');
      }
    });

    it("returns the upstream's own 400 to the client with its reason and param; its safety refusal as content_policy_violation", async () => {
      upstream.sim.enqueueFault({ kind: 'status', status: 400, message: 'Invalid size.', code: 'invalid_value', param: 'size', type: 'invalid_request_error' });
      const res = await postJson(gw, '/v1/images/generations', { prompt: 'something' });
      expect(res.status).toBe(400);
      expect(res.json?.error).toEqual({ message: 'Invalid size.', type: 'invalid_request_error', param: 'size', code: 'invalid_value' });
      upstream.sim.enqueueFault({
        kind: 'status',
        status: 400,
        message: 'Your request was rejected by the safety system.',
        code: 'moderation_blocked',
        param: 'prompt',
        type: 'invalid_request_error',
      });
      const refused = await postJson(gw, '/v1/images/generations', { prompt: 'something' });
      expect(refused.status).toBe(400);
      // Every vendor's refusal in one shape (OpenAI's moderation_blocked included).
      expect(refused.json?.error).toEqual({
        message: 'Your request was rejected by the safety system.',
        type: 'invalid_request_error',
        param: null,
        code: 'content_policy_violation',
      });
    });

    it('rejects tampered links with 403 and unknown images with 404', async () => {
      const res = await gw.client.images.generate({ prompt: 'tamper' });
      const url = new URL(res.data![0]!.url!);
      const sig = url.searchParams.get('sig')!;
      const name = url.pathname.split('/').pop()!;
      // Change one character to a different one (base64url names and signatures may start or end with anything).
      const flip = (c: string) => (c === 'Z' ? 'Y' : 'Z');
      const tampered = [
        url.toString().replace(`sig=${sig}`, `sig=${sig.slice(0, -1)}${flip(sig.slice(-1))}`),
        url.toString().replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 3600}`),
        url.toString().replace(`/files/${name}`, `/files/${flip(name[0]!)}${name.slice(1)}`),
        `${url.origin}${url.pathname}`,
      ];
      for (const link of tampered) expect(link).not.toBe(url.toString());
      for (const link of tampered) {
        const r = await fetch(link);
        expect(r.status, link).toBe(403);
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
      }
    });

    it('logs every request with its channel and outcome', async () => {
      await postJson(gw, '/v1/images/generations', { prompt: 'logged' }, { 'x-request-id': `log-check-${database}` });
      await expect
        .poll(async () => gw.app.database.db.selectFrom('request_log').selectAll().where('id', '=', `log-check-${database}`).executeTakeFirst())
        .toMatchObject({ status: 200, model: 'gpt-image-2', channel: 'openai:ok', n: 1, delivered: 1 });
    });
  });
}

gatewaySuite('sqlite');
describe.skipIf(!runPostgres)('postgres', () => gatewaySuite('postgres'));
