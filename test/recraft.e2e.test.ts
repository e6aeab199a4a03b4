/**
 * Recraft as a vendor, end to end: the official `openai` SDK through the gateway to a recraft
 * channel whose upstream is the Recraft simulator (sim/recraft.ts). Raster models give real PNGs
 * of the size asked; vector models give SVG, stored and served as image/svg+xml under a policy
 * that runs no script; new-api's async dialect and the task API dialect run Recraft models too;
 * a safety refusal is the client's 400 content_policy_violation with Recraft's reason; an account
 * out of API units, a 429 and a refused key fail over to the next channel; what Recraft cannot do
 * is a 400 unsupported_parameter naming the field; only Recraft's models reach a recraft channel,
 * and only OpenAI's reach an openai one.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { startRecraftSimulator, type RecraftSimulatorOptions } from '../sim/recraft.js';
import { newApiAsync, taskApi } from './helpers/async-dialects.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { postJson } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  describeBase64,
  describeImageAt,
  errorMessage,
  gatewayWith,
  keptAliveThenCompleted,
  partialImagesRefused,
  refusedKeyScenario,
  sdkGenerationStream,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'rk-test';

const recraft = vendorKit({
  kind: 'recraft',
  key: KEY,
  start: (opts: RecraftSimulatorOptions) => startRecraftSimulator({ apiKey: KEY, ...opts }),
  baseUrl: (sim) => sim.baseURL,
});

/** An SVG document whose root is <svg>: librsvg (through sharp) parses it as XML and reads its size. */
async function expectSvg(bytes: Buffer, width: number, height: number): Promise<void> {
  const text = bytes.toString('utf8');
  expect(text).toMatch(/^(?:<\?xml[^>]*\?>\s*)?<svg[\s>]/);
  expect(text.trimEnd().endsWith('</svg>')).toBe(true);
  const meta = await sharp(bytes).metadata();
  expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'svg', width, height });
}

describe('raster images through the official SDK', () => {
  it('images.generate on recraftv3 gives a real PNG of the size asked; Recraft is sent only its own fields', async () => {
    const { gw, sim } = await recraft.one();
    const answer = await gw.client.images.generate({
      model: 'recraftv3',
      prompt: 'a lighthouse at dusk',
      size: '1365x1024' as never,
      n: 2,
      response_format: 'b64_json',
      style: 'digital_illustration' as never,
    });
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) {
      expect(await describeBase64(image.b64_json)).toEqual({ format: 'png', width: 1365, height: 1024 });
    }
    expect(answer).toMatchObject({ size: '1365x1024', output_format: 'png' });
    expect(answer).not.toHaveProperty('quality');
    expect(sim.sim.generationBodies.at(-1)).toEqual({
      model: 'recraftv3',
      prompt: 'a lighthouse at dusk',
      n: 2,
      size: '1365x1024',
      response_format: 'b64_json',
      image_format: 'png',
      style: 'digital_illustration',
    });
  });

  it('url answers: Recraft links expire, so the image is stored and the link is the gateway’s', async () => {
    // Recraft answers url when the channel asks for it; its links die in 1.5 s here.
    const sim = await recraft.sim({ urlTtlMs: 1_500 });
    const gw = await gatewayWith([recraft.channel('recraft', sim, { model_map: { recraftv4: { params: { response_format: 'url' } } } })]);
    const answer = await gw.client.images.generate({ model: 'recraftv4', prompt: 'two race cars on a track', size: '1344x768' as never });
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ model: 'recraftv4', response_format: 'url', size: '1344x768' });
    const upstreamLink = sim.sim.answeredUrls.at(-1) ?? '';
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect((await fetch(upstreamLink)).status).toBe(404);
    const link = answer.data?.[0]?.url ?? '';
    expect(link.startsWith(gw.origin)).toBe(true);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'png', width: 1344, height: 768 });
  });

  it('output_format webp is Recraft’s image_format', async () => {
    const { gw, sim } = await recraft.one();
    const answer = await gw.client.images.generate({ model: 'recraftv4_1', prompt: 'a fox', output_format: 'webp', response_format: 'b64_json' } as never);
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ model: 'recraftv4_1', image_format: 'webp' });
    expect((await describeBase64((answer as { data: { b64_json: string }[] }).data[0]?.b64_json)).format).toBe('webp');
  });
});

