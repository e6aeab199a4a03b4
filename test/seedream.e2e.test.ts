/**
 * ByteDance Seedream as a vendor, end to end: the official `openai` SDK through the gateway to ark
 * (Volcengine Ark) and byteplus (BytePlus ModelArk) channels whose upstream is the Seedream
 * simulator (sim/seedream.ts). Generations give real JPEGs (5.0 Lite: PNG when asked) of the size
 * asked; each platform is sent its own model id; n images are n calls, a group one call; edits'
 * uploads become Seedream's `image` array of data URIs and a mask is refused; a stream's events
 * are the finished images; new-api's async dialect and the task API dialect run Seedream models;
 * a moderation refusal is the client's 400 content_policy_violation with Ark's reason; a quota
 * error fails over from an Ark channel to a BytePlus one serving the same public name; a 401
 * disables the key, an account in arrears fails over without; the watermark is off unless the
 * channel or the client says otherwise.
 */
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { type RunningSeedreamSimulator, type SeedreamSimulatorOptions, startSeedreamSimulator } from '../sim/seedream.js';
import { newApiAsync, taskApi } from './helpers/async-dialects.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { postJson, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  type ChannelEntry,
  describeImageAt,
  disabledReason,
  errorMessage,
  gatewayWith,
  keptAliveThenCompleted,
  partialImagesRefused,
  plainPng,
  postEditForm,
  sdkGenerationStream,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'ark-test-key';

/** Seedream on Volcengine Ark; the same wire on BytePlus ModelArk is this with kind 'byteplus'. */
const ark = vendorKit({
  kind: 'ark',
  key: KEY,
  start: (opts: SeedreamSimulatorOptions) => startSeedreamSimulator({ apiKey: KEY, ...opts }),
  baseUrl: (sim) => sim.baseURL,
});
const seedreamSim = ark.sim;
const oneArk = ark.one;
const channel = (name: string, kind: 'ark' | 'byteplus', sim: RunningSeedreamSimulator, extra: ChannelEntry = {}) => ark.channel(name, sim, { kind, ...extra });

