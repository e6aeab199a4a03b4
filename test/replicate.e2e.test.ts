/**
 * Replicate as an upstream, end to end: the official `openai` SDK through the gateway to a
 * replicate channel whose upstream is the Replicate simulator (sim/replicate.ts). Catalogue models
 * run on Replicate's official models (`POST /v1/models/{owner}/{name}/predictions`), any other
 * through the channel's model_map by version (`POST /v1/predictions {version}`). Sync callers create
 * with `Prefer: wait`; task runs create without it, store the prediction id and poll, and a gateway
 * killed mid-poll is followed by one that resumes that id, never creating again. Output URLs expire
 * and the gateway's link outlives them. A flagged prediction is the client's 400
 * content_policy_violation; 402 and 429 fail over; 401 disables the key; 422 is a 400 naming the
 * field; what a model's schema cannot take is refused before any prediction.
 */
import { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { startReplicateSimulator, type ReplicateSimulatorOptions, type RunningReplicateSimulator } from '../sim/replicate.js';
import { newApiAsync, newApiTask, taskApi } from './helpers/async-dialects.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { postJson, startGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  crashingGateways,
  describeBase64 as b64Image,
  describeImageAt,
  errorMessage,
  gatewayWith,
  plainPng,
  sharedDatabaseEnv,
  storedUpstreamId,
  submitNewApiTask,
  refusedKeyScenario,
  keptAliveThenCompleted,
  partialImagesRefused,
  sdkEditStream,
  sdkGenerationStream,
  streamRefusedAndRefunded,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'r8_test_token';

const replicate = vendorKit({
  kind: 'replicate',
  key: KEY,
  start: (opts: ReplicateSimulatorOptions) => startReplicateSimulator({ apiKey: KEY, ...opts }),
  baseUrl: (sim) => `${sim.origin}/v1`,
  channel: { poll_interval: 0.05 },
});

const png = (width: number, height: number) => plainPng(width, height, '#47a');

const creates = (sim: RunningReplicateSimulator) => sim.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/predictions'));

describe('official models: images.generate', () => {
  it('Seedream 4 at a custom size, n 2: two predictions with Prefer: wait, real JPEGs of the size asked', async () => {
    const { gw, sim } = await replicate.one();
    const answer = await gw.client.images.generate({
      model: 'seedream-4.0',
      prompt: 'a lantern festival',
      size: '2048x1152' as never,
      n: 2,
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) expect(await b64Image(image.b64_json)).toEqual({ format: 'jpeg', width: 2048, height: 1152 });
    const sent = creates(sim);
    expect(sent.map((r) => r.path)).toEqual(['/v1/models/bytedance/seedream-4/predictions', '/v1/models/bytedance/seedream-4/predictions']);
    expect(sent[0]?.json).toEqual({ input: { prompt: 'a lantern festival', size: 'custom', width: 2048, height: 1152 } });
    expect(sent[0]?.headers.prefer).toMatch(/^wait=\d+$/);
    expect(sent[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sim.sim.polls).toBe(0); // the wait answered with the finished predictions
  });

  it('FLUX1.1 [pro]: aspect_ratio custom with width and height, output_format jpg→png as asked, its own fields passed through', async () => {
    const { gw, sim } = await replicate.one();
    const answer = await gw.client.images.generate({
      model: 'flux-1.1-pro',
      prompt: 'a heron at dawn',
      size: '1440x800' as never,
      output_format: 'png',
      response_format: 'b64_json',
      seed: 7,
      safety_tolerance: 4,
    } as never);
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1440, height: 800 });
    expect(creates(sim)[0]).toMatchObject({
      path: '/v1/models/black-forest-labs/flux-1.1-pro/predictions',
      json: { input: { prompt: 'a heron at dawn', aspect_ratio: 'custom', width: 1440, height: 800, output_format: 'png', seed: 7, safety_tolerance: 4 } },
    });
  });

  it('a model run by version through the channel’s model_map: POST /v1/predictions {version, input}, the map’s params in the input', async () => {
    const sim = await replicate.sim();
    const version = sim.sim.registerVersion('acme/qwen-image-lora');
    const mapped = { 'qwen-image': { upstream_model: `acme/qwen-image-lora:${version}`, params: { num_inference_steps: 8 } } };
    const gw = await gatewayWith([replicate.channel('replicate', sim, { model_map: mapped })]);
    const answer = await gw.client.images.generate({
      model: 'qwen-image',
      prompt: 'a tea house',
      size: '1664x928' as never,
      response_format: 'b64_json',
      lora_scale: 0.8,
      nsfw_checker: false,
    } as never);
    expect(await b64Image(answer.data?.[0]?.b64_json)).toMatchObject({ width: 1664, height: 928 });
    expect(creates(sim)[0]).toMatchObject({
      path: '/v1/predictions',
      json: { version, input: { prompt: 'a tea house', width: 1664, height: 928, lora_scale: 0.8, num_inference_steps: 8 } },
    });
    // The gateway's own content check is not the model's field.
    expect((creates(sim)[0]?.json as { input: object }).input).not.toHaveProperty('nsfw_checker');
  });

  it('the url answer is the gateway’s own link, still there after Replicate’s has expired', async () => {
    const { gw, sim } = await replicate.one({ urlTtlMs: 1_000 });
    const answer = await gw.client.images.generate({ model: 'imagen-4.0-fast-generate-001', prompt: 'a harbour', size: '1408x768' as never });
    expect(creates(sim)[0]?.json).toEqual({ input: { prompt: 'a harbour', aspect_ratio: '16:9', output_format: 'png' } });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await fetch(sim.sim.answeredUrls.at(-1) ?? '')).status).toBe(404);
    const link = answer.data?.[0]?.url ?? '';
    expect(link.startsWith(gw.origin)).toBe(true);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'png', width: 1408, height: 768 });
  });

  it.each([
    [
      'flux-1.1-pro-ultra',
      { size: '2752x1536', raw: true },
      '/v1/models/black-forest-labs/flux-1.1-pro-ultra/predictions',
      { prompt: 'p', aspect_ratio: '16:9', output_format: 'jpg', raw: true },
    ],
    [
      'recraftv3',
      { size: '1365x1024', style: 'digital_illustration' },
      '/v1/models/recraft-ai/recraft-v3/predictions',
      { prompt: 'p', size: '1365x1024', style: 'digital_illustration' },
    ],
    [
      'ideogram-v3',
      { size: '1312x736', magic_prompt_option: 'Off' },
      '/v1/models/ideogram-ai/ideogram-v3-balanced/predictions',
      { prompt: 'p', resolution: '1312x736', magic_prompt_option: 'Off' },
    ],
    [
      'flux-kontext-max',
      { size: '1392x752' },
      '/v1/models/black-forest-labs/flux-kontext-max/predictions',
      { prompt: 'p', aspect_ratio: '16:9', output_format: 'png' },
    ],
  ])('%s: its own input fields, accepted by the model’s schema', async (model, extra, path, input) => {
    const { gw, sim } = await replicate.one();
    const res = await postJson(gw, '/v1/images/generations', { model, prompt: 'p', ...extra });
    expect(res.status, res.text).toBe(200);
    expect(creates(sim)[0]).toMatchObject({ path, json: { input } });
    expect(Object.keys((creates(sim)[0]?.json as { input: object }).input)).toEqual(Object.keys(input));
  });

  it('a stream (Seedream: no partial images) gets the finished image as its completed event', async () => {
    const { gw, sim } = await replicate.one();
    const stream = await gw.client.images.generate({
      model: 'seedream-4.0',
      prompt: 'a kite',
      size: '1024x1024' as never,
      stream: true,
      partial_images: 0,
    } as never);
    const events: { type: string; b64_json?: string }[] = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; b64_json?: string }>) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed']);
    expect(await b64Image(events[0]?.b64_json)).toEqual({ format: 'jpeg', width: 1024, height: 1024 });
    expect(creates(sim)[0]?.headers.prefer).toBeUndefined();
  });

  it('an output given as a data URI is taken as it stands, its format reported', async () => {
    const { gw } = await replicate.one({ dataUriOutput: true });
    const answer = await gw.client.images.generate({ model: 'recraftv3', prompt: 'a fox', size: '1024x1024', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'webp', width: 1024, height: 1024 });
    // Recraft V3 on Replicate answers WebP (the catalogue's default is PNG): the answer says what it is.
    expect(answer).toMatchObject({ output_format: 'webp' });
  });

  it('a model no built-in entry or model_map names is not sent to Replicate', async () => {
    const { gw, sim } = await replicate.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a harbour' });
    expect(res.status).toBe(503);
    expect(sim.sim.requests).toHaveLength(0);
  });
});

