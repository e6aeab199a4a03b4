/**
 * Alibaba DashScope as a vendor, end to end: the official `openai` SDK through the gateway to a
 * dashscope channel whose upstream is the DashScope simulator (sim/dashscope.ts). Qwen-Image is
 * DashScope's synchronous multimodal-generation call (one call per image); Wan its asynchronous
 * image-synthesis task, submitted then polled, inside the request for the OpenAI dialect and by
 * the task worker for the async dialects, whose stored upstream task id is resumed after a
 * restart and never submitted again. Qwen-Image Edit takes the caller's image as a data URI. A
 * safety refusal (at once or in a task) is the client's 400 content_policy_violation with
 * DashScope's message; Arrearage and Throttling fail over; InvalidApiKey disables the key; what
 * DashScope cannot do is a 400 unsupported_parameter naming the field.
 */
import { toFile } from 'openai';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulatorOptions } from '../sim/dashscope.js';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { newApiAsync, newApiTask, taskApi } from './helpers/async-dialects.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { postJson, startGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  clearPng,
  describeBase64 as b64Image,
  describeImageAt,
  errorMessage,
  gatewayWith,
  keptAliveThenCompleted,
  leftHalfMask,
  partialImagesRefused,
  plainPng,
  sdkEditStream,
  sdkGenerationStream,
  sharedDatabaseEnv,
  storedUpstreamId,
  streamRefusedAndRefunded,
  submitNewApiTask,
  refusedKeyScenario,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'sk-dashscope-test';

const dashscope = vendorKit({
  kind: 'dashscope',
  key: KEY,
  start: (opts: DashScopeSimulatorOptions) => startDashScopeSimulator({ apiKey: KEY, ...opts }),
  baseUrl: (sim) => sim.origin,
  channel: { poll_interval: 0.05 },
});

/** A plain PNG; with `alpha`, one whose transparency could mark an edit (a well-formed mask). */
const png = (width: number, height: number, alpha = false) => (alpha ? clearPng(width, height) : plainPng(width, height));

describe('Qwen-Image: the synchronous multimodal-generation call', () => {
  it('images.generate gives real PNGs of the size asked; n 2 is two DashScope calls of one image; DashScope gets W*H and its own fields', async () => {
    const { gw, sim } = await dashscope.one();
    const answer = await gw.client.images.generate({
      model: 'qwen-image',
      prompt: 'a tea house sign that reads 茶',
      size: '1664x928' as never,
      n: 2,
      response_format: 'b64_json',
      seed: 42,
      negative_prompt: 'blurry',
      prompt_extend: false,
    } as never);
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) expect(await b64Image(image.b64_json)).toEqual({ format: 'png', width: 1664, height: 928 });
    expect(answer).toMatchObject({ size: '1664x928', output_format: 'png' });
    expect(sim.sim.generations).toBe(2);
    const sent = sim.sim.bodies('multimodal');
    expect(sent).toHaveLength(2);
    expect(sent[0]).toEqual({
      model: 'qwen-image',
      input: { messages: [{ role: 'user', content: [{ text: 'a tea house sign that reads 茶' }] }] },
      parameters: { n: 1, size: '1664*928', watermark: false, negative_prompt: 'blurry', seed: 42, prompt_extend: false },
    });
  });

  it('output_format webp: DashScope answers PNG, the gateway converts; the url answer is the gateway’s link, DashScope’s has expired', async () => {
    const { gw, sim } = await dashscope.one({ urlTtlMs: 1_000 });
    const webp = await gw.client.images.generate({ model: 'qwen-image-plus', prompt: 'a fox', output_format: 'webp', response_format: 'b64_json' } as never);
    expect(await b64Image((webp as { data: { b64_json: string }[] }).data[0]?.b64_json)).toEqual({ format: 'webp', width: 1328, height: 1328 });

    const answer = await gw.client.images.generate({ model: 'qwen-image-plus', prompt: 'a harbour at dawn', size: '928x1664' as never });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await fetch(sim.sim.answeredUrls.at(-1) ?? '')).status).toBe(404);
    const link = answer.data?.[0]?.url ?? '';
    expect(link.startsWith(gw.origin)).toBe(true);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'png', width: 928, height: 1664 });
  });
});