describe('vector images are SVG', () => {
  it('a vector model and style: an SVG, served as image/svg+xml with a policy that runs no script', async () => {
    const { gw, sim } = await recraft.one();
    const answer = await gw.client.images.generate({
      model: 'recraftv3_vector',
      prompt: 'a fox <icon> & "friends"',
      style: 'vector_illustration' as never,
      size: '1024x1024',
    });
    expect(answer).toMatchObject({ output_format: 'svg' });
    expect(sim.sim.generationBodies.at(-1)).toEqual({
      model: 'recraftv3_vector',
      prompt: 'a fox <icon> & "friends"',
      n: 1,
      size: '1024x1024',
      response_format: 'b64_json',
      style: 'vector_illustration',
    });
    const link = answer.data?.[0]?.url ?? '';
    expect(link).toMatch(/\/files\/[A-Za-z0-9_-]+\.svg\?/);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/svg+xml');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    await expectSvg(Buffer.from(await res.arrayBuffer()), 1024, 1024);
  });

  it('b64_json of an SVG is the SVG text in base64', async () => {
    const { gw } = await recraft.one();
    const answer = await gw.client.images.generate({
      model: 'recraftv4_vector',
      prompt: 'cat on a mat',
      size: '1536x768' as never,
      response_format: 'b64_json',
    });
    expect(answer).toMatchObject({ output_format: 'svg', size: '1536x768' });
    await expectSvg(Buffer.from(answer.data?.[0]?.b64_json ?? '', 'base64'), 1536, 768);
  });

  it('output_format png on a vector model is a 400 naming output_format; a vector style on a raster model a 400 naming style', async () => {
    const { gw, sim } = await recraft.one();
    const png = await postJson(gw, '/v1/images/generations', { model: 'recraftv4_vector', prompt: 'cat', output_format: 'png' });
    expect(png.status).toBe(400);
    expect(png.json).toMatchObject({ error: { param: 'output_format', code: 'invalid_value' } });
    const style = await postJson(gw, '/v1/images/generations', { model: 'recraftv3', prompt: 'cat', style: 'vector_illustration' });
    expect(style.status).toBe(400);
    expect(style.json).toMatchObject({ error: { param: 'style', code: 'invalid_value' } });
    expect(sim.sim.generationBodies).toHaveLength(0);
  });

  it('an answer whose format is not the model’s (a PNG for a vector model) is an unusable answer, not a mislabelled image', async () => {
    const sim = await recraft.sim();
    // The channel maps the vector model onto a raster one: Recraft answers a PNG where an SVG was due.
    const gw = await gatewayWith([recraft.channel('recraft', sim, { model_map: { recraftv4_vector: 'recraftv4' } })], { IMAGEGATE_MAX_ATTEMPTS: '1' });
    const res = await postJson(gw, '/v1/images/generations', { model: 'recraftv4_vector', prompt: 'cat' });
    expect(sim.sim.generations).toBe(1);
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ error: { code: 'upstream_invalid_response' } });
  });
});