describe('edits: input images as data URIs', () => {
  it('FLUX.1 Kontext [pro]: images.edit sends input_image and matches its shape', async () => {
    const { gw, sim } = await replicate.one();
    const answer = await gw.client.images.edit({
      model: 'flux-kontext-pro',
      prompt: 'make it winter',
      image: await toFile(await png(640, 480), 'street.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    const image = await b64Image(answer.data?.[0]?.b64_json);
    expect(image.format).toBe('png');
    expect((image.width ?? 0) / (image.height ?? 1)).toBeCloseTo(4 / 3, 1);
    const input = (creates(sim)[0]?.json as { input: Record<string, unknown> }).input;
    expect(input.input_image).toMatch(/^data:image\/png;base64,/);
    expect(input).toMatchObject({ prompt: 'make it winter', aspect_ratio: 'match_input_image', output_format: 'png' });
  });

  it('FLUX.2 [pro] takes several reference images as input_images', async () => {
    const { gw, sim } = await replicate.one();
    await gw.client.images.edit({
      model: 'flux-2-pro',
      prompt: 'the two of them together',
      image: [await toFile(await png(512, 512), 'a.png', { type: 'image/png' }), await toFile(await png(512, 512), 'b.png', { type: 'image/png' })],
      size: '1024x1024',
    });
    const input = (creates(sim)[0]?.json as { input: { input_images: string[] } }).input;
    expect(input.input_images).toHaveLength(2);
    expect(input).toMatchObject({ aspect_ratio: 'custom', width: 1024, height: 1024 });
  });
});

describe('stream: keep-alive while the predictions run, then the completed events', () => {
  const slow = () => replicate.one({ predictionMs: 700 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('FLUX1.1 [pro]: keep-alive comments while Replicate works, then the completed event with the image at the size asked', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'flux-1.1-pro', prompt: 'a heron at dawn', size: '1440x800' });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '1440x800' });
    expect(sim.sim.creates).toBe(1);
    await partialImagesRefused(gw, { model: 'flux-1.1-pro', prompt: 'a heron', partial_images: 2 }, () => sim.sim.creates);
  });

  it('Recraft V3 on Replicate: keep-alive comments while the prediction runs, then the completed event at the size asked; no stream field sent', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'recraftv3', prompt: 'a fox', size: '1365x1024' });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '1365x1024' });
    expect(creates(sim)).toHaveLength(1);
    expect(creates(sim)[0]).toMatchObject({ path: '/v1/models/recraft-ai/recraft-v3/predictions', json: { input: { prompt: 'a fox', size: '1365x1024' } } });
    expect(creates(sim)[0]?.json).not.toHaveProperty('stream');
    expect((creates(sim)[0]?.json as { input: object }).input).not.toHaveProperty('stream');
  });

  it('a Kontext edit streams image_edit.completed, in the input’s shape', async () => {
    const { gw } = await slow();
    const stream = await sdkEditStream(gw, { model: 'flux-kontext-pro', prompt: 'make it winter', image: await png(640, 480) });
    const [event] = await keptAliveThenCompleted(stream, { type: 'image_edit.completed' });
    const image = await b64Image(event?.b64_json);
    expect((image.width ?? 0) / (image.height ?? 1)).toBeCloseTo(4 / 3, 1);
  });

  it('a prediction flagged (E005) after the stream opened: its error event, the credits back', async () => {
    const { gw, sim } = await slow();
    await streamRefusedAndRefunded(gw, { model: 'flux-1.1-pro', prompt: 'something [sim:nsfw]' }, () => sim.sim.creates);
  });
});