describe('Qwen-Image Edit: the input image as a data URI', () => {
  it('images.edit sends the image then the prompt; the answer has the input’s shape', async () => {
    const { gw, sim } = await dashscope.one();
    const answer = await gw.client.images.edit({
      model: 'qwen-image-edit',
      prompt: 'put a red hat on the cat',
      image: await toFile(await png(640, 480), 'cat.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 640, height: 480 });
    const body = sim.sim.bodies('multimodal').at(-1) as { input: { messages: { content: Record<string, string>[] }[] }; parameters: unknown };
    const content = body.input.messages[0]?.content ?? [];
    expect(content).toHaveLength(2);
    expect(content[0]?.image).toMatch(/^data:image\/png;base64,/);
    expect(content[1]).toEqual({ text: 'put a red hat on the cat' });
    expect(body.parameters).toEqual({ n: 1, watermark: false });
  });

  it('a mask is 400 unsupported_parameter naming mask; an edit model without an image is 400 naming image; nothing is sent', async () => {
    const { gw, sim } = await dashscope.one();
    const masked = await gw.client.images
      .edit({
        model: 'qwen-image-edit-plus',
        prompt: 'fill the sky',
        image: await toFile(await png(512, 512), 'in.png', { type: 'image/png' }),
        mask: await toFile(await png(512, 512, true), 'mask.png', { type: 'image/png' }),
      })
      .catch((err: unknown) => err);
    expect(masked).toMatchObject({ status: 400, param: 'mask', code: 'unsupported_parameter' });
    const bare = await postJson(gw, '/v1/images/generations', { model: 'qwen-image-edit', prompt: 'a cat' });
    expect(bare.status).toBe(400);
    expect(bare.json).toMatchObject({ error: { param: 'image', code: 'missing_required_parameter' } });
    expect(sim.sim.requests).toHaveLength(0);
  });
});

describe("Wan's image editor (wanx2.1-imageedit): a task on image2image", () => {
  it('an edit with a mask is an inpainting; the mask goes as DashScope’s black and white, white where it was transparent', async () => {
    const { gw, sim } = await dashscope.one();
    const mask = await leftHalfMask(640, 480);
    const answer = await gw.client.images.edit({
      model: 'wanx2.1-imageedit',
      prompt: 'a window in the wall',
      image: await toFile(await png(640, 480), 'wall.png', { type: 'image/png' }),
      mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
      n: 2,
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) expect(await b64Image(image.b64_json)).toEqual({ format: 'png', width: 640, height: 480 });
    expect(sim.sim.submits).toBe(1);
    const body = sim.sim.bodies('image2image').at(-1) as { input: Record<string, string>; parameters: unknown };
    expect(body.input.function).toBe('description_edit_with_mask');
    expect(body.input.prompt).toBe('a window in the wall');
    expect(body.input.base_image_url).toMatch(/^data:image\/png;base64,/);
    expect(body.parameters).toEqual({ n: 2, watermark: false });
    const sentMask = Buffer.from((body.input.mask_image_url ?? '').replace(/^data:image\/png;base64,/, ''), 'base64');
    const { data, info } = await sharp(sentMask).raw().toBuffer({ resolveWithObject: true });
    // Grey or RGB, without alpha: white on the left half (transparent in the client's mask), black on the right.
    expect([info.width, info.height, info.channels === 1 || info.channels === 3]).toEqual([640, 480, true]);
    const at = (x: number, y: number) => data[(y * 640 + x) * info.channels];
    expect([at(10, 10), at(310, 470), at(330, 10), at(630, 470)]).toEqual([255, 255, 0, 0]);
  });

  it('without a mask it is an instruction edit (description_edit)', async () => {
    const { gw, sim } = await dashscope.one();
    await gw.client.images.edit({
      model: 'wanx2.1-imageedit',
      prompt: 'make it autumn',
      image: await toFile(await png(512, 512), 'in.png', { type: 'image/png' }),
    });
    const input = (sim.sim.bodies('image2image').at(-1) as { input: Record<string, unknown> }).input;
    expect(input.function).toBe('description_edit');
    expect(input).not.toHaveProperty('mask_image_url');
  });
});

describe('Wan: the asynchronous image-synthesis task', () => {
  it('images.generate (the OpenAI dialect) submits once and polls within the request; the images are of the size asked', async () => {
    const { gw, sim } = await dashscope.one({ taskDurationMs: 300 });
    const answer = await gw.client.images.generate({
      model: 'wan2.2-t2i-flash',
      prompt: 'a paper boat on a lake',
      size: '1280x720' as never,
      n: 2,
      response_format: 'b64_json',
      negative_prompt: 'people',
      seed: 7,
    } as never);
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) expect(await b64Image(image.b64_json)).toEqual({ format: 'png', width: 1280, height: 720 });
    expect(sim.sim.submits).toBe(1);
    expect(sim.sim.polls).toBeGreaterThanOrEqual(1);
    expect(sim.sim.bodies('text2image')).toEqual([
      {
        model: 'wan2.2-t2i-flash',
        input: { prompt: 'a paper boat on a lake', negative_prompt: 'people' },
        parameters: { n: 2, size: '1280*720', watermark: false, seed: 7 },
      },
    ]);
    const submit = sim.sim.requests.find((r) => r.method === 'POST');
    expect(submit?.headers['x-dashscope-async']).toBe('enable');
    expect(submit?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it("new-api's async dialect: the task is submitted, polled and succeeds with the image's link", async () => {
    const { gw, sim } = await dashscope.one();
    const view = await newApiAsync(gw, { model: 'wan2.5-t2i-preview', prompt: 'a city of glass', size: '1696x960' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'png', width: 1696, height: 960 });
    expect(sim.sim.submits).toBe(1);
  });

  it('the task API dialect: aspect_ratio 9:16 is the nearest Wan size, its seed DashScope’s', async () => {
    const { gw, sim } = await dashscope.one();
    const view = await taskApi(gw, { model: 'wanx2.1-t2i-turbo', prompt: 'a tall lighthouse', aspect_ratio: '9:16', seed: 11 });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.bodies('text2image').at(-1)).toMatchObject({ model: 'wanx2.1-t2i-turbo', parameters: { size: '720*1280', seed: 11 } });
    expect(await describeImageAt(view?.resultUrls?.[0])).toEqual({ format: 'png', width: 720, height: 1280 });
  });

  it('a gateway stopped while the DashScope task is pending: a new gateway on the same database resumes the stored task id, never submitting again', async () => {
    const sim = await dashscope.sim();
    sim.sim.hold();
    const env = await sharedDatabaseEnv([dashscope.channel('dashscope', sim)]);
    const first = await startGateway(env);
    const id = await submitNewApiTask(first, { model: 'wan2.2-t2i-plus', prompt: 'a slow sunrise' });
    await expect.poll(() => storedUpstreamId(first.origin, id), { timeout: 10_000 }).toBeTruthy();
    const upstreamTaskId = await storedUpstreamId(first.origin, id);
    await expect.poll(() => sim.sim.polls, { timeout: 10_000 }).toBeGreaterThan(0);
    await first.close();
    expect(sim.sim.submits).toBe(1);

    sim.sim.release();
    const pollsBefore = sim.sim.polls;
    const second = later(await startGateway(env));
    const view = await newApiTask(second, id, first.apiKey);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(sim.sim.submits).toBe(1);
    expect(sim.sim.polls).toBeGreaterThan(pollsBefore);
    expect(sim.sim.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/tasks/')).at(-1)?.path).toBe(`/api/v1/tasks/${upstreamTaskId}`);
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'png', width: 1024, height: 1024 });
  }, 60_000);
});

describe('stream: keep-alive while DashScope works, then a completed event per image', () => {
  const slow = () => dashscope.one({ taskDurationMs: 600, syncLatencyMs: 600 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('qwen-image (the synchronous call): keep-alive comments while DashScope answers, then the completed event at the size asked', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'qwen-image', prompt: 'a paper lantern', size: '1664x928' });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '1664x928', format: 'png' });
    expect(sim.sim.generations).toBe(1);
    expect(sim.sim.bodies('multimodal')).toEqual([
      {
        model: 'qwen-image',
        input: { messages: [{ role: 'user', content: [{ text: 'a paper lantern' }] }] },
        parameters: { n: 1, size: '1664*928', watermark: false },
      },
    ]);
  });

  it('wan2.2-t2i-flash, n 2: keep-alive comments while the task runs, then two completed events at the size asked', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'wan2.2-t2i-flash', prompt: 'a paper boat', size: '1280x720', n: 2 });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', count: 2, size: '1280x720', format: 'png' });
    expect(sim.sim.submits).toBe(1);
    expect(sim.sim.bodies('text2image')).toEqual([
      { model: 'wan2.2-t2i-flash', input: { prompt: 'a paper boat' }, parameters: { n: 2, size: '1280*720', watermark: false } },
    ]);
    await partialImagesRefused(gw, { model: 'qwen-image', prompt: 'a paper boat', partial_images: 1 }, () => sim.sim.requests.length);
  });

  it('wanx2.1-imageedit streams image_edit.completed in the input’s shape, the format asked', async () => {
    const { gw } = await slow();
    const stream = await sdkEditStream(gw, { model: 'wanx2.1-imageedit', prompt: 'make it autumn', image: await png(640, 480), output_format: 'webp' });
    await keptAliveThenCompleted(stream, { type: 'image_edit.completed', format: 'webp', decodesTo: { width: 640, height: 480 } });
  });

  it('a Wan task failing its output check after the stream opened: its error event, the credits back', async () => {
    const { gw, sim } = await slow();
    await streamRefusedAndRefunded(gw, { model: 'wan2.2-t2i-flash', prompt: 'a scene [sim:unsafe-output]' }, () => sim.sim.submits);
  });
});