describe('the async dialects run Recraft models', () => {
  it("new-api's async dialect: submitted, then succeeded with the image's link", async () => {
    const { gw } = await recraft.one();
    const view = await newApiAsync(gw, { model: 'recraftv2_vector', prompt: 'an app icon', style: 'icon', size: '1024x1024' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    const image = await fetch(view?.image_urls[0] ?? '');
    expect(image.headers.get('content-type')).toBe('image/svg+xml');
    await expectSvg(Buffer.from(await image.arrayBuffer()), 1024, 1024);
  });

  it('the task API dialect: aspect_ratio becomes the nearest Recraft size, nsfw_checker Recraft’s block_nsfw', async () => {
    const { gw, sim } = await recraft.one();
    const view = await taskApi(gw, { model: 'recraftv3', prompt: 'a wide poster of a harbour', aspect_ratio: '16:9', nsfw_checker: true });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({ model: 'recraftv3', size: '1820x1024', block_nsfw: true });
    expect(await describeImageAt(view?.resultUrls?.[0])).toEqual({ format: 'png', width: 1820, height: 1024 });
  });
});

describe("Recraft's refusals and failures", () => {
  it('a safety refusal is the client’s 400 content_policy_violation with Recraft’s reason, not retried', async () => {
    const { gw, sim } = await recraft.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'recraftv3', prompt: 'something [sim:nsfw]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain('safety filter');
    expect(sim.sim.generationBodies).toHaveLength(1);
  });

  it('an account out of API units fails over to the next channel', async () => {
    const broke = await recraft.sim({ credits: 0 });
    const funded = await recraft.sim({ credits: 1000 });
    const gw = await gatewayWith([recraft.channel('broke', broke, { priority: 10 }), recraft.channel('funded', funded)]);
    const answer = await gw.client.images.generate({ model: 'recraftv3', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await describeBase64(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'png' });
    expect(broke.sim.generationBodies).toHaveLength(1);
    expect(broke.sim.generations).toBe(0);
    expect(funded.sim.generations).toBe(1);
    expect(funded.sim.credits).toBe(1000 - 40);
  });

  it('a 429 with Retry-After fails over too; with no other channel the client hears upstream_rate_limited', async () => {
    const busy = await recraft.sim();
    const spare = await recraft.sim();
    busy.sim.enqueueFault({ status: 429, code: 'too_many_requests', message: 'rate limit exceeded', retryAfterSeconds: 30 });
    const gw = await gatewayWith([recraft.channel('busy', busy, { priority: 10 }), recraft.channel('spare', spare)]);
    await gw.client.images.generate({ model: 'recraftv4', prompt: 'a harbour' });
    expect(spare.sim.generations).toBe(1);

    const alone = await recraft.sim();
    alone.sim.enqueueFault({ status: 429, text: 'too many requests' });
    const gwAlone = await gatewayWith([recraft.channel('alone', alone)], { IMAGEGATE_MAX_ATTEMPTS: '1' });
    const res = await postJson(gwAlone, '/v1/images/generations', { model: 'recraftv4', prompt: 'a harbour' });
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: { code: 'upstream_rate_limited' } });
  });

  it('a 401 (Recraft’s text/plain `request unauthorized`) disables that key; the next channel serves', async () => {
    const { good } = await refusedKeyScenario(recraft, {
      refusing: { apiKey: 'the-real-key' },
      model: 'recraftv3',
      served: (s) => s.sim.generations,
      asked: (s) => s.sim.requests.length,
    });
    expect(good.sim.generations).toBe(2);
  });
});

describe('stream: keep-alive while Recraft works, then a completed event per image', () => {
  const slow = () => recraft.one({ latencyMs: 600 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('recraftv3, n 2: keep-alive comments, then two completed events at the size asked; no stream field to Recraft', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'recraftv3', prompt: 'a harbour', size: '1365x1024', n: 2 });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', count: 2, size: '1365x1024', format: 'png' });
    expect(sim.sim.generationBodies).toHaveLength(1);
    expect(sim.sim.generationBodies[0]).toMatchObject({ model: 'recraftv3', n: 2, size: '1365x1024' });
    expect(sim.sim.generationBodies[0]).not.toHaveProperty('stream');
    await partialImagesRefused(gw, { model: 'recraftv3', prompt: 'a harbour', partial_images: 2 }, () => sim.sim.requests.length);
  });

  it('a vector model streams its SVG as the completed event', async () => {
    const { gw } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'recraftv4_vector', prompt: 'cat on a mat', size: '1536x768' });
    const [event] = await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '1536x768', format: 'svg' });
    await expectSvg(Buffer.from(event?.b64_json ?? '', 'base64'), 1536, 768);
  });
});

