/**
 * fal's queue API as a vendor, end to end: the official `openai` SDK (and the async dialects)
 * through the gateway to a `fal` channel whose upstream is the fal simulator (sim/fal.ts). Every
 * job is a queue request: submitted to its app (the built-in map, or the channel's model_map),
 * its status polled under the app's base id, its result read and its images stored. A task run
 * stores the request's URL and resumes it after a crash, never submitting again; an abandoned
 * request is cancelled, one stopped by a shutdown is not. fal's refusals and failures map as other
 * vendors': safety -> 400 content_policy_violation, a locked or out-of-credit account and 429 ->
 * fail over, a refused key -> disabled, a 422 -> 400 naming the field.
 */
import { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { startFalSimulator, type FalSimulatorOptions, type RunningFalSimulator } from '../sim/fal.js';
import { newApiAsync, newApiTask, taskApi } from './helpers/async-dialects.js';
import { adminJson } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { postJson, startGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  crashingGateways,
  describeBase64 as b64Image,
  describeImageAt,
  disabledReason,
  errorMessage,
  gatewayWith,
  plainPng as png,
  sharedDatabaseEnv,
  storedUpstreamId,
  submitNewApiTask,
  resumedAfterCrash,
  keptAliveThenCompleted,
  partialImagesRefused,
  sdkEditStream,
  sdkGenerationStream,
  streamRefusedAndRefunded,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'fal-key-test:secret';

const fal = vendorKit({
  kind: 'fal',
  key: KEY,
  start: (opts: FalSimulatorOptions) => startFalSimulator({ apiKey: KEY, ...opts }),
  baseUrl: (sim) => sim.origin,
  channel: { poll_interval: 0.05 },
});

/** The queue paths the simulator was asked, by method (its hosted images apart). */
const paths = (sim: RunningFalSimulator, method: string) =>
  sim.sim.requests.filter((r) => r.method === method && !r.path.startsWith('/files/')).map((r) => r.path);

describe('generations through the queue: submit, poll, result', () => {
  it('Ideogram 3.0: images.generate waits for the queue and gives real PNGs of the size asked; the app gets its input JSON and the key as `Key`', async () => {
    const { gw, sim } = await fal.one();
    const answer = await gw.client.images.generate({
      model: 'ideogram-v3',
      prompt: 'a poster that reads OPEN LATE',
      size: '1312x736' as never,
      n: 2,
      response_format: 'b64_json',
      seed: 42,
      negative_prompt: 'blurry',
    } as never);
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) expect(await b64Image(image.b64_json)).toEqual({ format: 'png', width: 1312, height: 736 });
    expect(sim.sim.submits).toBe(1);
    expect(sim.sim.inputsOf('fal-ai/ideogram/v3')).toEqual([
      {
        rendering_speed: 'BALANCED',
        prompt: 'a poster that reads OPEN LATE',
        num_images: 2,
        image_size: { width: 1312, height: 736 },
        seed: 42,
        negative_prompt: 'blurry',
      },
    ]);
    const submit = sim.sim.requests.find((r) => r.method === 'POST');
    expect(submit?.headers.authorization).toBe(`Key ${KEY}`);
    // Status and result under the app's base id, at the URLs fal returned.
    expect(paths(sim, 'GET').every((path) => path.startsWith('/fal-ai/ideogram/requests/'))).toBe(true);
    expect(paths(sim, 'GET').some((path) => path.endsWith('/status'))).toBe(true);
  });

  it('each Ideogram speed is its own model: turbo and quality fix rendering_speed', async () => {
    const { gw, sim } = await fal.one();
    await gw.client.images.generate({ model: 'ideogram-v3-turbo', prompt: 'a fast sketch' });
    await gw.client.images.generate({ model: 'ideogram-v3-quality', prompt: 'a fine print' });
    expect(sim.sim.inputsOf('fal-ai/ideogram/v3').map((input) => input.rendering_speed)).toEqual(['TURBO', 'QUALITY']);
  });

  it('Imagen 4 on fal: the size becomes its aspect ratio and resolution; the url answer is the gateway’s link after fal’s has expired', async () => {
    const { gw, sim } = await fal.one({ urlTtlMs: 1_000 });
    const answer = await gw.client.images.generate({ model: 'imagen-4.0-generate-001', prompt: 'a harbour at dawn', size: '1408x768' as never });
    expect(sim.sim.inputsOf('fal-ai/imagen4/preview')).toEqual([{ prompt: 'a harbour at dawn', num_images: 1, aspect_ratio: '16:9', resolution: '1K' }]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await fetch(sim.sim.answeredUrls.at(-1) ?? '')).status).toBe(404);
    const link = answer.data?.[0]?.url ?? '';
    expect(link.startsWith(gw.origin)).toBe(true);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'png', width: 1408, height: 768 });
  });

  it('Recraft V3 on fal: its style goes through; n above 1 is refused (one image per request), nothing sent', async () => {
    const { gw, sim } = await fal.one();
    await gw.client.images.generate({ model: 'recraftv3', prompt: 'a fox', style: 'digital_illustration' as never, size: '1024x1024' });
    expect(sim.sim.inputsOf('fal-ai/recraft/v3/text-to-image')).toEqual([
      { enable_safety_checker: true, prompt: 'a fox', image_size: { width: 1024, height: 1024 }, style: 'digital_illustration' },
    ]);
    const res = await postJson(gw, '/v1/images/generations', { model: 'recraftv3', prompt: 'two foxes', n: 2 });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'n', code: 'unsupported_parameter' } });
    expect(sim.sim.submits).toBe(1);
  });

  it('Seedream 4.0 edits go to its edit app (a sub-path): the image as a data URI, status under fal-ai/bytedance; the answer in the input’s shape', async () => {
    const { gw, sim } = await fal.one();
    const answer = await gw.client.images.edit({
      model: 'seedream-4.0',
      prompt: 'put a red hat on the cat',
      image: await toFile(await png(900, 700), 'cat.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 900, height: 700 });
    const [input] = sim.sim.inputsOf('fal-ai/bytedance/seedream/v4/edit');
    expect(input).toMatchObject({ enable_safety_checker: true, prompt: 'put a red hat on the cat', num_images: 1, image_size: 'auto_2K' });
    expect(String((input?.image_urls as string[])[0])).toMatch(/^data:image\/png;base64,/);
    expect(paths(sim, 'GET').every((path) => path.startsWith('/fal-ai/bytedance/requests/'))).toBe(true);
  });

  it("the channel's model_map serves any other app (upstream_model = the fal app id); without it the model is not fal's, nothing sent", async () => {
    const sim = await fal.sim();
    const mapped = await gatewayWith([
      fal.channel('fal', sim, { model_map: { 'qwen-image': { upstream_model: 'fal-ai/flux/dev', params: { safety_tolerance: '5' } } } }),
    ]);
    const answer = await mapped.client.images.generate({
      model: 'qwen-image',
      prompt: 'a tea house',
      size: '1328x1328' as never,
      output_format: 'png',
      response_format: 'b64_json',
    } as never);
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1328, height: 1328 });
    expect(sim.sim.inputsOf('fal-ai/flux/dev')).toEqual([
      {
        enable_safety_checker: true,
        prompt: 'a tea house',
        num_images: 1,
        image_size: { width: 1328, height: 1328 },
        output_format: 'png',
        safety_tolerance: '5',
      },
    ]);
    expect(paths(sim, 'GET').every((path) => path.startsWith('/fal-ai/flux/requests/'))).toBe(true);

    const unmapped = await gatewayWith([fal.channel('fal', sim)]);
    const before = sim.sim.requests.length;
    const res = await postJson(unmapped, '/v1/images/generations', { model: 'qwen-image', prompt: 'a tea house' });
    expect(res.status).toBe(503);
    expect(sim.sim.requests.length).toBe(before);
  });
});

