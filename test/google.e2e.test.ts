/**
 * Google as a vendor, end to end: the official `openai` SDK through the gateway to `gemini` and
 * `vertex-ai` channels whose upstream is the Google simulator (sim/google.ts). Gemini's image models
 * (generateContent) and Imagen (predict) on both doors: real images of Google's size for the
 * ratio and tier asked, the formats asked (the gateway converts what Google does not make),
 * reference images as inlineData, the stream's one completed event; Vertex AI's bearer tokens
 * from a service account exchanged for real with the simulator's token endpoint (an RSA key made
 * here); safety blocks as 400 content_policy_violation with Google's reason; quota (429) and
 * refused credentials failing over between a gemini and a vertex-ai channel serving one model;
 * the new-api async and task API dialects; what Google cannot do refused naming the field.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGoogleSimulator, type GoogleSimulatorOptions, type RunningGoogleSimulator } from '../sim/google.js';
import { newApiAsync, taskApi } from './helpers/async-dialects.js';
import { closeAfterEach, onCleanup } from './helpers/cleanup.js';
import { postJson } from './helpers/gateway.js';
import {
  type ChannelEntry,
  describeBase64 as decoded,
  describeImageAt,
  disabledReason,
  errorMessage,
  gatewayWith,
  listedChannels,
  keptAliveThenCompleted,
  partialImagesRefused,
  plainPng,
  postEditForm,
  sdkGenerationStream,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'gk-test-key';
const ACCOUNT = 'imagegate-test@example-project.iam.gserviceaccount.com';
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

/** A service-account JSON key as Google issues it, its token_uri the simulator's. */
function serviceAccountKey(sim: RunningGoogleSimulator, email = ACCOUNT): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: 'example-project',
    private_key_id: 'k1',
    private_key: privateKey,
    client_email: email,
    client_id: '1',
    token_uri: sim.tokenUri,
  });
}

const gemini = vendorKit({
  kind: 'gemini',
  key: KEY,
  start: (opts: GoogleSimulatorOptions) => startGoogleSimulator({ apiKey: KEY, serviceAccounts: { [ACCOUNT]: publicKey }, ...opts }),
  baseUrl: (sim) => sim.geminiBaseUrl,
});
const googleSim = gemini.sim;
const geminiChannel = gemini.channel;
const oneGemini = (env: Record<string, string> = {}) => gemini.one({}, {}, env);

/** Vertex AI on the same simulator: its regional base, the service account's JSON key as the channel's key. */
function vertexChannel(name: string, sim: RunningGoogleSimulator, extra: ChannelEntry = {}): ChannelEntry {
  return { name, kind: 'vertex-ai', base_url: sim.vertexBaseUrl('example-project', 'us-central1'), api_key: serviceAccountKey(sim), ...extra };
}