describe('what Recraft cannot do is refused, naming the field', () => {
  it.each([
    ['quality', { quality: 'hd' }],
    ['background', { background: 'transparent' }],
    ['output_compression', { output_compression: 50 }],
    ['moderation', { moderation: 'low' }],
  ])('%s: 400 unsupported_parameter (the catalogue: a Recraft model has none)', async (param, extra) => {
    const { gw, sim } = await recraft.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'recraftv3', prompt: 'a harbour', ...extra });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param, code: 'unsupported_parameter' } });
    expect(sim.sim.generationBodies).toHaveLength(0);
  });

  it('style on a V4 model, a mask, a field Recraft has no param for: 400 naming it; Recraft’s own fields go through', async () => {
    const { gw, sim } = await recraft.one();
    const v4Style = await postJson(gw, '/v1/images/generations', { model: 'recraftv4', prompt: 'a harbour', style: 'realistic_image' });
    expect(v4Style.json).toMatchObject({ error: { param: 'style', code: 'unsupported_parameter' } });
    const watermark = await postJson(gw, '/v1/images/generations', { model: 'recraftv3', prompt: 'a harbour', watermark: false });
    expect(watermark.status).toBe(400);
    expect(watermark.json).toMatchObject({ error: { param: 'watermark', code: 'unsupported_parameter' } });
    const seed = await postJson(gw, '/v1/images/generations', { model: 'recraftv3', prompt: 'a harbour', seed: 7 });
    expect(seed.status).toBe(400);
    expect(seed.json).toMatchObject({ error: { param: 'seed', code: 'unsupported_parameter' } });
    const form = new FormData();
    form.append('model', 'recraftv3');
    form.append('prompt', 'fill the sky');
    form.append(
      'image',
      new Blob(
        [
          await sharp({ create: { width: 64, height: 64, channels: 4, background: '#abc' } })
            .png()
            .toBuffer(),
        ],
        { type: 'image/png' },
      ),
      'in.png',
    );
    const edit = await fetch(`${gw.baseURL}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, body: form });
    expect(edit.status).toBe(400);
    expect(((await edit.json()) as { error: { param: string } }).error.param).toBe('model');
    expect(sim.sim.generationBodies).toHaveLength(0);

    await gw.client.images.generate({
      model: 'recraftv3',
      prompt: 'a harbour',
      style: 'realistic_image' as never,
      substyle: 'hdr',
      negative_prompt: 'people',
      controls: { colors: [{ rgb: [255, 120, 0] }], no_text: true },
    } as never);
    expect(sim.sim.generationBodies.at(-1)).toMatchObject({
      style: 'realistic_image',
      substyle: 'hdr',
      negative_prompt: 'people',
      controls: { colors: [{ rgb: [255, 120, 0] }], no_text: true },
    });
  });
});

describe('channels and vendors', () => {
  it('the admin API creates a recraft channel; only Recraft models reach it, only OpenAI models the openai channel', async () => {
    const openai = later(await startOpenAISimulator());
    const upstream = await recraft.sim();
    const gw = await gatewayWith([{ name: 'official', kind: 'openai', base_url: openai.baseURL, api_key: 'sk-up' }]);
    const created = await fetch(`${gw.origin}/admin/api/channels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'recraft-main', kind: 'recraft', base_url: upstream.baseURL, api_key: KEY }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ kind: 'recraft', base_url: upstream.baseURL });
    // Both channels serve `*`: each model still reaches its own vendor's API only.
    for (let i = 0; i < 4; i++) {
      await gw.client.images.generate({ model: 'recraftv4_1', prompt: `recraft ${i}` });
      await gw.client.images.generate({ model: 'dall-e-2', prompt: `openai ${i}`, size: '256x256' });
    }
    expect(upstream.sim.generationBodies.map((b) => b.model)).toEqual(['recraftv4_1', 'recraftv4_1', 'recraftv4_1', 'recraftv4_1']);
    expect(openai.sim.requests.filter((r) => r.path === '/v1/images/generations').map((r) => (r.json as { model: string }).model)).toEqual(
      Array(4).fill('dall-e-2'),
    );
  });

  it('a Recraft model with only an openai channel: 503 naming the vendor, nothing sent', async () => {
    const openai = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'official', kind: 'openai', base_url: openai.baseURL, api_key: 'sk-up' }]);
    const res = await postJson(gw, '/v1/images/generations', { model: 'recraftv3', prompt: 'a harbour' });
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: { code: 'no_available_channel' } });
    expect(errorMessage(res)).toContain('recraft');
    expect(openai.sim.requests.filter((r) => r.path.startsWith('/v1/images'))).toHaveLength(0);
  });
});