describe("an operator's models on fal", () => {
  it("an alias of a catalogue model goes to its base's app; a model whose upstream_model is a fal app id to that app, in its family's schema", async () => {
    const sim = await fal.sim();
    const gw = await gatewayWith(
      [fal.channel('fal', sim)],
      {},
      {
        models: [
          { name: 'poster', base: 'ideogram-v3-turbo' },
          { name: 'my-flux-dev', base: 'flux-1.1-pro', upstream_model: 'fal-ai/flux/dev' },
        ],
      },
    );
    await gw.client.images.generate({ model: 'poster', prompt: 'a poster' });
    expect(sim.sim.inputsOf('fal-ai/ideogram/v3')).toEqual([
      { rendering_speed: 'TURBO', prompt: 'a poster', num_images: 1, image_size: { width: 1024, height: 1024 } },
    ]);
    await gw.client.images.generate({ model: 'my-flux-dev', prompt: 'a dev build', size: '1024x768' as never, output_format: 'jpeg' } as never);
    expect(sim.sim.inputsOf('fal-ai/flux/dev')).toEqual([
      { enable_safety_checker: true, prompt: 'a dev build', num_images: 1, image_size: { width: 1024, height: 768 }, output_format: 'jpeg' },
    ]);
  });
});

describe("FLUX on fal: BFL's catalogue ids, fal's apps", () => {
  it('FLUX.2 [pro]: the exact size as image_size, no num_images (one image a request), output_format as asked', async () => {
    const { gw, sim } = await fal.one();
    const answer = await gw.client.images.generate({
      model: 'flux-2-pro',
      prompt: 'a glass city',
      size: '1440x1440' as never,
      output_format: 'png',
      response_format: 'b64_json',
    } as never);
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1440, height: 1440 });
    expect(sim.sim.inputsOf('fal-ai/flux-2-pro')).toEqual([
      { enable_safety_checker: true, prompt: 'a glass city', image_size: { width: 1440, height: 1440 }, output_format: 'png' },
    ]);
  });

  it('FLUX.2 [pro] edits go to fal-ai/flux-2-pro/edit with every image in image_urls', async () => {
    const { gw, sim } = await fal.one();
    await gw.client.images.edit({
      model: 'flux-2-pro',
      prompt: 'the two cats together',
      image: [await toFile(await png(640, 480), 'a.png', { type: 'image/png' }), await toFile(await png(480, 640), 'b.png', { type: 'image/png' })],
      size: 'auto' as never,
    });
    const [input] = sim.sim.inputsOf('fal-ai/flux-2-pro/edit');
    expect(input).toMatchObject({ prompt: 'the two cats together', image_size: 'auto' });
    expect((input?.image_urls as string[]).map((uri) => uri.slice(0, 22))).toEqual(['data:image/png;base64,', 'data:image/png;base64,']);
  });

  it('FLUX1.1 [pro] Ultra: its 4 MP size as fal’s aspect_ratio, and fal’s image of that size', async () => {
    const { gw, sim } = await fal.one();
    const answer = await gw.client.images.generate({
      model: 'flux-1.1-pro-ultra',
      prompt: 'a valley',
      size: '2752x1536' as never,
      response_format: 'b64_json',
      raw: true,
    } as never);
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 2752, height: 1536 });
    expect(sim.sim.inputsOf('fal-ai/flux-pro/v1.1-ultra')).toEqual([
      { enable_safety_checker: true, prompt: 'a valley', num_images: 1, aspect_ratio: '16:9', raw: true },
    ]);
  });

  it('Kontext [pro]: an edit is one image_url in its own shape; a generation sends the nearest aspect ratio; a shape fal lacks is refused', async () => {
    const { gw, sim } = await fal.one();
    const edited = await gw.client.images.edit({
      model: 'flux-kontext-pro',
      prompt: 'make it night',
      image: await toFile(await png(800, 600), 'street.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await b64Image(edited.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 800, height: 600 });
    const [input] = sim.sim.inputsOf('fal-ai/flux-pro/kontext');
    expect(Object.keys(input ?? {}).sort()).toEqual(['image_url', 'num_images', 'prompt']);
    expect(String(input?.image_url)).toMatch(/^data:image\/png;base64,/);

    await gw.client.images.generate({ model: 'flux-kontext-pro', prompt: 'a wide street', size: '1392x752' as never });
    expect(sim.sim.inputsOf('fal-ai/flux-pro/kontext/text-to-image')).toEqual([{ prompt: 'a wide street', num_images: 1, aspect_ratio: '16:9' }]);
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-kontext-pro', prompt: 'a near square', size: '1104x944' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'size', code: 'unsupported_parameter' } });
    expect(sim.sim.submits).toBe(2);
  });
});

describe('stream: keep-alive while the request is queued, then the completed events', () => {
  const slow = () => fal.one({ taskDurationMs: 700 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('Ideogram 3.0, n 2: keep-alive comments while fal works, then one completed event per image, each of the size asked', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'ideogram-v3', prompt: 'a poster', size: '1312x736', n: 2 });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', count: 2, size: '1312x736' });
    expect(sim.sim.submits).toBe(1);
    await partialImagesRefused(gw, { model: 'ideogram-v3', prompt: 'a poster', partial_images: 1 }, () => sim.sim.submits);
  });

  it('Imagen 4 on fal: keep-alive comments while fal works, then the completed event at the size asked; fal gets no stream field', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'imagen-4.0-generate-001', prompt: 'a harbour at dawn', size: '1408x768' });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '1408x768' });
    expect(sim.sim.inputsOf('fal-ai/imagen4/preview')).toEqual([{ prompt: 'a harbour at dawn', num_images: 1, aspect_ratio: '16:9', resolution: '1K' }]);
  });

  it('a Kontext edit streams image_edit.completed; its output_format is what fal answered (JPEG, where the catalogue’s default is PNG)', async () => {
    const { gw } = await slow();
    const stream = await sdkEditStream(gw, { model: 'flux-kontext-pro', prompt: 'make it night', image: await png(800, 600) });
    await keptAliveThenCompleted(stream, { type: 'image_edit.completed', format: 'jpeg', decodesTo: { width: 800, height: 600 } });
  });

  it('every image flagged by fal’s safety checker after the stream opened: its error event, the credits back', async () => {
    const { gw, sim } = await slow();
    await streamRefusedAndRefunded(gw, { model: 'ideogram-v3', prompt: 'a scene [sim:nsfw]' }, () => sim.sim.submits);
  });
});