describe('tasks: created without waiting, the id stored, polled', () => {
  it("new-api's async dialect: no Prefer: wait on the create, polled to its end", async () => {
    const { gw, sim } = await replicate.one({ predictionMs: 400 });
    const view = await newApiAsync(gw, { model: 'flux-2-pro', prompt: 'a city of glass', size: '1920x1088' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'jpeg', width: 1920, height: 1088 });
    expect(creates(sim)).toHaveLength(1);
    expect(creates(sim)[0]?.headers.prefer).toBeUndefined();
    expect(sim.sim.polls).toBeGreaterThan(0);
  });

  it('the task API dialect: aspect_ratio 9:16 on Imagen 4', async () => {
    const { gw, sim } = await replicate.one();
    const view = await taskApi(gw, { model: 'imagen-4.0-generate-001', prompt: 'a tall lighthouse', aspect_ratio: '9:16' });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(creates(sim)[0]).toMatchObject({ path: '/v1/models/google/imagen-4/predictions', json: { input: { aspect_ratio: '9:16' } } });
  });

  it('a gateway shut down mid-poll leaves the prediction running; the next one resumes its stored id', async () => {
    const sim = await replicate.sim();
    sim.sim.hold();
    const env = await sharedDatabaseEnv([replicate.channel('replicate', sim)]);
    const first = await startGateway(env);
    const id = await submitNewApiTask(first, { model: 'seedream-4.5', prompt: 'a slow sunrise', n: 2 });
    const stored = () => storedUpstreamId(first.origin, id);
    await expect.poll(stored, { timeout: 10_000 }).toBeTruthy();
    const ids = (await stored()).split(',');
    expect(ids).toHaveLength(2);
    await expect.poll(() => sim.sim.polls, { timeout: 10_000 }).toBeGreaterThan(0);
    await first.close();
    expect([sim.sim.creates, sim.sim.cancels]).toEqual([2, 0]);

    sim.sim.release();
    const second = later(await startGateway(env));
    const view = await newApiTask(second, id, first.apiKey);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(view?.image_urls).toHaveLength(2);
    expect(sim.sim.creates).toBe(2);
  }, 60_000);

  it('a gateway SIGKILLed while polling: a new one on the same database finishes the task with exactly one prediction created', async () => {
    const sim = await replicate.sim();
    sim.sim.hold();
    const gateways = await crashingGateways([replicate.channel('replicate', sim, { poll_interval: 0.1 })], { name: 'crash', credits: 1 });
    const id = await submitNewApiTask(gateways.caller(), { model: 'flux-1.1-pro', prompt: 'survives a crash' });
    await expect.poll(() => sim.sim.polls, { timeout: 30_000 }).toBeGreaterThan(1);
    await gateways.kill();
    sim.sim.release();
    await gateways.restart();
    const view = await newApiTask(gateways.caller(), id, gateways.apiKey, 2_400);
    expect(view?.status, `${view?.fail_reason}\n${gateways.current.output()}`).toBe('succeeded');
    expect(sim.sim.creates).toBe(1);
    expect(sim.sim.cancels).toBe(0);
  }, 180_000); // two starts of a child gateway, each up to a minute or more on a busy machine
});

