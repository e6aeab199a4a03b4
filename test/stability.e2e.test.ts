/**
 * Stability AI as a vendor, end to end: the official `openai` SDK through the gateway to a
 * stability channel whose upstream is the Stability simulator (sim/stability.ts). Generations on
 * Ultra, Core and SD3.5 give real images of the size asked (Core's ~1.5 MP one reported as it is);
 * images.edit is SD3.5's and Ultra's image-to-image, stable-image-inpaint's masked edit (OpenAI's
 * transparent-is-edited mask sent as Stability's white-is-edited one) and
 * stable-image-search-and-replace's (search_prompt); the task dialects get a task. Safety refusals
 * (a 403 content_moderation, a CONTENT_FILTERED finish) are the client's 400
 * content_policy_violation and disable nothing; spent credits, a 429 and a refused key fail over;
 * Stability's 400 names the field; what Stability cannot do is a 400 before any call.
 */
import { toFile } from 'openai';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startStabilitySimulator, type StabilitySimulatorOptions } from '../sim/stability.js';
import { newApiAsync, taskApi } from './helpers/async-dialects.js';
import { closeAfterEach } from './helpers/cleanup.js';
import { postJson } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  describeBase64 as b64Image,
  describeImageAt,
  errorMessage,
  gatewayWith,
  leftHalfMask,
  plainPng,
  refusedKeyScenario,
  keptAliveThenCompleted,
  sdkEditStream,
  sdkGenerationStream,
  streamRefusedAndRefunded,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'sk-stability-test';

const stability = vendorKit({
  kind: 'stability',
  key: KEY,
  start: (opts: StabilitySimulatorOptions) => startStabilitySimulator({ apiKey: KEY, ...opts }),
  baseUrl: (sim) => sim.origin,
});

const png = (width: number, height: number) => plainPng(width, height);

describe('generations through the official SDK', () => {
  it('stable-image-ultra: real PNGs of the size asked, one call per image, the size as Stability’s aspect_ratio and style as style_preset', async () => {
    const { gw, sim } = await stability.one();
    const answer = await gw.client.images.generate({
      model: 'stable-image-ultra',
      prompt: 'a lighthouse on a cliff',
      size: '1344x768' as never,
      n: 2,
      response_format: 'b64_json',
      style: 'cinematic' as never,
      negative_prompt: 'fog',
      seed: 42,
      user: 'end-user-7',
    } as never);
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) expect(await b64Image(image.b64_json)).toEqual({ format: 'png', width: 1344, height: 768 });
    expect(answer).toMatchObject({ size: '1344x768', output_format: 'png' });
    expect(sim.sim.calls.map((c) => c.service)).toEqual(['ultra', 'ultra']);
    expect(sim.sim.forms.at(-1)).toEqual({
      prompt: 'a lighthouse on a cliff',
      aspect_ratio: '16:9',
      output_format: 'png',
      style_preset: 'cinematic',
      negative_prompt: 'fog',
      seed: '42',
    });
    const headers = sim.sim.calls.at(-1)?.headers ?? {};
    expect(headers.accept).toBe('image/*');
    expect(headers.authorization).toBe(`Bearer ${KEY}`);
    expect(headers['stability-client-user-id']).toBe('end-user-7');
    expect(headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
  });

  it('sd3.5 models: the model is a form field; webp is Stability’s output_format; url answers link to the gateway’s copy', async () => {
    const { gw, sim } = await stability.one();
    const answer = await gw.client.images.generate({
      model: 'sd3.5-large-turbo',
      prompt: 'a red bicycle',
      size: '832x1216' as never,
      output_format: 'webp',
    } as never);
    expect(sim.sim.forms.at(-1)).toEqual({ model: 'sd3.5-large-turbo', prompt: 'a red bicycle', aspect_ratio: '2:3', output_format: 'webp' });
    const link = (answer as { data: { url: string }[] }).data[0]?.url ?? '';
    expect(link.startsWith(gw.origin)).toBe(true);
    const res = await fetch(link);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'webp', width: 832, height: 1216 });

    await gw.client.images.generate({ model: 'sd3.5-flash', prompt: 'a blue bicycle', cfg_scale: 4 } as never);
    // No size: `auto`, Stability's default (1:1), so no aspect_ratio is sent.
    expect(sim.sim.forms.at(-1)).toEqual({ model: 'sd3.5-flash', prompt: 'a blue bicycle', output_format: 'png', cfg_scale: '4' });
  });

  it('stable-image-core makes about 1.5 megapixels: a size asked is what the client gets; auto is what Core made, reported', async () => {
    const { gw, sim } = await stability.one();
    const asked = await gw.client.images.generate({ model: 'stable-image-core', prompt: 'a fox', size: '1088x896' as never, response_format: 'b64_json' });
    expect(await b64Image(asked.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1088, height: 896 });
    expect(asked).toMatchObject({ size: '1088x896' });
    expect(sim.sim.forms.at(-1)).toEqual({ prompt: 'a fox', aspect_ratio: '5:4', output_format: 'png' });

    const auto = await gw.client.images.generate({ model: 'stable-image-core', prompt: 'a fox', response_format: 'b64_json' });
    expect(await b64Image(auto.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1280, height: 1280 });
    expect(auto).toMatchObject({ size: '1280x1280' });
    expect(sim.sim.forms.at(-1)).toEqual({ prompt: 'a fox', output_format: 'png' });
  });
});