describe('Gemini image models on the Gemini API', () => {
  it('generate: the ratio for the size asked, a real PNG of that size, usage in tokens', async () => {
    const { gw, sim } = await oneGemini();
    const answer = await gw.client.images.generate({
      model: 'gemini-2.5-flash-image',
      prompt: 'a lighthouse at dusk',
      size: '1344x768' as never,
      response_format: 'b64_json',
    });
    expect(await decoded(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1344, height: 768 });
    expect(answer).toMatchObject({ size: '1344x768', output_format: 'png' });
    expect(answer.usage).toMatchObject({ output_tokens: 1298, output_tokens_details: { image_tokens: 1290, text_tokens: 8 } });
    const [call] = sim.sim.calls('generateContent');
    expect(call?.model).toBe('gemini-2.5-flash-image');
    expect(call?.door).toBe('gemini');
    expect(call?.headers['x-goog-api-key']).toBe(KEY);
    expect(call?.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'a lighthouse at dusk' }] }],
      generationConfig: { responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '16:9' } },
    });
  });

  it('a 2K size is the ratio and imageSize 2K; n images are n calls; jpeg is converted from Google’s PNG; seed goes through', async () => {
    const { gw, sim } = await oneGemini();
    const answer = await gw.client.images.generate({
      model: 'gemini-3-pro-image-preview',
      prompt: 'a harbour at noon',
      size: '2752x1536' as never,
      n: 2,
      output_format: 'jpeg',
      response_format: 'b64_json',
      seed: 7,
    } as never);
    const data = (answer as { data: { b64_json: string }[] }).data;
    expect(data).toHaveLength(2);
    for (const image of data) expect(await decoded(image.b64_json)).toEqual({ format: 'jpeg', width: 2752, height: 1536 });
    const calls = sim.sim.calls('generateContent');
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.body.generationConfig).toEqual({ responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '16:9', imageSize: '2K' }, seed: 7 });
    }
  });

  it('edit: the input image goes as inlineData beside the prompt; auto size reports the real size Gemini chose', async () => {
    const { gw, sim } = await oneGemini();
    const input = await plainPng(600, 400, '#48a');
    const answer = await gw.client.images.edit({
      model: 'gemini-2.5-flash-image',
      prompt: 'add a red kite in the sky',
      image: new File([input], 'in.png', { type: 'image/png' }),
      response_format: 'b64_json',
    } as never);
    expect(await decoded(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1248, height: 832 });
    expect(answer).toMatchObject({ size: '1248x832' });
    const body = sim.sim.calls('generateContent')[0]?.body as { contents: { parts: Record<string, unknown>[] }[]; generationConfig: unknown };
    expect(body.contents[0]?.parts).toEqual([{ text: 'add a red kite in the sky' }, { inlineData: { mimeType: 'image/png', data: input.toString('base64') } }]);
    expect(body.generationConfig).toEqual({ responseModalities: ['TEXT', 'IMAGE'] });
  });

  it('stream: no partial images (not a Gemini concept), the final image as the completed event', async () => {
    const { gw } = await oneGemini();
    const stream = await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a fox', size: '1024x1024', stream: true });
    const events: { type: string; b64_json?: string; size?: string }[] = [];
    for await (const event of stream) events.push(event as never);
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed']);
    expect(events[0]?.size).toBe('1024x1024');
    expect(await decoded(events[0]?.b64_json)).toEqual({ format: 'png', width: 1024, height: 1024 });
    const partials = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'a fox', stream: true, partial_images: 2 });
    expect(partials.status).toBe(400);
    expect(partials.json).toMatchObject({ error: { param: 'partial_images' } });
  });

  it('an operator alias (nano-banana) reaches Google under the catalogue name', async () => {
    const sim = await googleSim();
    const gw = await gatewayWith([geminiChannel('gemini', sim)], {}, { models: [{ name: 'nano-banana', base: 'gemini-2.5-flash-image' }] });
    await gw.client.images.generate({ model: 'nano-banana', prompt: 'a banana', size: '1024x1024' });
    expect(sim.sim.calls('generateContent').map((c) => c.model)).toEqual(['gemini-2.5-flash-image']);
  });
});