describe('abandoned predictions are canceled', () => {
  it('a sync caller that leaves: its prediction is canceled', async () => {
    const { gw, sim } = await replicate.one({}, { timeout: 8 }); // Prefer: wait=3, then polls
    sim.sim.hold();
    const leaving = new AbortController();
    const request = fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-1.1-pro', prompt: 'never mind' }),
      signal: leaving.signal,
    }).catch(() => undefined);
    await expect.poll(() => sim.sim.polls, { timeout: 15_000 }).toBeGreaterThan(0);
    leaving.abort();
    await request;
    await expect.poll(() => sim.sim.cancels, { timeout: 10_000 }).toBe(1);
    const [only] = creates(sim);
    expect(only).toBeDefined();
    expect(sim.sim.requests.find((r) => r.path.endsWith('/cancel'))?.headers.authorization).toBe(`Bearer ${KEY}`);
  }, 30_000);

  it('one of a task’s predictions fails: the task fails and its sibling is canceled', async () => {
    const { gw, sim } = await replicate.one();
    sim.sim.hold();
    const id = await submitNewApiTask(gw, { model: 'seedream-4.0', prompt: 'two of them', n: 2 });
    const stored = () => storedUpstreamId(gw.origin, id);
    await expect.poll(stored, { timeout: 10_000 }).toBeTruthy();
    const [first, second] = (await stored()).split(',');
    sim.sim.fail(first ?? '', 'Prediction failed: CUDA out of memory');
    const view = await newApiTask(gw, id);
    expect(view?.status).toBe('failed');
    expect(view?.fail_reason).toContain('CUDA out of memory');
    await expect.poll(() => sim.sim.statusOf(second ?? ''), { timeout: 10_000 }).toBe('canceled');
  }, 30_000);

  it('a task whose deadline passes: the task fails and its predictions are canceled', async () => {
    const sim = await replicate.sim();
    sim.sim.hold();
    const gw = await gatewayWith([replicate.channel('replicate', sim)], { IMAGEGATE_TASK_DEADLINE: '2s' });
    const view = await newApiAsync(gw, { model: 'seedream-4.0', prompt: 'too slow', n: 2 });
    expect(view?.status).toBe('failed');
    await expect.poll(() => sim.sim.cancels, { timeout: 10_000 }).toBe(2);
    expect(sim.sim.creates).toBe(2);
  }, 30_000);
});