describe('the async dialects: a task per queue request', () => {
  it("new-api's async dialect and the task API's aspect_ratio both end with the image's link", async () => {
    const { gw, sim } = await fal.one();
    const view = await newApiAsync(gw, { model: 'ideogram-v3-turbo', prompt: 'a city of glass', size: '1248x832' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'png', width: 1248, height: 832 });
    const task = await taskApi(gw, { model: 'ideogram-v3', prompt: 'a tall lighthouse', aspect_ratio: '9:16' });
    expect(task?.state, task?.failMsg ?? '').toBe('completed');
    expect(sim.sim.inputsOf('fal-ai/ideogram/v3').at(-1)).toMatchObject({ image_size: { width: 736, height: 1312 } });
    expect(sim.sim.submits).toBe(2);
  });

  it('a gateway SIGKILLed while the request is queued: a new one on the same database resumes the stored request, one submission in all', async () => {
    const sim = await fal.sim();
    const gateways = await crashingGateways([fal.channel('fal', sim)], { name: 'fal crash' });
    const { view, storedId: requestUrl, pollsBefore } = await resumedAfterCrash(gateways, sim, { model: 'ideogram-v3', prompt: 'a slow sunrise' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(sim.sim.submits).toBe(1);
    expect(sim.sim.polls).toBeGreaterThan(pollsBefore);
    expect(
      `${sim.origin}${
        paths(sim, 'GET')
          .filter((p) => p.endsWith('/status'))
          .at(-1) ?? ''
      }`,
    ).toBe(`${requestUrl}/status`);
    expect(sim.sim.cancels).toBe(0);
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'png', width: 1024, height: 1024 });
  }, 180_000); // two starts of a child gateway, each up to a minute or more on a busy machine

  it('a gateway shut down gracefully mid-request does not cancel it: the next run resumes it', async () => {
    const sim = await fal.sim();
    sim.sim.hold();
    const env = await sharedDatabaseEnv([fal.channel('fal', sim)]);
    const first = await startGateway(env);
    const id = await submitNewApiTask(first, { model: 'ideogram-v3', prompt: 'a slow sunrise' });
    await expect.poll(() => storedUpstreamId(first.origin, id), { timeout: 10_000 }).toBeTruthy();
    await expect.poll(() => sim.sim.polls, { timeout: 10_000 }).toBeGreaterThan(0);
    await first.close();
    expect(sim.sim.cancels).toBe(0);
    sim.sim.release();
    const second = later(await startGateway(env));
    const view = await newApiTask(second, id, first.apiKey);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect([sim.sim.submits, sim.sim.cancels]).toEqual([1, 0]);
  }, 60_000);

  it('a sync caller that goes away: its queued request is cancelled (PUT cancel_url)', async () => {
    const { gw, sim } = await fal.one();
    sim.sim.hold();
    const controller = new AbortController();
    const call = gw.client.images.generate({ model: 'ideogram-v3', prompt: 'never mind' }, { signal: controller.signal }).catch((err: unknown) => err);
    await expect.poll(() => sim.sim.polls, { timeout: 10_000 }).toBeGreaterThan(0);
    controller.abort();
    await call;
    await expect.poll(() => sim.sim.cancels, { timeout: 10_000 }).toBe(1);
    const cancel = sim.sim.requests.find((r) => r.method === 'PUT');
    expect(cancel?.path).toMatch(/^\/fal-ai\/ideogram\/requests\/[^/]+\/cancel$/);
    expect(cancel?.headers.authorization).toBe(`Key ${KEY}`);
  });
  it('a sync request whose deadline passes while queued: 504 to the caller, the request cancelled', async () => {
    const sim = await fal.sim();
    sim.sim.hold();
    const gw = await gatewayWith([fal.channel('fal', sim)], { IMAGEGATE_REQUEST_DEADLINE: '2s' });
    const res = await postJson(gw, '/v1/images/generations', { model: 'ideogram-v3', prompt: 'too slow' });
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({ error: { code: 'upstream_timeout' } });
    await expect.poll(() => sim.sim.cancels, { timeout: 10_000 }).toBe(1);
    expect(sim.sim.submits).toBe(1);
  });
});