describe('answers', () => {
  it('a channel whose headers ask Accept: application/json gets Stability’s JSON answer, read as well (a filtered one refused)', async () => {
    const sim = await stability.sim();
    const gw = await gatewayWith([stability.channel('json', sim, { headers: { accept: 'application/json' } })]);
    const answer = await gw.client.images.generate({ model: 'sd3.5-medium', prompt: 'a lantern', size: '896x1088' as never, response_format: 'b64_json' });
    expect(sim.sim.calls.at(-1)?.headers.accept).toBe('application/json');
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 896, height: 1088 });
    const auto = await gw.client.images.generate({ model: 'stable-image-core', prompt: 'a lantern', response_format: 'b64_json' });
    expect(auto).toMatchObject({ size: '1280x1280' });
    const filtered = await postJson(gw, '/v1/images/generations', { model: 'sd3.5-medium', prompt: 'a lantern [sim:filtered]' });
    expect(filtered.json).toMatchObject({ error: { code: 'content_policy_violation' } });
  });

  it('n 3 is three calls; when one of them fails, the images the others made are kept', async () => {
    const { gw, sim } = await stability.one();
    sim.sim.enqueueFault({ status: 500, name: 'internal_error', errors: ['An unexpected server error occurred'] });
    const answer = await gw.client.images.generate({ model: 'stable-image-core', prompt: 'three kites', size: '1024x1024', n: 3, response_format: 'b64_json' });
    expect(sim.sim.calls).toHaveLength(3);
    expect(answer.data).toHaveLength(2);
  });
});