describe('Imagen', () => {
  it('on the Gemini API: n is sampleCount, a 2K size is sampleImageSize, jpeg and its quality are Imagen’s outputOptions', async () => {
    const { gw, sim } = await oneGemini();
    const answer = await gw.client.images.generate({
      model: 'imagen-4.0-generate-001',
      prompt: 'a lighthouse',
      n: 2,
      size: '2560x1792' as never,
      output_format: 'jpeg',
      output_compression: 80,
      response_format: 'b64_json',
      person_generation: 'allow_adult',
    } as never);
    const data = (answer as { data: { b64_json: string }[] }).data;
    expect(data).toHaveLength(2);
    for (const image of data) expect(await decoded(image.b64_json)).toEqual({ format: 'jpeg', width: 2560, height: 1792 });
    expect(sim.sim.calls('predict').map((c) => c.body)).toEqual([
      {
        instances: [{ prompt: 'a lighthouse' }],
        parameters: {
          includeRaiReason: true,
          sampleCount: 2,
          aspectRatio: '4:3',
          sampleImageSize: '2K',
          personGeneration: 'allow_adult',
          outputOptions: { mimeType: 'image/jpeg', compressionQuality: 80 },
        },
      },
    ]);
  });

  it('an image Google’s filters removed is left out; all removed is 400 content_policy_violation with Google’s reason', async () => {
    const { gw } = await oneGemini();
    const some = await gw.client.images.generate({
      model: 'imagen-4.0-fast-generate-001',
      prompt: 'two cats [sim:rai-one]',
      n: 2,
      response_format: 'b64_json',
    });
    expect(some.data).toHaveLength(1);
    const none = await postJson(gw, '/v1/images/generations', { model: 'imagen-4.0-fast-generate-001', prompt: 'cats [sim:rai]', n: 2 });
    expect(none.status).toBe(400);
    expect(none.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(errorMessage(none)).toContain('safety filter');
  });
});

describe('Imagen streams: keep-alive while Google works, then a completed event per image', () => {
  const slow = () => gemini.one({ latencyMs: 600 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('imagen-4.0-generate-001, n 2: keep-alive comments, then two completed events at the size asked; no stream field to Google', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'imagen-4.0-generate-001', prompt: 'a lighthouse', size: '1408x768', n: 2 });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', count: 2, size: '1408x768', format: 'png' });
    const predicts = sim.sim.calls('predict');
    expect(predicts).toHaveLength(1);
    expect(predicts[0]?.body.parameters).toMatchObject({ sampleCount: 2, aspectRatio: '16:9' });
    expect(JSON.stringify(predicts[0]?.body)).not.toContain('stream');
    await partialImagesRefused(gw, { model: 'imagen-4.0-fast-generate-001', prompt: 'a fox', partial_images: 1 }, () => sim.sim.calls('predict').length);
  });

  it('on Vertex AI too: imagen-4.0-fast-generate-001 streams its image as jpeg when asked', async () => {
    const sim = await googleSim({ latencyMs: 600 });
    const gw = await gatewayWith([vertexChannel('vertex', sim)], { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });
    const stream = await sdkGenerationStream(gw, { model: 'imagen-4.0-fast-generate-001', prompt: 'a harbour', size: '896x1280', output_format: 'jpeg' });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '896x1280', format: 'jpeg' });
    expect(sim.sim.calls('predict').map((c) => c.door)).toEqual(['vertex-ai']);
  });
});

