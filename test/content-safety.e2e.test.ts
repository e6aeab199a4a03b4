/**
 * Content safety end to end, with the real classifier (src/safety/: nsfwjs in worker threads) and
 * an OpenAI simulator drawing real images: an ordinary image passes at the default thresholds, every
 * class scoring below its default; with a threshold just below the image's real top score the same
 * request is refused in every dialect (OpenAI sync b64_json and url, an SSE stream, the task API,
 * new-api's async dialect) with 400 content_policy_violation and the credits given back, and just
 * above it passes; the prompt blocklist refuses before any credit or upstream call; flag mode
 * delivers and lists the image for review; refused images are kept, never linked, and deleted when
 * retention runs out; the policy is refused when malformed; refusals are counted.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { SAFETY_CLASSES, type SafetyClass } from '../src/core/image-safety.js';
import { DEFAULT_THRESHOLDS } from '../src/core/safety-policy.js';
import { UrlSigner } from '../src/storage/url-signer.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { newApiAsync, taskApi } from './helpers/async-dialects.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';

closeAfterEach();

const runPostgres = await postgresAvailable();

const URL_SECRET = 'content-safety-url-secret';
const MODEL = 'gpt-image-1';
/**
 * Every image scores something for neutral: at 0 it always trips, whatever the classifier said.
 * Only for tests of something else (flag mode, combining policies, held images, PostgreSQL's
 * columns); the refusal that must follow the classifier's verdict sets its threshold from the
 * image's real score (realScores, MARGIN).
 */
const TRIPS = { neutral: 0 };
/**
 * The ordinary image: the simulator draws a prompt the same way every time (sim/render.ts, no
 * randomness), so every request for it below, in any dialect, is checked on the same image.
 */
const PROMPT = 'a calm lake at dawn';
/** How far from the real score a threshold is set, below to trip and above to pass. */
const MARGIN = 0.02;

type Scores = Record<SafetyClass, number>;

interface Setup {
  gw: TestGateway;
  sim: RunningSimulator;
}

async function setup(env: Record<string, string> = {}, channel: Record<string, unknown> = {}): Promise<Setup> {
  const sim = later(await startOpenAISimulator());
  const file = await writeConfigFile({ channels: [{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up', ...channel }] });
  const gw = later(
    await startGateway({
      IMAGEGATE_CONFIG: file,
      IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
      IMAGEGATE_URL_SECRET: URL_SECRET,
      IMAGEGATE_STREAM_KEEPALIVE: '20ms',
      ...env,
    }),
  );
  return { gw, sim };
}

interface PolicyKey {
  id: string;
  secret: string;
  client: OpenAI;
  /** A view of the gateway answering as this key (for the raw-HTTP helpers). */
  as: TestGateway;
}

/** A metered key (1 USD) with the given content policy (undefined: none of its own). */
async function keyWith(gw: TestGateway, safety?: unknown): Promise<PolicyKey> {
  const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'safety', credits: 1, ...(safety !== undefined ? { safety } : {}) });
  expect(created.id, JSON.stringify(created)).toBeTypeOf('string');
  const secret = String(created.key);
  const client = new OpenAI({ apiKey: secret, baseURL: gw.baseURL, maxRetries: 0, timeout: 60_000 });
  return { id: String(created.id), secret, client, as: { ...gw, apiKey: secret, client } };
}

async function creditsOf(gw: TestGateway, key: PolicyKey): Promise<number> {
  return Number((await adminJson(gw.origin, 'GET', `/admin/api/keys/${key.id}`)).credits);
}

async function ledgerKinds(gw: TestGateway, key: PolicyKey): Promise<string[]> {
  const ledger = (await adminJson(gw.origin, 'GET', `/admin/api/keys/${key.id}/ledger`)) as { data: { kind: string }[] };
  return ledger.data.map((e) => e.kind);
}

interface ImageView {
  id: string;
  url: string | null;
  thumbnail_url: string;
  review: string | null;
  safety_scores: Record<string, number> | null;
}

async function reviewList(gw: TestGateway, review: string): Promise<ImageView[]> {
  return ((await adminJson(gw.origin, 'GET', `/admin/api/images?review=${review}`)) as { data: ImageView[] }).data;
}

async function settled(gw: TestGateway, key: PolicyKey, credits: number): Promise<void> {
  // Refunds land as the run fails; poll briefly rather than race the settlement write.
  for (let i = 0; i < 100 && (await creditsOf(gw, key)) !== credits; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await creditsOf(gw, key)).toBe(credits);
}

/**
 * What the real classifier scored PROMPT's image, as the gateway recorded it: one url generation
 * under a flag-mode policy at the default thresholds (which it passes), read back from the admin
 * images API by its request id.
 */
async function realScores(gw: TestGateway): Promise<Scores> {
  const key = await keyWith(gw, { mode: 'flag' });
  const res = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: PROMPT, size: '1024x1024', response_format: 'url' });
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  const request = String(res.headers.get('x-request-id'));
  const [image, ...more] = ((await adminJson(gw.origin, 'GET', `/admin/api/images?request=${encodeURIComponent(request)}`)) as { data: ImageView[] }).data;
  expect(more).toEqual([]);
  expect(image?.review).toBeNull();
  const scores = image?.safety_scores ?? {};
  expect(Object.keys(scores).sort()).toEqual([...SAFETY_CLASSES].sort());
  return scores as Scores;
}

