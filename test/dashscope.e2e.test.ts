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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toFile } from 'openai';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulatorOptions, type RunningDashScopeSimulator } from '../sim/dashscope.js';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { newApiAsync, newApiTask, taskApi } from './helpers/async-dialects.js';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';

closeAfterEach();

const KEY = 'sk-dashscope-test';

function dashscopeChannel(name: string, sim: RunningDashScopeSimulator, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, kind: 'dashscope', base_url: sim.origin, api_key: KEY, poll_interval: 0.05, ...extra };
}

async function dashscopeSim(opts: DashScopeSimulatorOptions = {}): Promise<RunningDashScopeSimulator> {
  return later(await startDashScopeSimulator({ apiKey: KEY, ...opts }));
}

async function gatewayWith(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TASK_POLL: '50ms', ...env }));
}

async function oneDashScope(opts: DashScopeSimulatorOptions = {}): Promise<{ gw: TestGateway; sim: RunningDashScopeSimulator }> {
  const sim = await dashscopeSim(opts);
  const gw = await gatewayWith([dashscopeChannel('dashscope', sim)]);
  return { gw, sim };
}

const b64Image = (b64: string | undefined) => describeImage(Buffer.from(b64 ?? '', 'base64'));

/** A plain PNG; with `alpha`, one whose transparency could mark an edit (a well-formed mask). */
async function png(width: number, height: number, alpha = false): Promise<Buffer> {
  return sharp({ create: { width, height, channels: alpha ? 4 : 3, background: alpha ? { r: 0, g: 0, b: 0, alpha: 0 } : '#3a7' } })
    .png()
    .toBuffer();
}