describe("fal's refusals and failures", () => {
  it("fal's safety checker (has_nsfw_concepts) and a content_policy_violation 422 are the client's 400 content_policy_violation, submitted once", async () => {
    const { gw, sim } = await fal.one();
    const flagged = await postJson(gw, '/v1/images/generations', { model: 'seedream-4.0', prompt: 'a scene [sim:nsfw]' });
    expect(flagged.status).toBe(400);
    expect(flagged.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(flagged)).toContain('NSFW');
    const refused = await postJson(gw, '/v1/images/generations', { model: 'ideogram-v3', prompt: 'a scene [sim:unsafe]' });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(errorMessage(refused)).toContain('content checker');
    expect(sim.sim.submits).toBe(2);
  });

  it('one of n images flagged by the safety checker is left out: the others are delivered and only they charged', async () => {
    const { gw, sim } = await fal.one();
    const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'metered', credits: 1 });
    const res = await postJson({ ...gw, apiKey: String(created.key) }, '/v1/images/generations', {
      model: 'seedream-4.0',
      prompt: 'three scenes [sim:nsfw-first]',
      n: 3,
      size: '2048x2048',
      response_format: 'b64_json',
    });
    expect(res.status, res.text).toBe(200);
    const data = (res.json as { data: { b64_json: string }[] }).data;
    expect(data).toHaveLength(2);
    for (const image of data) expect(await b64Image(image.b64_json)).toEqual({ format: 'png', width: 2048, height: 2048 });
    expect(sim.sim.submits).toBe(1);
    // Seedream 4.0's list price, $0.03 an image: two delivered, two charged.
    const balance = async () => Number((await adminJson(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}`)).balance_micros);
    await expect.poll(balance, { timeout: 5_000 }).toBe(1_000_000 - 2 * 30_000);
  });

  it('a 422 is the client’s 400 naming the field (image_size -> size)', async () => {
    const { gw, sim } = await fal.one();
    sim.sim.enqueueFault({ status: 422, detail: [{ loc: ['body', 'image_size'], msg: 'the size is too small for this app', type: 'value_error' }] });
    const res = await postJson(gw, '/v1/images/generations', { model: 'ideogram-v3', prompt: 'a harbour' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'size', message: expect.stringContaining('too small') } });
    expect(sim.sim.submits).toBe(1);
  });

  it('an account out of balance (403 locked) and a 429 fail over without disabling the key; a refused key is disabled', async () => {
    const locked = await fal.sim();
    const busy = await fal.sim();
    const wrongKey = await fal.sim({ apiKey: 'another-key' });
    const spare = await fal.sim();
    locked.sim.enqueueFault({ status: 403, detail: 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.' });
    busy.sim.enqueueFault({ status: 429, detail: 'Rate limit exceeded' });
    const gw = await gatewayWith(
      [
        fal.channel('locked', locked, { priority: 40 }),
        fal.channel('busy', busy, { priority: 30 }),
        fal.channel('wrong-key', wrongKey, { priority: 20 }),
        fal.channel('spare', spare),
      ],
      { IMAGEGATE_MAX_ATTEMPTS: '4' },
    );
    const answer = await gw.client.images.generate({ model: 'ideogram-v3', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'png' });
    expect([locked.sim.submits, busy.sim.submits, spare.sim.submits]).toEqual([1, 1, 1]);
    expect(wrongKey.sim.requests.length).toBe(1);
    expect(await disabledReason(gw, 'wrong-key')).toMatch(/401/);
    expect(await disabledReason(gw, 'locked')).toBeNull();
    expect(await disabledReason(gw, 'busy')).toBeNull();
  });

  it('an app that fails (a 500 result) is upstream_task_failed, not submitted again', async () => {
    const { gw, sim } = await fal.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'ideogram-v3', prompt: 'a scene [sim:app-error]' });
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ error: { code: 'upstream_task_failed' } });
    expect(sim.sim.submits).toBe(1);
  });

  it('queue URLs off the channel’s origin (fal’s, through a proxy) are rebuilt under the channel’s base_url: the key never goes to another host', async () => {
    const elsewhere = await fal.sim();
    const { gw, sim } = await fal.one({ queueOrigin: elsewhere.origin });
    const answer = await gw.client.images.generate({ model: 'ideogram-v3', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1024, height: 1024 });
    expect(sim.sim.submits).toBe(1);
    expect(paths(sim, 'GET').every((path) => path.startsWith('/fal-ai/ideogram/requests/'))).toBe(true);
    expect(elsewhere.sim.requests).toHaveLength(0);
  });

  it.each([
    ['background', { background: 'transparent' }],
    ['moderation', { moderation: 'low' }],
    ['metadata', { metadata: { team: 'a' } }],
    ['guidance_scale', { guidance_scale: 5 }],
    ['watermark', { watermark: true }],
  ])('%s: 400 unsupported_parameter, nothing sent', async (param, extra) => {
    const { gw, sim } = await fal.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'ideogram-v3', prompt: 'a harbour', ...extra });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param, code: 'unsupported_parameter' } });
    expect(sim.sim.requests).toHaveLength(0);
  });
});