/** The class the image scored highest. */
function topClass(scores: Scores): SafetyClass {
  return SAFETY_CLASSES.reduce((best, cls) => (scores[cls] > scores[best] ? cls : best));
}

const REFUSAL = { type: 'invalid_request_error', code: 'content_policy_violation', param: null };

describe('the image check', () => {
  it('an ordinary generated image passes at the default thresholds, in every dialect, every class scoring below its default; its scores are kept', async () => {
    const { gw } = await setup();
    const key = await keyWith(gw, { mode: 'block' });
    const b64 = await key.client.images.generate({ model: MODEL, prompt: PROMPT, size: '1024x1024', response_format: 'b64_json' } as never);
    expect(b64.data?.[0]?.b64_json?.length).toBeGreaterThan(100);
    const url = await key.client.images.generate({ model: MODEL, prompt: PROMPT, size: '1024x1024', response_format: 'url' } as never);
    expect(url.data?.[0]?.url).toMatch(/\/files\//);
    expect((await taskApi(key.as, { model: MODEL, prompt: PROMPT }))?.state).toBe('completed');
    expect((await newApiAsync(key.as, { model: MODEL, prompt: PROMPT }))?.status).toBe('succeeded');
    const images = ((await adminJson(gw.origin, 'GET', '/admin/api/images?limit=10')) as { data: ImageView[] }).data;
    expect(images.length).toBeGreaterThanOrEqual(3);
    // The defaults (src/core/safety-policy.ts): porn 0.7, hentai 0.7, sexy 0.9; drawing and neutral never trip.
    expect(DEFAULT_THRESHOLDS).toEqual({ porn: 0.7, hentai: 0.7, sexy: 0.9 });
    for (const image of images) {
      expect(image.review).toBeNull();
      expect(Object.keys(image.safety_scores ?? {}).sort()).toEqual(['drawing', 'hentai', 'neutral', 'porn', 'sexy']);
      // It passes because the classifier scored it low, not because no class was checked.
      for (const [cls, threshold] of Object.entries(DEFAULT_THRESHOLDS)) expect(image.safety_scores?.[cls], cls).toBeLessThan(threshold);
    }
    expect(await reviewList(gw, 'any')).toEqual([]);
  }, 120_000);

  it("a threshold just below the image's real top score refuses the same request in every dialect with 400 content_policy_violation and gives the credits back; just above it, the image passes", async () => {
    const { gw, sim } = await setup();
    const scores = await realScores(gw);
    const top = topClass(scores);
    const score = scores[top];
    const below = Math.max(score - MARGIN, 0.001);
    const above = score + MARGIN;
    expect(above, `${top} scored ${score}: too close to 1 to set a threshold above it`).toBeLessThanOrEqual(1);
    const key = await keyWith(gw, { mode: 'block', thresholds: { [top]: below } });
    const prompt = PROMPT;
    const madeBefore = sim.sim.requests.length;
    // Only the top class trips (the others stay at their defaults, far above their scores): the reason names it.
    const reason = new RegExp(`^Content policy violation: the generated image was classified as ${top} under`);

    // OpenAI sync, b64_json (the pass-through path) and url.
    for (const response_format of ['b64_json', 'url'] as const) {
      const res = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt, size: '1024x1024', response_format });
      expect(res.status, res.text.slice(0, 300)).toBe(400);
      expect(res.json?.error).toMatchObject({ ...REFUSAL, message: expect.stringMatching(reason) });
      await settled(gw, key, 1);
    }
    // The SDK sees OpenAI's error.
    await expect(key.client.images.generate({ model: MODEL, prompt, size: '1024x1024' })).rejects.toMatchObject({
      status: 400,
      code: 'content_policy_violation',
    });

    // SSE: no partial image goes out unchecked; the refusal is an error event.
    const stream = await fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt, size: '1024x1024', stream: true, partial_images: 2 }),
    });
    const text = await stream.text();
    expect(text).not.toContain('partial_image');
    expect(text).toContain('event: error');
    expect(text).toContain('"code":"content_policy_violation"');
    await settled(gw, key, 1);

    // The task API: failed with its failMsg; new-api: fail_reason.
    const task = await taskApi(key.as, { model: MODEL, prompt });
    expect(task).toMatchObject({ state: 'failed', resultUrls: null });
    expect(task?.failMsg).toMatch(reason);
    const newApi = await newApiAsync(key.as, { model: MODEL, prompt });
    expect(newApi?.status).toBe('failed');
    expect(newApi?.fail_reason).toMatch(reason);
    await settled(gw, key, 1);
    expect(await ledgerKinds(gw, key)).toContain('refund');

    // Each refused image was made upstream once, and is kept for review, never linked; what was
    // checked is the image the scores were learned from.
    expect(sim.sim.requests.length - madeBefore).toBe(6);
    const held = await reviewList(gw, 'refused');
    expect(held).toHaveLength(6);
    for (const image of held) {
      expect(image.url).toBeNull();
      for (const cls of SAFETY_CLASSES) expect(image.safety_scores?.[cls], cls).toBeCloseTo(scores[cls], 2);
    }

    // The same image with the threshold just above its score: delivered in every dialect, and charged.
    const lenient = await keyWith(gw, { mode: 'block', thresholds: { [top]: above } });
    for (const response_format of ['b64_json', 'url'] as const) {
      const res = await postJson(lenient.as, '/v1/images/generations', { model: MODEL, prompt, size: '1024x1024', response_format });
      expect(res.status, res.text.slice(0, 300)).toBe(200);
    }
    const passed = await fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${lenient.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt, size: '1024x1024', stream: true, partial_images: 2 }),
    });
    const passedText = await passed.text();
    expect(passedText).toContain('image_generation.completed');
    expect(passedText).not.toContain('event: error');
    expect((await taskApi(lenient.as, { model: MODEL, prompt }))?.state).toBe('completed');
    expect((await newApiAsync(lenient.as, { model: MODEL, prompt }))?.status).toBe('succeeded');
    expect(await creditsOf(gw, lenient)).toBeLessThan(1);
    expect(await reviewList(gw, 'refused')).toHaveLength(6);
  }, 180_000);

  it("a caller's nsfw_checker turns the check on (the openai SDK sends it as an extra body field); without it the same key is not checked", async () => {
    // The operator's thresholds (env) trip everything, but its default mode is off: only callers who ask are checked.
    // neutral=0 on purpose: this is about who is checked, not about the verdict following the score.
    const { gw } = await setup({ IMAGEGATE_SAFETY_THRESHOLDS: 'neutral=0' });
    const key = await keyWith(gw);
    const params = { model: MODEL, prompt: 'a lighthouse', size: '1024x1024' } as const;
    await expect(key.client.images.generate(params)).resolves.toBeDefined();
    const asked = key.client.images.generate(params, { body: { ...params, nsfw_checker: true } });
    await expect(asked).rejects.toMatchObject({ status: 400, code: 'content_policy_violation', param: null });
    expect((await taskApi(key.as, { model: MODEL, prompt: 'a lighthouse' }))?.state).toBe('completed');
    const task = await taskApi(key.as, { model: MODEL, prompt: 'a lighthouse', nsfw_checker: true });
    expect(task).toMatchObject({ state: 'failed', failMsg: expect.stringMatching(/^Content policy violation/) });
    const newApi = await newApiAsync(key.as, { model: MODEL, prompt: 'a lighthouse', nsfw_checker: true });
    expect(newApi?.fail_reason).toMatch(/^Content policy violation/);
    // Not a boolean: the caller's 400, in each dialect, naming the field.
    const bad = await postJson(key.as, '/v1/images/generations', { ...params, nsfw_checker: 'yes' });
    expect([bad.status, bad.json?.error]).toEqual([400, expect.objectContaining({ code: 'invalid_type', param: 'nsfw_checker' })]);
    const badTask = await postJson(key.as, '/api/v1/images/generations', { model: MODEL, prompt: 'a lighthouse', nsfw_checker: 1 });
    expect([badTask.status, badTask.json?.msg]).toEqual([400, expect.stringContaining('nsfw_checker')]);
  }, 120_000);

  it('a channel policy applies to what that channel makes; combined with the key, the stricter wins', async () => {
    const { gw } = await setup({}, { safety: { mode: 'block', thresholds: TRIPS } });
    const lax = await keyWith(gw, { mode: 'flag', thresholds: { porn: 0.99 } });
    const res = await postJson(lax.as, '/v1/images/generations', { model: MODEL, prompt: 'a field of tulips', size: '1024x1024', response_format: 'b64_json' });
    expect(res.status).toBe(400);
    expect(res.json?.error).toMatchObject(REFUSAL);
    const channel = (await adminJson(gw.origin, 'GET', '/admin/api/channels/up')) as { safety: { mode: string; thresholds: Record<string, number> } };
    expect(channel.safety).toMatchObject({ mode: 'block', thresholds: { neutral: 0, porn: 0.7 } });
  }, 120_000);

  it('flag mode delivers the image and lists it for review with its scores (kept even where b64_json answers are not); a reviewer approves it', async () => {
    const { gw } = await setup({ IMAGEGATE_KEEP_B64_IMAGES: 'false' });
    const key = await keyWith(gw, { mode: 'flag', thresholds: TRIPS });
    const answer = await key.client.images.generate({ model: MODEL, prompt: 'a mountain hut', size: '1024x1024', response_format: 'b64_json' } as never);
    expect(answer.data?.[0]?.b64_json?.length).toBeGreaterThan(100);
    let flagged: ImageView[] = [];
    // b64_json images are stored once the answer is out.
    for (let i = 0; i < 100 && flagged.length === 0; i++) {
      flagged = await reviewList(gw, 'flagged');
      if (flagged.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(flagged).toHaveLength(1);
    expect(flagged[0]?.safety_scores?.neutral).toBeGreaterThanOrEqual(0);
    expect(await creditsOf(gw, key)).toBeLessThan(1);
    const approved = await adminJson(gw.origin, 'POST', `/admin/api/images/${flagged[0]?.id}/approve`);
    expect(approved.review).toBe('approved');
    expect(await reviewList(gw, 'flagged')).toEqual([]);
    const metrics = await (await fetch(`${gw.origin}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).text();
    expect(metrics).toMatch(/imagegate_content_refusals_total\{source="classifier",mode="flag"\} 1/);
  }, 120_000);

  it('a refused image is never served by /files, even under a link signed with the real secret; its key does not see it', async () => {
    const { gw } = await setup();
    const key = await keyWith(gw, { mode: 'block', thresholds: TRIPS });
    const res = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'a red barn', size: '1024x1024', response_format: 'url' });
    expect(res.status).toBe(400);
    const [held] = await reviewList(gw, 'refused');
    expect(held?.id).toMatch(/^held_.{22}$/);
    const name = `${held?.id}.png`;
    const { expires, sig } = new UrlSigner(URL_SECRET).sign(name, 600);
    const file = await fetch(`${gw.origin}/files/${encodeURIComponent(name)}?expires=${expires}&sig=${sig}`);
    expect(file.status).toBe(404);
    // The reviewer's thumbnail works.
    expect((await fetch(String(held?.thumbnail_url))).status).toBe(200);
    const own = await fetch(`${gw.baseURL}/account/images`, { headers: { authorization: `Bearer ${key.secret}` } });
    expect(((await own.json()) as { data: unknown[] }).data).toEqual([]);
  }, 120_000);
  it('a held image (refused in block mode) is deleted with its bytes when retention runs out', async () => {
    // A sweep every hour: the test runs the sweeper itself once the image has expired.
    const { gw } = await setup({ IMAGEGATE_RETENTION: '2s', IMAGEGATE_SWEEP_INTERVAL: '1h' });
    const key = await keyWith(gw, { mode: 'block', thresholds: TRIPS });
    const res = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'a snowman', size: '1024x1024', response_format: 'url' });
    expect(res.status).toBe(400);
    const [held] = ((await adminJson(gw.origin, 'GET', '/admin/api/images?review=refused')) as { data: (ImageView & { expires_at: string })[] }).data;
    expect(held?.id).toMatch(/^held_/);
    // The file store keeps `<id>.png` under a folder named by its first two characters.
    const name = `${held?.id}.png`;
    const file = join(gw.app.config.dataDir, 'images', name.slice(0, 2), name);
    expect((await stat(file)).size).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(held?.expires_at ?? '') - Date.now()) + 100));
    expect(await gw.app.sweeper.sweep()).toBe(1);
    expect(await stat(file).catch(() => null)).toBeNull();
  }, 60_000);
});

describe('vendor refusals', () => {
  it("an upstream's safety refusal is the same 400 content_policy_violation, refunded, and counted as source upstream", async () => {
    const { gw, sim } = await setup();
    const key = await keyWith(gw);
    sim.sim.enqueueFault({ kind: 'status', status: 400, message: 'Your request was rejected by the safety system.', code: 'moderation_blocked' });
    const res = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'a quiet pond', size: '1024x1024' });
    expect(res.json?.error).toEqual({ ...REFUSAL, message: 'Your request was rejected by the safety system.' });
    await settled(gw, key, 1);
    const metrics = await (await fetch(`${gw.origin}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).text();
    expect(metrics).toMatch(/imagegate_content_refusals_total\{source="upstream",mode="off"\} 1/);
  }, 60_000);
});

describe('the prompt blocklist', () => {
  it('refuses before any credit is reserved or upstream called, in every dialect, naming only the kind of term', async () => {
    const { gw, sim } = await setup();
    const key = await keyWith(gw, { mode: 'block', blocklist: ['forbidden', '/se+cret/'] });
    const sync = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'A FORBIDDEN garden' });
    expect(sync.status).toBe(400);
    expect(sync.json?.error).toMatchObject({ ...REFUSAL, message: expect.stringContaining('blocked word') });
    expect(sync.text).not.toContain('forbidden');
    const pattern = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'a seeecret door', stream: true });
    expect(pattern.json?.error).toMatchObject({ ...REFUSAL, message: expect.stringContaining('blocked phrase') });
    const task = await postJson(key.as, '/api/v1/images/generations', { model: MODEL, prompt: 'forbidden fruit' });
    expect(task.status).toBe(400);
    expect(task.json).toMatchObject({ code: 400, data: null });
    const newApi = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'forbidden fruit' }, { 'x-new-api-async-task': 'true' });
    expect(newApi.status).toBe(400);
    expect(sim.sim.requests).toHaveLength(0);
    expect(await ledgerKinds(gw, key)).toEqual(['grant']);
    const ok = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'forbiddenness is not the word', size: '1024x1024' });
    expect(ok.status).toBe(200);
    const metrics = await (await fetch(`${gw.origin}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).text();
    expect(metrics).toMatch(/imagegate_content_refusals_total\{source="prompt",mode="block"\} 4/);
  }, 120_000);

  it('a channel whose own list blocks the prompt is skipped; when every channel blocks it, refused before routing', async () => {
    const { gw, sim } = await setup({}, { safety: { mode: 'block', blocklist: ['harbour'] } });
    const key = await keyWith(gw);
    const res = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'a harbour at night' });
    expect(res.json?.error).toMatchObject(REFUSAL);
    expect(sim.sim.requests).toHaveLength(0);
    expect(await ledgerKinds(gw, key)).toEqual(['grant']);
  }, 60_000);
});

describe('setting a policy', () => {
  it('the admin API refuses a malformed policy naming the part (a bad regex, an unknown class, a mode), and reads back what it keeps', async () => {
    const { gw } = await setup();
    const bad = async (safety: unknown) => {
      const res = await fetch(`${gw.origin}/admin/api/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bad', safety }),
      });
      return { status: res.status, error: ((await res.json()) as { error: { code: string; param: string } }).error };
    };
    expect(await bad({ mode: 'block', blocklist: ['/a(b/'] })).toMatchObject({ status: 400, error: { code: 'invalid_value', param: 'safety.blocklist[0]' } });
    expect(await bad({ mode: 'block', blocklist: ['ok', '/(a+)+$/'] })).toMatchObject({
      status: 400,
      error: { code: 'invalid_value', param: 'safety.blocklist[1]' },
    });
    expect(await bad({ mode: 'block', thresholds: { gore: 0.5 } })).toMatchObject({ status: 400, error: { param: 'safety.thresholds.gore' } });
    expect((await bad({ mode: 'strict' })).status).toBe(400);
    const key = await keyWith(gw, { mode: 'flag', thresholds: { porn: 0.5 }, blocklist: ['Gore'] });
    const view = await adminJson(gw.origin, 'PATCH', `/admin/api/keys/${key.id}`, { name: 'renamed' });
    expect(view.safety).toEqual({ mode: 'flag', thresholds: { porn: 0.5, hentai: 0.7, sexy: 0.9 }, blocklist: ['Gore'] });
    expect((await adminJson(gw.origin, 'PATCH', `/admin/api/keys/${key.id}`, { safety: null })).safety).toBeNull();
    const channel = await fetch(`${gw.origin}/admin/api/channels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad', kind: 'demo', safety: { mode: 'block', blocklist: ['/(/'] } }),
    });
    expect(channel.status).toBe(400);
    expect(((await channel.json()) as { error: { param: string } }).error.param).toBe('safety.blocklist[0]');
  }, 60_000);
});

describe.skipIf(!runPostgres)('on PostgreSQL', () => {
  it("the migration's columns there too: a key's policy kept, a refusal refunded, the image held for review with its scores", async () => {
    const pg = await createTestDatabase();
    onCleanup(() => pg.drop());
    const { gw } = await setup({ DATABASE_URL: pg.url });
    const key = await keyWith(gw, { mode: 'block', thresholds: TRIPS, blocklist: ['/se+cret/'] });
    expect((await adminJson(gw.origin, 'GET', `/admin/api/keys/${key.id}`)).safety).toMatchObject({ mode: 'block', blocklist: ['/se+cret/'] });
    const res = await postJson(key.as, '/v1/images/generations', { model: MODEL, prompt: 'a quiet pond', size: '1024x1024', response_format: 'url' });
    expect(res.json?.error).toMatchObject(REFUSAL);
    await settled(gw, key, 1);
    const [held] = await reviewList(gw, 'refused');
    expect(held?.url).toBeNull();
    expect(Object.keys(held?.safety_scores ?? {})).toHaveLength(5);
    expect((await adminJson(gw.origin, 'POST', `/admin/api/images/${held?.id}/approve`)).review).toBe('approved');
  }, 120_000);
});