/** What the request log says the one request of `model` delivered and was charged, once it is written. */
async function charged(gw: TestGateway, model: string): Promise<{ delivered: number; price_micros: number | null; cost_micros: number | null }> {
  for (let i = 0; i < 100; i++) {
    const row = await gw.app.database.db
      .selectFrom('request_log')
      .select(['delivered', 'price_micros', 'cost_micros'])
      .where('model', '=', model)
      .where('status', '=', 200)
      .executeTakeFirst();
    if (row) return row;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no request_log row for ${model}`);
}

const b64 = (answer: { data?: { b64_json?: string }[] }, i = 0) => Buffer.from(answer.data?.[i]?.b64_json ?? '', 'base64');

const png = (width: number, height: number, colour: string) => plainPng(width, height, colour, 4);

describe('generations through the official SDK', () => {
  it('seedream-4.0 on an ark channel: a JPEG of the size asked; Ark is sent its own id, WxH and no watermark', async () => {
    const { gw, sim } = await oneArk();
    const answer = await gw.client.images.generate({
      model: 'seedream-4.0',
      prompt: 'a lighthouse at dusk',
      size: '1280x720' as never,
      response_format: 'b64_json',
    });
    expect(await describeImage(b64(answer))).toEqual({ format: 'jpeg', width: 1280, height: 720 });
    expect(answer).toMatchObject({ size: '1280x720', output_format: 'jpeg' });
    expect(answer).not.toHaveProperty('quality');
    expect(sim.sim.generationBodies).toEqual([
      { model: 'doubao-seedream-4-0-250828', prompt: 'a lighthouse at dusk', size: '1280x720', response_format: 'b64_json', watermark: false },
    ]);
  });

  it('a byteplus channel sends BytePlus’s model id; n=2 is two calls of one image each; url answers are the gateway’s links', async () => {
    const sim = await seedreamSim({ platform: 'byteplus' });
    const gw = await gatewayWith([channel('byteplus', 'byteplus', sim)]);
    const answer = await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'two boats', size: '1152x864' as never, n: 2 });
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) {
      expect((image.url ?? '').startsWith(gw.origin)).toBe(true);
      const res = await fetch(image.url ?? '');
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'jpeg', width: 1152, height: 864 });
    }
    expect(sim.sim.generationBodies.map((b) => [b.model, b.size, b.sequential_image_generation_options])).toEqual([
      ['seedream-4-0-250828', '1152x864', undefined],
      ['seedream-4-0-250828', '1152x864', undefined],
    ]);
  });

  it('output_format png on seedream-5.0-lite is Ark’s output_format; webp is refused naming output_format', async () => {
    const { gw, sim } = await oneArk();
    const answer = await gw.client.images.generate({
      model: 'seedream-5.0-lite',
      prompt: 'a wide poster',
      size: '2560x1440' as never,
      output_format: 'png',
      response_format: 'b64_json',
    });
    expect(await describeImage(b64(answer))).toEqual({ format: 'png', width: 2560, height: 1440 });
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ model: 'doubao-seedream-5-0-260128', output_format: 'png' });
    const webp = await postJson(gw, '/v1/images/generations', { model: 'seedream-5.0-lite', prompt: 'x', output_format: 'webp' });
    expect(webp.status).toBe(400);
    expect(webp.json).toMatchObject({ error: { param: 'output_format' } });
    // 4.0 answers JPEG only: no output_format is sent for it.
    await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'y', size: '1280x720' as never, output_format: 'jpeg' });
    expect(sim.sim.generationBodies.at(-1)).not.toHaveProperty('output_format');
  });

  it('a custom size outside the model’s pixel bounds is the client’s 400 naming size, nothing sent', async () => {
    const { gw, sim } = await oneArk();
    const res = await postJson(gw, '/v1/images/generations', { model: 'seedream-4.5', prompt: 'x', size: '1280x720' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'size' } });
    expect(sim.sim.generationBodies).toHaveLength(0);
  });

  it('a group: sequential_image_generation auto is one call whose max_images is n; Ark’s own fields pass', async () => {
    const { gw, sim } = await oneArk();
    const answer = await gw.client.images.generate({
      model: 'seedream-4.0',
      prompt: 'four seasons of one garden',
      size: '1280x720' as never,
      n: 3,
      response_format: 'b64_json',
      sequential_image_generation: 'auto',
      seed: 42,
      optimize_prompt_options: { mode: 'fast' },
    } as never);
    expect((answer as { data: unknown[] }).data).toHaveLength(3);
    expect(sim.sim.generationBodies).toHaveLength(1);
    expect(sim.sim.generationBodies[0]).toMatchObject({
      sequential_image_generation: 'auto',
      sequential_image_generation_options: { max_images: 3 },
      seed: 42,
      optimize_prompt_options: { mode: 'fast' },
    });
    expect(sim.sim.generationBodies[0]).not.toHaveProperty('n');
  });
});

describe('edits and reference images', () => {
  it('images.edit with two uploads: Seedream’s image array of data URIs, a JPEG of the size asked', async () => {
    const { gw, sim } = await oneArk();
    const answer = await gw.client.images.edit({
      model: 'seedream-4.0',
      prompt: 'put the red one on the blue one',
      image: [
        new File([await png(64, 48, '#c00')], 'red.png', { type: 'image/png' }),
        new File([await png(48, 64, '#00c')], 'blue.png', { type: 'image/png' }),
      ],
      size: '1280x720' as never,
      response_format: 'b64_json',
    });
    expect(await describeImage(b64(answer))).toEqual({ format: 'jpeg', width: 1280, height: 720 });
    const sent = sim.sim.generationBodies.at(-1) ?? {};
    expect(Array.isArray(sent.image) && sent.image.length).toBe(2);
    for (const uri of sent.image as string[]) expect(uri).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
  });

  it('size auto (the default) is Ark’s 2K tier: an edit comes back in its input’s shape, the answer says which size', async () => {
    const { gw, sim } = await oneArk();
    const answer = await gw.client.images.edit({
      model: 'seedream-4.5',
      prompt: 'the same scene at night',
      image: new File([await png(64, 48, '#c80')], 'scene.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ size: '2K' });
    expect(typeof sim.sim.generationBodies.at(-1)?.image).toBe('string');
    const image = await describeImage(b64(answer));
    expect(image).toEqual({ format: 'jpeg', width: 2368, height: 1776 });
    expect(answer).toMatchObject({ size: '2368x1776' });
  });

  it('a mask is a 400 unsupported_parameter naming mask; nothing is sent', async () => {
    const { gw, sim } = await oneArk();
    const res = await postEditForm(
      gw,
      { model: 'seedream-4.0', prompt: 'fill the sky' },
      { image: await png(64, 64, '#abc'), mask: await png(64, 64, '#0000') },
    );
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'mask', code: 'unsupported_parameter' });
    expect(sim.sim.generationBodies).toHaveLength(0);
  });
});

describe('streams', () => {
  it('generate({stream}): Ark streams finished images, each one completed event with a real JPEG', async () => {
    const { gw, sim } = await oneArk();
    const stream = await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'a stream', size: '1280x720' as never, stream: true });
    const events: { type: string; b64_json?: string; size?: string; output_format?: string }[] = [];
    for await (const event of stream) events.push(event as (typeof events)[number]);
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed']);
    expect(events[0]).toMatchObject({ size: '1280x720', output_format: 'jpeg' });
    expect(await describeImage(Buffer.from(events[0]?.b64_json ?? '', 'base64'))).toEqual({ format: 'jpeg', width: 1280, height: 720 });
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ stream: true });
  });

  it('a streamed group whose second image fails moderation delivers the others (partial_failed), charged for what came', async () => {
    const { gw, sim } = await oneArk();
    const res = await fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'seedream-4.0',
        prompt: 'three panels [sim:output-sensitive]',
        size: '1280x720',
        n: 3,
        stream: true,
        sequential_image_generation: 'auto',
      }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text.match(/event: image_generation\.completed/g)).toHaveLength(2);
    expect(sim.sim.imagesMade).toBe(2);
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ stream: true, sequential_image_generation_options: { max_images: 3 } });
    // Two of the three images at seedream-4.0's $0.03.
    expect(await charged(gw, 'seedream-4.0')).toEqual({ delivered: 2, price_micros: 60_000, cost_micros: 60_000 });
  });
});

describe('Seedream 3.0 streams whole images (Ark streams nothing for it)', () => {
  it('seedream-3.0, n 2: keep-alive comments, then two completed JPEGs at the size asked; Ark is sent no stream field', async () => {
    const { gw, sim } = await oneArk({ latencyMs: 600 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });
    const stream = await sdkGenerationStream(gw, { model: 'seedream-3.0', prompt: 'a lantern', size: '1248x832', n: 2 });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', count: 2, size: '1248x832', format: 'jpeg' });
    expect(sim.sim.generationBodies).toHaveLength(2);
    for (const body of sim.sim.generationBodies) {
      expect(body).toMatchObject({ model: 'doubao-seedream-3-0-t2i-250415', size: '1248x832' });
      expect(body).not.toHaveProperty('stream');
    }
    await partialImagesRefused(gw, { model: 'seedream-3.0', prompt: 'a lantern', partial_images: 1 }, () => sim.sim.requests.length);
  });

  it('an operator model on 3.0 that restates streaming still asks Ark for JSON', async () => {
    const sim = await ark.sim({ latencyMs: 300 });
    const models = [{ name: 'lantern-3', base: 'seedream-3.0', capabilities: { streaming: { max_partial_images: 0 } } }];
    const gw = await gatewayWith([ark.channel('ark', sim)], { IMAGEGATE_STREAM_KEEPALIVE: '100ms' }, { models });
    const stream = await sdkGenerationStream(gw, { model: 'lantern-3', prompt: 'a lantern', size: '1024x1024' });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '1024x1024', format: 'jpeg' });
    expect(sim.sim.generationBodies.map((b) => [b.model, 'stream' in b])).toEqual([['doubao-seedream-3-0-t2i-250415', false]]);
  });
});

describe('the async dialects run Seedream models', () => {
  it("new-api's async dialect: submitted, then succeeded with the image's link", async () => {
    const { gw } = await oneArk();
    const view = await newApiAsync(gw, { model: 'seedream-4.0', prompt: 'an app icon', size: '1024x1024' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'jpeg', width: 1024, height: 1024 });
  });

  it('the task API dialect: aspect_ratio 16:9 on seedream-4.5 is 2560x1440', async () => {
    const { gw, sim } = await oneArk();
    const view = await taskApi(gw, { model: 'seedream-4.5', prompt: 'a wide poster of a harbour', aspect_ratio: '16:9' });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ model: 'doubao-seedream-4-5-251128', size: '2560x1440' });
    // A custom size (not one of Ark's listed 4.5 sizes) costs what every 4.5 image costs.
    expect(await charged(gw, 'seedream-4.5')).toMatchObject({ delivered: 1, price_micros: 40_000 });
    expect(await describeImageAt(view?.resultUrls?.[0])).toEqual({ format: 'jpeg', width: 2560, height: 1440 });
  });
});

describe("Ark's refusals and failures", () => {
  it.each([
    ['a prompt', 'a harbour [sim:sensitive]', 'input text'],
    ['an output image', 'a harbour [sim:output-sensitive]', 'output image'],
  ])('a moderation refusal of %s is the client’s 400 content_policy_violation with Ark’s reason, not retried', async (_what, prompt, reason) => {
    const { gw, sim } = await oneArk();
    const res = await postJson(gw, '/v1/images/generations', { model: 'seedream-4.0', prompt, size: '1280x720' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain(reason);
    expect(sim.sim.generationBodies).toHaveLength(1);
  });

  it('one public name on an Ark channel and a BytePlus one: Ark’s QuotaExceeded (429) fails over, BytePlus serves', async () => {
    const ark = await seedreamSim({ quota: 0 });
    const byteplus = await seedreamSim({ platform: 'byteplus' });
    const gw = await gatewayWith([channel('ark', 'ark', ark, { priority: 10 }), channel('byteplus', 'byteplus', byteplus)]);
    const answer = await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'a harbour', size: '1280x720' as never, response_format: 'b64_json' });
    expect(await describeImage(b64(answer))).toEqual({ format: 'jpeg', width: 1280, height: 720 });
    expect(ark.sim.generationBodies.map((b) => b.model)).toEqual(['doubao-seedream-4-0-250828']);
    expect(ark.sim.imagesMade).toBe(0);
    expect(byteplus.sim.generationBodies.map((b) => b.model)).toEqual(['seedream-4-0-250828']);
    expect(byteplus.sim.imagesMade).toBe(1);
  });

  it('a 429 with no other channel: the client hears upstream_rate_limited', async () => {
    const sim = await seedreamSim();
    const gw = await gatewayWith([channel('alone', 'ark', sim)], { IMAGEGATE_MAX_ATTEMPTS: '1' });
    sim.sim.enqueueFault({ status: 429, code: 'RateLimitExceeded.EndpointRPMExceeded', retryAfterSeconds: 30 });
    const res = await postJson(gw, '/v1/images/generations', { model: 'seedream-4.0', prompt: 'a harbour', size: '1280x720' });
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: { code: 'upstream_rate_limited' } });
    expect(sim.sim.generationBodies).toHaveLength(1);
  });

  it('a 401 (AuthenticationError) disables that key; an account in arrears (403 AccountOverdueError) fails over and keeps its key', async () => {
    const wrongKey = await seedreamSim({ apiKey: 'the-real-key' });
    const overdue = await seedreamSim();
    const good = await seedreamSim({ platform: 'byteplus' });
    const gw = await gatewayWith([
      channel('wrong-key', 'ark', wrongKey, { priority: 20 }),
      channel('overdue', 'ark', overdue, { priority: 10 }),
      channel('good', 'byteplus', good),
    ]);
    overdue.sim.enqueueFault({ status: 403, code: 'AccountOverdueError', message: 'Your account has an overdue balance.' });
    await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'a harbour', size: '1280x720' as never });
    expect(good.sim.generations).toBe(1);
    expect(await disabledReason(gw, 'wrong-key')).toMatch(/401/);
    expect(await disabledReason(gw, 'overdue')).toBeNull();
    expect(overdue.sim.generationBodies).toHaveLength(1);
  });
});

describe('what Seedream cannot do is refused, naming the field', () => {
  it.each([
    ['quality', { quality: 'high' }],
    ['background', { background: 'transparent' }],
    ['output_compression', { output_compression: 50 }],
    ['moderation', { moderation: 'low' }],
    ['style', { style: 'vivid' }],
    ['negative_prompt', { negative_prompt: 'people' }],
    ['metadata', { metadata: { a: 1 } }],
  ])('%s: 400 naming it, nothing sent', async (param, extra) => {
    const { gw, sim } = await oneArk();
    const res = await postJson(gw, '/v1/images/generations', { model: 'seedream-4.0', prompt: 'a harbour', ...extra });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param } });
    expect(sim.sim.generationBodies).toHaveLength(0);
  });

  it('a group’s max_images other than n is refused naming sequential_image_generation_options', async () => {
    const { gw, sim } = await oneArk();
    const res = await postJson(gw, '/v1/images/generations', {
      model: 'seedream-4.0',
      prompt: 'a harbour',
      n: 2,
      sequential_image_generation: 'auto',
      sequential_image_generation_options: { max_images: 5 },
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'sequential_image_generation_options' } });
    expect(sim.sim.generationBodies).toHaveLength(0);
  });
});

describe('channels, vendors and the watermark', () => {
  it('watermark: off by default, the channel’s setting when it has one, the client’s word over both', async () => {
    const sim = await seedreamSim();
    const gw = await gatewayWith([channel('marked', 'ark', sim, { watermark: true })]);
    await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'one', size: '1280x720' as never });
    await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'two', size: '1280x720' as never, watermark: false } as never);
    expect(sim.sim.generationBodies.map((b) => b.watermark)).toEqual([true, false]);
  });

  it('a model_map entry wins on either platform (an Ark endpoint id); params: { response_format: url } takes Ark’s links, stored by the gateway', async () => {
    const sim = await seedreamSim({ platform: 'byteplus', endpoints: { 'ep-20250901-seedream4': 'seedream-4-0-250828' } });
    const gw = await gatewayWith([
      channel('byteplus', 'byteplus', sim, { model_map: { 'seedream-4.0': { upstream_model: 'ep-20250901-seedream4', params: { response_format: 'url' } } } }),
    ]);
    const answer = await gw.client.images.generate({ model: 'seedream-4.0', prompt: 'a harbour', size: '1280x720' as never, response_format: 'b64_json' });
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ model: 'ep-20250901-seedream4', response_format: 'url' });
    expect(sim.sim.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/files/'))).toHaveLength(1);
    expect(await describeImage(b64(answer))).toEqual({ format: 'jpeg', width: 1280, height: 720 });
  });

  it('the admin API creates an ark channel; only ByteDance’s models reach it, only OpenAI’s the openai channel', async () => {
    const openai = later(await startOpenAISimulator());
    const ark = await seedreamSim();
    const gw = await gatewayWith([{ name: 'official', kind: 'openai', base_url: openai.baseURL, api_key: 'sk-up' }]);
    const created = await fetch(`${gw.origin}/admin/api/channels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ark-main', kind: 'ark', base_url: ark.baseURL, api_key: KEY, watermark: false }),
    });
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) {
      await gw.client.images.generate({ model: 'seedream-3.0', prompt: `seedream ${i}`, size: '1024x1024' as never });
      await gw.client.images.generate({ model: 'dall-e-2', prompt: `openai ${i}`, size: '256x256' });
    }
    expect(ark.sim.generationBodies.map((b) => b.model)).toEqual(Array(3).fill('doubao-seedream-3-0-t2i-250415'));
    expect(openai.sim.requests.filter((r) => r.path === '/v1/images/generations').map((r) => (r.json as { model: string }).model)).toEqual(
      Array(3).fill('dall-e-2'),
    );
  });

  it('a Seedream model with only an openai channel: 503 naming the vendor, nothing sent', async () => {
    const openai = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'official', kind: 'openai', base_url: openai.baseURL, api_key: 'sk-up' }]);
    const res = await postJson(gw, '/v1/images/generations', { model: 'seedream-4.0', prompt: 'a harbour' });
    expect(res.status).toBe(503);
    expect(errorMessage(res)).toContain('bytedance');
    expect(openai.sim.requests.filter((r) => r.path.startsWith('/v1/images'))).toHaveLength(0);
  });
});