describe('Qwen-Image: the synchronous multimodal-generation call', () => {
  it('images.generate gives real PNGs of the size asked; n 2 is two DashScope calls of one image; DashScope gets W*H and its own fields', async () => {
    const { gw, sim } = await oneDashScope();
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
    const { gw, sim } = await oneDashScope({ urlTtlMs: 1_000 });
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
    const { gw, sim } = await oneDashScope();
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
    const { gw, sim } = await oneDashScope();
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
    const { gw, sim } = await oneDashScope();
    // The client's mask: transparent on the left half (edit there), opaque on the right.
    const rgba = Buffer.alloc(640 * 480 * 4);
    for (let i = 0; i < 640 * 480; i++) rgba[i * 4 + 3] = i % 640 < 320 ? 0 : 255;
    const mask = await sharp(rgba, { raw: { width: 640, height: 480, channels: 4 } })
      .png()
      .toBuffer();
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
    const { gw, sim } = await oneDashScope();
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
    const { gw, sim } = await oneDashScope({ taskDurationMs: 300 });
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
    const { gw, sim } = await oneDashScope();
    const view = await newApiAsync(gw, { model: 'wan2.5-t2i-preview', prompt: 'a city of glass', size: '1696x960' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    const image = await fetch(view?.image_urls[0] ?? '');
    expect(await describeImage(Buffer.from(await image.arrayBuffer()))).toEqual({ format: 'png', width: 1696, height: 960 });
    expect(sim.sim.submits).toBe(1);
  });

  it('the task API dialect: aspect_ratio 9:16 is the nearest Wan size, its seed DashScope’s', async () => {
    const { gw, sim } = await oneDashScope();
    const view = await taskApi(gw, { model: 'wanx2.1-t2i-turbo', prompt: 'a tall lighthouse', aspect_ratio: '9:16', seed: 11 });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.bodies('text2image').at(-1)).toMatchObject({ model: 'wanx2.1-t2i-turbo', parameters: { size: '720*1280', seed: 11 } });
    const image = await fetch(view?.resultUrls?.[0] ?? '');
    expect(await describeImage(Buffer.from(await image.arrayBuffer()))).toEqual({ format: 'png', width: 720, height: 1280 });
  });

  it('a gateway stopped while the DashScope task is pending: a new gateway on the same database resumes the stored task id, never submitting again', async () => {
    const sim = await dashscopeSim();
    sim.sim.hold();
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-dashscope-restart-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const config = await writeConfigFile({ channels: [dashscopeChannel('dashscope', sim)] });
    const env = { IMAGEGATE_CONFIG: config, IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TASK_POLL: '50ms' };
    const first = await startGateway(env);
    const submitted = await postJson(
      first,
      '/v1/images/generations',
      { model: 'wan2.2-t2i-plus', prompt: 'a slow sunrise' },
      { 'x-new-api-async-task': 'true' },
    );
    const id = String((submitted.json?.data as { task_id: string }).task_id);
    const stored = async () => (await adminJson(first.origin, 'GET', `/admin/api/tasks/${id}`)).upstream_task_id;
    await expect.poll(stored, { timeout: 10_000 }).toBeTruthy();
    const upstreamTaskId = String(await stored());
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
    const image = await fetch(view?.image_urls[0] ?? '');
    expect(await describeImage(Buffer.from(await image.arrayBuffer()))).toEqual({ format: 'png', width: 1024, height: 1024 });
  }, 60_000);
});

describe("DashScope's refusals and failures", () => {
  it('a safety refusal (DataInspectionFailed) is the client’s 400 content_policy_violation with DashScope’s message, not retried', async () => {
    const { gw, sim } = await oneDashScope();
    const res = await postJson(gw, '/v1/images/generations', { model: 'qwen-image', prompt: 'something [sim:unsafe]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(String((res.json?.error as { message: string }).message)).toContain('inappropriate content');
    expect(sim.sim.bodies('multimodal')).toHaveLength(1);
  });

  it('a Wan task that fails its output check is a content_policy_violation too, submitted once', async () => {
    const { gw, sim } = await oneDashScope();
    const res = await postJson(gw, '/v1/images/generations', { model: 'wan2.2-t2i-flash', prompt: 'a scene [sim:unsafe-output]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(String((res.json?.error as { message: string }).message)).toContain('Output data may contain inappropriate content');
    expect(sim.sim.submits).toBe(1);
  });

  it('Arrearage (an overdue account) and Throttling.RateQuota fail over to the next channel', async () => {
    const overdue = await dashscopeSim();
    const busy = await dashscopeSim();
    const spare = await dashscopeSim();
    overdue.sim.enqueueFault({ status: 400, code: 'Arrearage', message: 'Access denied, please make sure your account is in good standing.' });
    busy.sim.enqueueFault({ status: 429, code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded, please try again later.' });
    const gw = await gatewayWith([
      dashscopeChannel('overdue', overdue, { priority: 20 }),
      dashscopeChannel('busy', busy, { priority: 10 }),
      dashscopeChannel('spare', spare),
    ]);
    const answer = await gw.client.images.generate({ model: 'qwen-image', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'png' });
    expect([overdue.sim.bodies('multimodal').length, overdue.sim.generations]).toEqual([1, 0]);
    expect([busy.sim.bodies('multimodal').length, busy.sim.generations]).toEqual([1, 0]);
    expect(spare.sim.generations).toBe(1);
  });

  it('InvalidApiKey disables that key; the next channel serves and the bad one is not tried again', async () => {
    const wrongKey = await dashscopeSim({ apiKey: 'sk-the-real-key' });
    const good = await dashscopeSim();
    const gw = await gatewayWith([dashscopeChannel('wrong-key', wrongKey, { priority: 10 }), dashscopeChannel('good', good)]);
    await gw.client.images.generate({ model: 'wan2.2-t2i-flash', prompt: 'a harbour' });
    expect(good.sim.submits).toBe(1);
    const channels = (await adminJson(gw.origin, 'GET', '/admin/api/channels')).data as {
      name: string;
      disabled_reason: string | null;
      api_keys: { disabled_reason: string | null }[];
    }[];
    const wrong = channels.find((c) => c.name === 'wrong-key');
    expect(wrong?.disabled_reason ?? wrong?.api_keys[0]?.disabled_reason).toMatch(/401/);
    const before = wrongKey.sim.requests.length;
    await gw.client.images.generate({ model: 'qwen-image', prompt: 'again' });
    expect(wrongKey.sim.requests.length).toBe(before);
  });
});

describe('what DashScope cannot do is refused, naming the field', () => {
  it.each([
    ['quality', { quality: 'hd' }],
    ['background', { background: 'transparent' }],
    ['style', { style: 'vivid' }],
    ['stream', { stream: true }],
    ['moderation', { moderation: 'low' }],
    ['metadata', { metadata: { team: 'a' } }],
    ['guidance_scale', { guidance_scale: 5 }],
  ])('%s: 400 unsupported_parameter, nothing sent', async (param, extra) => {
    const { gw, sim } = await oneDashScope();
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
    expect(String((res.json?.error as { message: string }).message)).toContain('dashscope');
    expect(openai.sim.requests.filter((r) => r.path.startsWith('/v1/images'))).toHaveLength(0);
  });
});