describe("DashScope's refusals and failures", () => {
  it('a safety refusal (DataInspectionFailed) is the client’s 400 content_policy_violation with DashScope’s message, not retried', async () => {
    const { gw, sim } = await dashscope.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'qwen-image', prompt: 'something [sim:unsafe]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain('inappropriate content');
    expect(sim.sim.bodies('multimodal')).toHaveLength(1);
  });

  it('a Wan task that fails its output check is a content_policy_violation too, submitted once', async () => {
    const { gw, sim } = await dashscope.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'wan2.2-t2i-flash', prompt: 'a scene [sim:unsafe-output]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(errorMessage(res)).toContain('Output data may contain inappropriate content');
    expect(sim.sim.submits).toBe(1);
  });

  it('Arrearage (an overdue account) and Throttling.RateQuota fail over to the next channel', async () => {
    const overdue = await dashscope.sim();
    const busy = await dashscope.sim();
    const spare = await dashscope.sim();
    overdue.sim.enqueueFault({ status: 400, code: 'Arrearage', message: 'Access denied, please make sure your account is in good standing.' });
    busy.sim.enqueueFault({ status: 429, code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded, please try again later.' });
    const gw = await gatewayWith([
      dashscope.channel('overdue', overdue, { priority: 20 }),
      dashscope.channel('busy', busy, { priority: 10 }),
      dashscope.channel('spare', spare),
    ]);
    const answer = await gw.client.images.generate({ model: 'qwen-image', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'png' });
    expect([overdue.sim.bodies('multimodal').length, overdue.sim.generations]).toEqual([1, 0]);
    expect([busy.sim.bodies('multimodal').length, busy.sim.generations]).toEqual([1, 0]);
    expect(spare.sim.generations).toBe(1);
  });

  it('InvalidApiKey disables that key; the next channel serves and the bad one is not tried again', async () => {
    await refusedKeyScenario(dashscope, {
      refusing: { apiKey: 'sk-the-real-key' },
      model: 'wan2.2-t2i-flash',
      againModel: 'qwen-image',
      served: (s) => s.sim.submits,
      asked: (s) => s.sim.requests.length,
    });
  });
});

describe('what DashScope cannot do is refused, naming the field', () => {
  it.each([
    ['quality', { quality: 'hd' }],
    ['background', { background: 'transparent' }],
    ['style', { style: 'vivid' }],
    ['moderation', { moderation: 'low' }],
    ['metadata', { metadata: { team: 'a' } }],
    ['guidance_scale', { guidance_scale: 5 }],
  ])('%s: 400 unsupported_parameter, nothing sent', async (param, extra) => {
    const { gw, sim } = await dashscope.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'qwen-image', prompt: 'a harbour', ...extra });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param, code: 'unsupported_parameter' } });
    expect(sim.sim.requests).toHaveLength(0);
  });

  it('a DashScope model with only an openai channel: 503 naming the vendor, nothing sent', async () => {
    const openai = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'official', kind: 'openai', base_url: openai.baseURL, api_key: 'sk-up' }]);
    const res = await postJson(gw, '/v1/images/generations', { model: 'qwen-image', prompt: 'a harbour' });
    expect(res.status).toBe(503);
    expect(errorMessage(res)).toContain('dashscope');
    expect(openai.sim.requests.filter((r) => r.path.startsWith('/v1/images'))).toHaveLength(0);
  });
});