describe("Replicate's refusals and failures", () => {
  it('a prediction failed as flagged (E005) is the client’s 400 content_policy_violation with Replicate’s words, not retried', async () => {
    const { gw, sim } = await replicate.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-1.1-pro', prompt: 'something [sim:nsfw]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain('flagged as sensitive');
    expect(sim.sim.creates).toBe(1);
  });

  it('a prediction that fails otherwise is the upstream’s task failure, with its error', async () => {
    const { gw } = await replicate.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-1.1-pro', prompt: 'a crash [sim:fail]' });
    expect(res.status).toBe(502);
    expect(errorMessage(res)).toContain('CUDA out of memory');
  });

  it('402 (insufficient credit) and 429 (throttled) fail over to the next channel', async () => {
    const broke = await replicate.sim();
    const busy = await replicate.sim();
    const spare = await replicate.sim();
    broke.sim.enqueueFault({ status: 402, title: 'Insufficient credit', detail: 'You have insufficient credit to run this model.' });
    busy.sim.enqueueFault({
      status: 429,
      title: 'Request was throttled',
      detail: 'Request was throttled. Expected available in 1 second.',
      retryAfterSeconds: 1,
    });
    const gw = await gatewayWith([
      replicate.channel('broke', broke, { priority: 20 }),
      replicate.channel('busy', busy, { priority: 10 }),
      replicate.channel('spare', spare),
    ]);
    const answer = await gw.client.images.generate({ model: 'flux-1.1-pro', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'jpeg' });
    expect([broke.sim.creates, busy.sim.creates, spare.sim.creates]).toEqual([1, 1, 1]);
  });

  it('401 disables that key; the next channel serves and the bad one is not tried again', async () => {
    await refusedKeyScenario(replicate, {
      refusing: { apiKey: 'r8_the_real_token' },
      model: 'flux-1.1-pro',
      served: (s) => s.sim.creates,
      asked: (s) => s.sim.requests.length,
    });
  });

  it('422 (the input fails the model’s schema) is the client’s 400 naming the field', async () => {
    const { gw } = await replicate.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-1.1-pro', prompt: 'a harbour', safety_tolerance: 9 });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'safety_tolerance', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain('less than or equal to 6');
  });
});

describe('what a model’s schema cannot take is refused before any prediction', () => {
  it.each([
    ['background', 'flux-1.1-pro', { background: 'transparent' }],
    ['guidance_scale', 'flux-1.1-pro', { guidance_scale: 5 }],
    ['size', 'flux-2-pro', { size: '1360x768' }],
    ['size', 'imagen-4.0-generate-001', { size: '2048x2048' }],
    ['size', 'seedream-4.0', { size: '1280x720' }],
    ['watermark', 'seedream-4.0', { watermark: true }],
  ])('%s on %s: 400 unsupported_parameter, nothing sent', async (param, model, extra) => {
    const { gw, sim } = await replicate.one();
    const res = await postJson(gw, '/v1/images/generations', { model, prompt: 'a harbour', ...extra });
    expect(res.status, res.text).toBe(400);
    expect(res.json).toMatchObject({ error: { param, code: 'unsupported_parameter' } });
    expect(sim.sim.requests).toHaveLength(0);
  });
});