describe('Vertex AI: a service account’s token', () => {
  it('the JWT-bearer exchange runs for real; Imagen takes seed with the watermark off, Gemini Vertex’s output options', async () => {
    const sim = await googleSim();
    const gw = await gatewayWith([vertexChannel('vertex', sim)]);
    const imagen = await gw.client.images.generate({
      model: 'imagen-4.0-ultra-generate-001',
      prompt: 'a harbour',
      size: '768x1408' as never,
      watermark: false,
      seed: 42,
      enhance_prompt: false,
      response_format: 'b64_json',
    } as never);
    expect(await decoded(imagen.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 768, height: 1408 });
    const predict = sim.sim.calls('predict')[0];
    expect(predict?.door).toBe('vertex-ai');
    expect(predict?.headers.authorization).toMatch(/^Bearer ya29\.sim-/);
    expect(predict?.body.parameters).toEqual({
      includeRaiReason: true,
      sampleCount: 1,
      aspectRatio: '9:16',
      addWatermark: false,
      seed: 42,
      enhancePrompt: false,
    });

    const gemini = await gw.client.images.generate({
      model: 'gemini-3-pro-image-preview',
      prompt: 'a poster',
      size: '896x1200' as never,
      output_format: 'jpeg',
      output_compression: 70,
      response_format: 'b64_json',
    } as never);
    expect(await decoded(gemini.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 896, height: 1200 });
    expect(sim.sim.calls('generateContent')[0]?.body.generationConfig).toEqual({
      responseModalities: ['TEXT', 'IMAGE'],
      imageConfig: { aspectRatio: '3:4', imageOutputOptions: { mimeType: 'image/jpeg', compressionQuality: 70 } },
    });
    // One exchange: the token is reused while it lives.
    expect(sim.sim.tokensIssued).toBe(1);
  });

  it('the key may be the path of the JSON key file', async () => {
    const sim = await googleSim();
    const dir = await mkdtemp(join(tmpdir(), 'imagegate-sa-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'vertex-sa.json');
    await writeFile(path, serviceAccountKey(sim), { mode: 0o600 });
    const gw = await gatewayWith([vertexChannel('vertex', sim, { api_key: path })]);
    await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a harbour', size: '1024x1024' });
    expect(sim.sim.tokensIssued).toBe(1);
    expect(sim.sim.calls('generateContent').map((c) => c.door)).toEqual(['vertex-ai']);
  });

  it('a seed with Imagen’s watermark on, and Vertex-only fields on the Gemini API, are 400s naming the field', async () => {
    const sim = await googleSim();
    const gw = await gatewayWith([
      vertexChannel('vertex', sim, { models: ['imagen-4.0-generate-001'] }),
      geminiChannel('gemini', sim, { models: ['imagen-4.0-fast-generate-001'] }),
    ]);
    const seed = await postJson(gw, '/v1/images/generations', { model: 'imagen-4.0-generate-001', prompt: 'a harbour', seed: 1 });
    expect(seed.status).toBe(400);
    expect(seed.json).toMatchObject({ error: { param: 'seed', code: 'unsupported_parameter' } });
    const watermark = await postJson(gw, '/v1/images/generations', { model: 'imagen-4.0-fast-generate-001', prompt: 'a harbour', watermark: false });
    expect(watermark.status).toBe(400);
    expect(watermark.json).toMatchObject({ error: { param: 'watermark', code: 'unsupported_parameter' } });
    expect(sim.sim.calls('predict')).toHaveLength(0);
  });
});

describe('one model on a gemini and a vertex-ai channel: failover', () => {
  it('quota exhausted (429 RESOURCE_EXHAUSTED) on the Gemini API: Vertex AI serves; alone, the client hears upstream_rate_limited', async () => {
    const sim = await googleSim();
    sim.sim.enqueueFault({ status: 429, statusName: 'RESOURCE_EXHAUSTED', message: 'You exceeded your current quota.', retryDelaySeconds: 20 });
    const gw = await gatewayWith([geminiChannel('gemini', sim, { priority: 10 }), vertexChannel('vertex', sim)]);
    const answer = await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a harbour', size: '1024x1024', response_format: 'b64_json' });
    expect(await decoded(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'png' });
    expect(sim.sim.calls('generateContent').map((c) => c.door)).toEqual(['gemini', 'vertex-ai']);

    const alone = await googleSim();
    alone.sim.enqueueFault({ status: 429, statusName: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' });
    const gwAlone = await gatewayWith([geminiChannel('gemini', alone)], { IMAGEGATE_MAX_ATTEMPTS: '1' });
    const res = await postJson(gwAlone, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'a harbour' });
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: { code: 'upstream_rate_limited' } });
  });

  it('credentials Google refuses disable the key: a wrong Gemini API key (API_KEY_INVALID), an unknown service account', async () => {
    const sim = await googleSim();
    const gw = await gatewayWith([
      geminiChannel('wrong-key', sim, { priority: 20, api_key: 'not-the-key' }),
      vertexChannel('unknown-account', sim, { priority: 10, api_key: serviceAccountKey(sim, 'stranger@example-project.iam.gserviceaccount.com') }),
      vertexChannel('good', sim),
    ]);
    await gw.client.images.generate({ model: 'imagen-4.0-generate-001', prompt: 'a harbour' });
    expect(sim.sim.generations).toBe(1);
    for (const name of ['wrong-key', 'unknown-account']) expect(await disabledReason(gw, name), name).toMatch(/401/);
    const before = sim.sim.requests.length;
    await gw.client.images.generate({ model: 'imagen-4.0-generate-001', prompt: 'again' });
    // Only the good channel's generation: no key check, no token exchange for the disabled ones.
    expect(sim.sim.requests.length).toBe(before + 1);
  });
});

describe('what else fails over', () => {
  it('a Gemini API project without billing (FAILED_PRECONDITION) is a 402: Vertex AI serves, and the key stays', async () => {
    const sim = await googleSim();
    sim.sim.enqueueFault({
      status: 400,
      statusName: 'FAILED_PRECONDITION',
      message: 'Billing has not been enabled for this project. Enable billing to use this model.',
    });
    const gw = await gatewayWith([geminiChannel('gemini', sim, { priority: 10 }), vertexChannel('vertex', sim)]);
    await gw.client.images.generate({ model: 'imagen-4.0-fast-generate-001', prompt: 'a harbour' });
    expect(sim.sim.calls('predict').map((c) => c.door)).toEqual(['gemini', 'vertex-ai']);
    const channels = await listedChannels(gw);
    const kept = channels.find((c) => c.name === 'gemini');
    expect(kept?.api_keys).toHaveLength(1);
    expect(kept?.api_keys[0]?.disabled_reason).toBeNull();
  });

  it('a token endpoint that does not answer within the channel’s timeout is a timeout, not a refused key', async () => {
    const sim = await googleSim({ tokenLatencyMs: 5_000 });
    const gw = await gatewayWith([vertexChannel('vertex', sim, { timeout: 1 })], { IMAGEGATE_MAX_ATTEMPTS: '1' });
    const res = await postJson(gw, '/v1/images/generations', { model: 'imagen-4.0-generate-001', prompt: 'a harbour' });
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({ error: { code: 'upstream_timeout' } });
    const channels = await listedChannels(gw);
    const kept = channels.find((c) => c.name === 'vertex');
    expect(kept?.api_keys).toHaveLength(1);
    expect(kept?.api_keys[0]?.disabled_reason).toBeNull();
  });
});

describe('safety blocks are the client’s 400 content_policy_violation, not retried', () => {
  it.each([
    ['[sim:block]', 'PROHIBITED_CONTENT'],
    ['[sim:image-safety]', 'IMAGE_SAFETY'],
  ])('%s: %s in the message', async (marker, reason) => {
    const { gw, sim } = await oneGemini();
    const res = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: `something ${marker}` });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain(reason);
    expect(sim.sim.calls('generateContent')).toHaveLength(1);
  });

  it('Imagen on Vertex AI refusing the prompt (400 Responsible AI) too', async () => {
    const sim = await googleSim();
    const gw = await gatewayWith([vertexChannel('vertex', sim)]);
    const res = await postJson(gw, '/v1/images/generations', { model: 'imagen-4.0-generate-001', prompt: 'x [sim:blocked-prompt]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(errorMessage(res)).toContain('Responsible AI');
  });
});

describe('what Google cannot do is refused, naming the field', () => {
  it.each([
    ['size', 'invalid_value', { model: 'gemini-2.5-flash-image', size: '1024x1536' }],
    ['size', 'invalid_value', { model: 'imagen-4.0-fast-generate-001', size: '2048x2048' }],
    ['quality', 'unsupported_parameter', { model: 'gemini-2.5-flash-image', quality: 'high' }],
    ['background', 'unsupported_parameter', { model: 'gemini-3-pro-image-preview', background: 'transparent' }],
    ['style', 'unsupported_parameter', { model: 'imagen-4.0-generate-001', style: 'vivid' }],
    ['negative_prompt', 'unsupported_parameter', { model: 'imagen-4.0-generate-001', negative_prompt: 'people' }],
  ])('%s (%s)', async (param, code, fields) => {
    const { gw, sim } = await oneGemini();
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'a harbour', ...fields });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param, code } });
    expect(sim.sim.requests).toHaveLength(0);
  });

  it('a mask: Gemini edits by instruction', async () => {
    const { gw, sim } = await oneGemini();
    const png = await plainPng(64, 64, '#abc', 4);
    const res = await postEditForm(gw, { model: 'gemini-2.5-flash-image', prompt: 'fill the sky' }, { image: png, mask: png });
    expect(res.status).toBe(400);
    expect(res.json.error?.param).toBe('mask');
    expect(sim.sim.requests).toHaveLength(0);
  });
});

describe('the async dialects run Google models', () => {
  it("new-api's async dialect: submitted, then succeeded with the image's link", async () => {
    const { gw } = await oneGemini();
    const view = await newApiAsync(gw, { model: 'gemini-2.5-flash-image', prompt: 'an app icon', size: '896x1152' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'png', width: 896, height: 1152 });
  });

  it('the task API dialect: aspect_ratio is Imagen’s own', async () => {
    const { gw, sim } = await oneGemini();
    const view = await taskApi(gw, { model: 'imagen-4.0-fast-generate-001', prompt: 'a tall poster of a harbour', aspect_ratio: '9:16' });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.calls('predict').at(-1)?.body.parameters).toMatchObject({ aspectRatio: '9:16', sampleCount: 1 });
    expect(await describeImageAt(view?.resultUrls?.[0])).toEqual({ format: 'png', width: 768, height: 1408 });
  });
});