describe('edits', () => {
  it('images.edit on sd3.5 is its image-to-image: image, mode and strength (the caller’s, else 0.7), no aspect_ratio; the answer in the input’s shape', async () => {
    const { gw, sim } = await stability.one();
    const answer = await gw.client.images.edit({
      model: 'sd3.5-medium',
      prompt: 'make it autumn',
      image: await toFile(await png(640, 448), 'park.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 640, height: 448 });
    expect(answer).toMatchObject({ size: '640x448' });
    const call = sim.sim.calls.at(-1);
    expect(call?.form?.fields).toEqual({ model: 'sd3.5-medium', prompt: 'make it autumn', mode: 'image-to-image', strength: '0.7', output_format: 'png' });
    expect(call?.form?.files.map((f) => [f.field, f.contentType])).toEqual([['image', 'image/png']]);

    await gw.client.images.edit({
      model: 'stable-image-ultra',
      prompt: 'make it winter',
      image: await toFile(await png(640, 448), 'park.png', { type: 'image/png' }),
      strength: 0.3,
    } as never);
    expect(sim.sim.calls.at(-1)?.service).toBe('ultra');
    expect(sim.sim.forms.at(-1)).toEqual({ prompt: 'make it winter', strength: '0.3', output_format: 'png' });
  });

  it('stable-image-inpaint: the mask goes as Stability’s black and white, white where the client’s was transparent', async () => {
    const { gw, sim } = await stability.one();
    const answer = await gw.client.images.edit({
      model: 'stable-image-inpaint',
      prompt: 'a window in the wall',
      image: await toFile(await png(640, 480), 'wall.png', { type: 'image/png' }),
      mask: await toFile(await leftHalfMask(640, 480), 'mask.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 640, height: 480 });
    const call = sim.sim.calls.at(-1);
    expect(call?.service).toBe('inpaint');
    expect(call?.form?.fields).toEqual({ prompt: 'a window in the wall', output_format: 'png' });
    expect(call?.form?.files.map((f) => f.field)).toEqual(['image', 'mask']);
    const { data, info } = await sharp(call?.mask).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels === 1 || info.channels === 3]).toEqual([640, 480, true]);
    const at = (x: number, y: number) => data[(y * 640 + x) * info.channels];
    expect([at(10, 10), at(310, 470), at(330, 10), at(630, 470)]).toEqual([255, 255, 0, 0]);
  });

  it('stable-image-inpaint without a mask: the image’s own transparency is the edit area (Stability reads its alpha), no mask part', async () => {
    const { gw, sim } = await stability.one();
    const answer = await gw.client.images.edit({
      model: 'stable-image-inpaint',
      prompt: 'a door',
      image: await toFile(await leftHalfMask(512, 384), 'holey.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 512, height: 384 });
    expect(sim.sim.calls.at(-1)?.form?.files.map((f) => f.field)).toEqual(['image']);
  });

  it('stable-image-search-and-replace takes search_prompt; without it (or without an image) a 400 naming it, nothing sent', async () => {
    const { gw, sim } = await stability.one();
    const image = await png(512, 512);
    const missing = await gw.client.images
      .edit({ model: 'stable-image-search-and-replace', prompt: 'a golden retriever', image: await toFile(image, 'in.png', { type: 'image/png' }) })
      .catch((err: unknown) => err);
    expect(missing).toMatchObject({ status: 400, param: 'search_prompt', code: 'missing_required_parameter' });
    const bare = await postJson(gw, '/v1/images/generations', { model: 'stable-image-search-and-replace', prompt: 'a dog', search_prompt: 'cat' });
    expect(bare.json).toMatchObject({ error: { param: 'image', code: 'missing_required_parameter' } });
    expect(sim.sim.calls).toHaveLength(0);

    const answer = await gw.client.images.edit({
      model: 'stable-image-search-and-replace',
      prompt: 'a golden retriever',
      search_prompt: 'cat',
      image: await toFile(image, 'in.png', { type: 'image/png' }),
      output_format: 'jpeg',
      response_format: 'b64_json',
    } as never);
    expect(await b64Image((answer as { data: { b64_json: string }[] }).data[0]?.b64_json)).toEqual({ format: 'jpeg', width: 512, height: 512 });
    expect(sim.sim.calls.at(-1)?.service).toBe('search-and-replace');
    expect(sim.sim.forms.at(-1)).toEqual({ prompt: 'a golden retriever', search_prompt: 'cat', output_format: 'jpeg' });
  });
});

describe('stream: keep-alive while Stability works, then a completed event per image', () => {
  const slow = () => stability.one({ latencyMs: 600 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('stable-image-ultra, n 2: keep-alive comments, then two completed events, each at the size asked', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'stable-image-ultra', prompt: 'a lighthouse', size: '1344x768', n: 2 });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', count: 2, size: '1344x768', format: 'png' });
    expect(sim.sim.generations).toBe(2);
  });

  it('an inpaint streams image_edit.completed, in the input’s shape and the format asked', async () => {
    const { gw } = await slow();
    const stream = await sdkEditStream(gw, {
      model: 'stable-image-inpaint',
      prompt: 'a window in the wall',
      image: await png(640, 480),
      mask: await leftHalfMask(640, 480),
      output_format: 'webp',
    });
    await keptAliveThenCompleted(stream, { type: 'image_edit.completed', format: 'webp', decodesTo: { width: 640, height: 480 } });
  });

  it('a CONTENT_FILTERED answer after the stream opened: its error event, the credits back', async () => {
    const { gw, sim } = await slow();
    await streamRefusedAndRefunded(gw, { model: 'sd3.5-large', prompt: 'something [sim:filtered]' }, () => sim.sim.calls.length);
  });
});

describe('the task dialects get a task', () => {
  it('the task API: aspect_ratio 16:9 is Stability’s 16:9, the image stored and linked', async () => {
    const { gw, sim } = await stability.one();
    const view = await taskApi(gw, { model: 'sd3.5-large', prompt: 'a wide harbour at dawn', aspect_ratio: '16:9' });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.forms.at(-1)).toMatchObject({ model: 'sd3.5-large', aspect_ratio: '16:9' });
    expect(await describeImageAt(view?.resultUrls?.[0])).toEqual({ format: 'png', width: 1344, height: 768 });
  });

  it("new-api's async dialect: submitted, then succeeded", async () => {
    const { gw, sim } = await stability.one();
    const view = await newApiAsync(gw, { model: 'stable-image-core', prompt: 'a kite', size: '1216x832' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(sim.sim.generations).toBe(1);
    const image = await fetch(view?.image_urls[0] ?? '');
    expect((await describeImage(Buffer.from(await image.arrayBuffer()))).format).toBe('png');
  });
});

describe("Stability's refusals and failures", () => {
  it('a 403 content_moderation is the client’s 400 content_policy_violation with Stability’s reason; the key stays enabled', async () => {
    const { gw, sim } = await stability.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'stable-image-ultra', prompt: 'something [sim:moderation]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain('content moderation');
    expect(sim.sim.calls).toHaveLength(1);
    await gw.client.images.generate({ model: 'stable-image-ultra', prompt: 'a calm lake' });
    expect(sim.sim.generations).toBe(1);
  });

  it('a CONTENT_FILTERED finish is a 400 content_policy_violation, never an image', async () => {
    const { gw, sim } = await stability.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'sd3.5-large', prompt: 'something [sim:filtered]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(errorMessage(res)).toContain('CONTENT_FILTERED');
    expect(sim.sim.generations).toBe(1);
  });

  it('Stability’s 400 names the field in the client’s terms; a 413 is the client’s image_too_large', async () => {
    const { gw, sim } = await stability.one();
    sim.sim.enqueueFault({ status: 400, name: 'bad_request', errors: ['aspect_ratio: must be one of 16:9, 1:1'] });
    const bad = await postJson(gw, '/v1/images/generations', { model: 'sd3.5-large', prompt: 'a boat' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { param: 'size', code: 'bad_request', message: 'aspect_ratio: must be one of 16:9, 1:1' } });
    sim.sim.enqueueFault({ status: 413, name: 'payload_too_large', errors: ['body: payloads cannot be larger than 10MiB in size'] });
    const big = await postJson(gw, '/v1/images/generations', { model: 'sd3.5-large', prompt: 'a boat' });
    expect(big.status).toBe(400);
    expect(big.json).toMatchObject({ error: { param: 'image', code: 'image_too_large' } });
    expect(sim.sim.calls).toHaveLength(2);
  });

  it('an account out of credits (402) fails over to the next channel', async () => {
    const broke = await stability.sim({ credits: 2 });
    const funded = await stability.sim({ credits: 100 });
    const gw = await gatewayWith([stability.channel('broke', broke, { priority: 10 }), stability.channel('funded', funded)]);
    const answer = await gw.client.images.generate({ model: 'stable-image-ultra', prompt: 'a harbour', response_format: 'b64_json' });
    expect((await b64Image(answer.data?.[0]?.b64_json)).format).toBe('png');
    expect(broke.sim.calls).toHaveLength(1);
    expect(broke.sim.generations).toBe(0);
    expect(funded.sim.credits).toBe(100 - 8);
  });

  it('a 429 with Retry-After fails over; alone, the client hears upstream_rate_limited', async () => {
    const busy = await stability.sim();
    const spare = await stability.sim();
    busy.sim.enqueueFault({ status: 429, name: 'rate_limit_exceeded', errors: ['You have exceeded the rate limit'], retryAfterSeconds: 10 });
    const gw = await gatewayWith([stability.channel('busy', busy, { priority: 10 }), stability.channel('spare', spare)]);
    await gw.client.images.generate({ model: 'stable-image-core', prompt: 'a harbour' });
    expect(spare.sim.generations).toBe(1);

    const alone = await stability.sim();
    alone.sim.enqueueFault({ status: 429, name: 'rate_limit_exceeded', errors: ['slow down'] });
    const gwAlone = await gatewayWith([stability.channel('alone', alone)], { IMAGEGATE_MAX_ATTEMPTS: '1' });
    const res = await postJson(gwAlone, '/v1/images/generations', { model: 'stable-image-core', prompt: 'a harbour' });
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: { code: 'upstream_rate_limited' } });
  });

  it('a 401 disables that key; the next channel serves and the disabled one is not tried again', async () => {
    await refusedKeyScenario(stability, {
      refusing: { apiKey: 'the-real-key' },
      model: 'sd3.5-medium',
      served: (s) => s.sim.generations,
      asked: (s) => s.sim.calls.length,
    });
  });
});

describe('what Stability cannot do is refused before any call, naming the field', () => {
  it.each([
    ['size', { model: 'sd3.5-large', size: '1024x1536' }, 'invalid_value'],
    ['quality', { model: 'sd3.5-large', quality: 'high' }, 'unsupported_parameter'],
    ['background', { model: 'stable-image-ultra', background: 'transparent' }, 'unsupported_parameter'],
    ['output_compression', { model: 'stable-image-core', output_format: 'jpeg', output_compression: 50 }, 'unsupported_parameter'],
    ['partial_images', { model: 'stable-image-ultra', stream: true, partial_images: 1 }, 'invalid_value'],
    ['style', { model: 'sd3.5-large', style: 'anime' }, 'unsupported_parameter'],
    ['style', { model: 'stable-image-core', style: 'watercolour' }, 'invalid_value'],
    ['steps', { model: 'sd3.5-large', steps: 30 }, 'unsupported_parameter'],
    ['strength', { model: 'stable-image-ultra', strength: 0.5 }, 'unsupported_parameter'],
    ['n', { model: 'stable-image-ultra', n: 5 }, 'invalid_value'],
  ])('%s: 400', async (param, body, code) => {
    const { gw, sim } = await stability.one();
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'a harbour', ...body });
    expect(res.status, res.text).toBe(400);
    expect(res.json).toMatchObject({ error: { param, code } });
    expect(sim.sim.calls).toHaveLength(0);
  });

  it('a mask on a generation model is stable-image-inpaint’s; Core takes no input image', async () => {
    const { gw, sim } = await stability.one();
    const masked = await gw.client.images
      .edit({
        model: 'stable-image-ultra',
        prompt: 'fill the sky',
        image: await toFile(await png(512, 512), 'in.png', { type: 'image/png' }),
        mask: await toFile(await leftHalfMask(512, 512), 'mask.png', { type: 'image/png' }),
      })
      .catch((err: unknown) => err);
    expect(masked).toMatchObject({ status: 400, param: 'mask', code: 'unsupported_parameter' });
    expect(String((masked as Error).message)).toContain('stable-image-inpaint');
    const core = await gw.client.images
      .edit({ model: 'stable-image-core', prompt: 'fill the sky', image: await toFile(await png(512, 512), 'in.png', { type: 'image/png' }) })
      .catch((err: unknown) => err);
    expect(core).toMatchObject({ status: 400 });
    expect(sim.sim.calls).toHaveLength(0);
  });
});
