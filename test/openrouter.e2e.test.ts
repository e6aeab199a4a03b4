import { describe, expect, it } from 'vitest';
import {
  SIM_MODELS,
  startOpenRouterSimulator,
  type OpenRouterSimModel,
  type OpenRouterSimulatorOptions,
  type RunningOpenRouterSimulator,
} from '../sim/openrouter.js';
import { taskApi } from './helpers/async-dialects.js';
import { closeAfterEach } from './helpers/cleanup.js';
import { postJson } from './helpers/gateway.js';
import {
  type ChannelEntry,
  describeBase64 as decoded,
  describeImageAt,
  gatewayWith,
  listedChannels,
  plainPng,
  postEditForm,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'sk-or-v1-test';

const openrouter = vendorKit({
  kind: 'openrouter',
  key: KEY,
  start: (opts: OpenRouterSimulatorOptions) => startOpenRouterSimulator({ apiKey: KEY, ...opts }),
  baseUrl: (sim) => sim.baseUrl,
});
const orSim = openrouter.sim;
const channel = openrouter.channel;
const oneChannel = (extra: ChannelEntry = {}, opts: OpenRouterSimulatorOptions = {}) => openrouter.one(opts, extra);

/** Until the channel's model list has been read (it is fetched in the background). */
async function listRead(sim: RunningOpenRouterSimulator): Promise<void> {
  await expect.poll(() => sim.sim.listCalls, { timeout: 5_000 }).toBeGreaterThan(0);
  // The list answered in a few milliseconds; room for a busy machine to read it.
  await new Promise((resolve) => setTimeout(resolve, 400));
}

describe('generations through OpenRouter chat completions', () => {
  it('gemini-2.5-flash-image: the chat request as OpenRouter documents it, a real PNG of the ratio asked, token usage', async () => {
    const { gw, sim } = await oneChannel({ headers: { 'HTTP-Referer': 'https://gateway.example', 'X-Title': 'imagegate tests' } });
    const answer = await gw.client.images.generate({
      model: 'gemini-2.5-flash-image',
      prompt: 'a lighthouse at dusk',
      size: '1344x768' as never,
      response_format: 'b64_json',
      user: 'end-user-7',
    });
    expect(await decoded(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1344, height: 768 });
    expect(answer).toMatchObject({ size: '1344x768', output_format: 'png' });
    expect(answer.usage).toMatchObject({ output_tokens: 1298, output_tokens_details: { image_tokens: 1290, text_tokens: 8 } });
    const [call] = sim.sim.calls;
    expect(call?.body).toEqual({
      model: 'google/gemini-2.5-flash-image',
      user: 'end-user-7',
      messages: [{ role: 'user', content: 'a lighthouse at dusk' }],
      modalities: ['image', 'text'],
      image_config: { aspect_ratio: '16:9' },
      stream: false,
    });
    expect(call?.headers).toMatchObject({ authorization: `Bearer ${KEY}`, 'http-referer': 'https://gateway.example', 'x-title': 'imagegate tests' });
  });

  it('gemini-3-pro-image-preview at 2K: aspect_ratio and image_size; n images are n calls; seed goes through; jpeg converted', async () => {
    const { gw, sim } = await oneChannel();
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
    expect(sim.sim.calls).toHaveLength(2);
    for (const call of sim.sim.calls) {
      expect(call.body).toMatchObject({ seed: 7, modalities: ['image', 'text'], image_config: { aspect_ratio: '16:9', image_size: '2K' } });
    }
  });

  it('edit: the input image as an image_url data URI beside the prompt text; auto size is the image’s own', async () => {
    const { gw, sim } = await oneChannel();
    const input = await plainPng(600, 400, '#48a');
    const answer = await gw.client.images.edit({
      model: 'gemini-2.5-flash-image',
      prompt: 'add a red kite in the sky',
      image: new File([input], 'photo.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await decoded(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1248, height: 832 });
    expect(answer.size).toBe('1248x832');
    const content = (sim.sim.calls[0]?.body.messages as { content: { type: string; text?: string; image_url?: { url: string } }[] }[])[0]?.content;
    expect(content?.[0]).toEqual({ type: 'text', text: 'add a red kite in the sky' });
    expect(content?.[1]?.type).toBe('image_url');
    expect(Buffer.from(content?.[1]?.image_url?.url.replace(/^data:image\/png;base64,/, '') ?? '', 'base64').equals(input)).toBe(true);
    expect(sim.sim.calls[0]?.body.image_config).toBeUndefined();
  });

  it('image-only models (Seedream 4.5, FLUX.2) are asked for images alone; a FLUX model through the channel’s model_map too', async () => {
    const { gw, sim } = await oneChannel({ model_map: { 'gpt-image-1': { upstream_model: 'black-forest-labs/flux.2-pro' } } });
    const seedream = await gw.client.images.generate({ model: 'seedream-4.5', prompt: 'a tea house', size: '2048x2048' as never, response_format: 'b64_json' });
    expect(await decoded(seedream.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 2048, height: 2048 });
    expect(sim.sim.calls[0]?.body).toMatchObject({
      model: 'bytedance-seed/seedream-4.5',
      modalities: ['image'],
      image_config: { aspect_ratio: '1:1', image_size: '2K' },
    });
    const flux = await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'a poster', size: '1024x1536', response_format: 'b64_json' });
    // OpenRouter makes 2:3 at its own 832x1248; the gateway hands over the size asked.
    expect(await decoded(flux.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1024, height: 1536 });
    expect(flux.size).toBe('1024x1536');
    // The BFL catalogue's FLUX.2 models by their built-in slugs.
    const flux2 = await gw.client.images.generate({ model: 'flux-2-pro', prompt: 'a kite', size: '1248x832' as never, response_format: 'b64_json' });
    expect(await decoded(flux2.data?.[0]?.b64_json)).toMatchObject({ width: 1248, height: 832 });
    expect(sim.sim.calls[2]?.body).toMatchObject({ model: 'black-forest-labs/flux.2-pro', modalities: ['image'], image_config: { aspect_ratio: '3:2' } });
    expect(sim.sim.calls[1]?.body).toMatchObject({ model: 'black-forest-labs/flux.2-pro', modalities: ['image'], image_config: { aspect_ratio: '2:3' } });
  });
});

describe('streams and aliases', () => {
  it('a stream of an operator’s alias: the final image as the one completed event, the alias sent as its base model’s slug', async () => {
    const sim = await orSim();
    const gw = await gatewayWith([channel('openrouter', sim)], {}, { models: [{ name: 'nano-banana', base: 'gemini-2.5-flash-image' }] });
    const stream = await gw.client.images.generate({ model: 'nano-banana', prompt: 'a fox', size: '1024x1024', stream: true });
    const events: { type: string; b64_json?: string; size?: string }[] = [];
    for await (const event of stream) events.push(event as never);
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed']);
    expect(await decoded(events[0]?.b64_json)).toEqual({ format: 'png', width: 1024, height: 1024 });
    expect(sim.sim.calls[0]?.body).toMatchObject({ model: 'google/gemini-2.5-flash-image', stream: false, image_config: { aspect_ratio: '1:1' } });
  });
});

describe("the channel's model list", () => {
  it('is read once per channel, in the background; a slug OpenRouter does not list and a text model are refused before any call', async () => {
    const { gw, sim } = await oneChannel({
      model_map: { 'gpt-image-1': { upstream_model: 'acme/not-on-openrouter' }, 'gpt-image-1-mini': { upstream_model: 'openai/gpt-4o-mini' } },
    });
    await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'one' });
    await listRead(sim);
    await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'two' });
    expect(sim.sim.listCalls).toBe(1);
    const calls = sim.sim.calls.length;
    for (const model of ['gpt-image-1', 'gpt-image-1-mini']) {
      const res = await postJson(gw, '/v1/images/generations', { model, prompt: 'a poster' });
      expect(res.status, model).toBe(503);
      expect(res.json, model).toMatchObject({ error: { code: 'no_available_channel' } });
    }
    expect(sim.sim.calls.length).toBe(calls);
  });

  it('input images to a model the list says takes none: 400 unsupported_input naming image, before any call', async () => {
    const textToImageOnly = { ...SIM_MODELS['black-forest-labs/flux.2-pro'], name: 'Acme: text to image', inputModalities: ['text'] } as OpenRouterSimModel;
    const { gw, sim } = await oneChannel(
      { model_map: { 'gpt-image-1': { upstream_model: 'acme/text-to-image' } } },
      { extraModels: { 'acme/text-to-image': textToImageOnly } },
    );
    await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'one', size: '1024x1024' });
    await listRead(sim);
    const calls = sim.sim.calls.length;
    const input = await plainPng(64, 64, '#333');
    const res = await postEditForm(gw, { model: 'gpt-image-1', prompt: 'make it blue' }, { image: input });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'unsupported_input', param: 'image' } });
    expect(sim.sim.calls.length).toBe(calls);
  });

  it('a list that cannot be read breaks nothing: generations go on, and it is asked again later, not per request', async () => {
    const { gw, sim } = await oneChannel({}, { listFails: true });
    for (const prompt of ['one', 'two', 'three']) {
      const answer = await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt, response_format: 'b64_json' });
      expect(await decoded(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'png' });
    }
    expect(sim.sim.listCalls).toBe(1);
  });

  it('a catalogue model without a known slug is not taken by an openrouter channel', async () => {
    const { gw, sim } = await oneChannel();
    const res = await postJson(gw, '/v1/images/generations', { model: 'dall-e-3', prompt: 'a poster' });
    expect(res.status).toBe(503);
    expect(sim.sim.calls).toHaveLength(0);
  });
});

describe('refusals and errors', () => {
  it('OpenRouter’s moderation (403 with reasons) is 400 content_policy_violation with the reasons, and the key stays', async () => {
    const { gw, sim } = await oneChannel();
    const res = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'a fight [sim:moderation]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(JSON.stringify(res.json)).toContain('violence');
    await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a quiet garden' });
    expect(sim.sim.generations).toBe(1);
  });

  it('the model’s safety refusal (content_filter, IMAGE_SAFETY) is 400 content_policy_violation; no image otherwise is not', async () => {
    const { gw } = await oneChannel();
    const refused = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'something [sim:image-safety]' });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(JSON.stringify(refused.json)).toContain('IMAGE_SAFETY');
    const textOnly = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'words [sim:text-only]' });
    expect(textOnly.status).toBe(502);
  });

  it('401 disables the key and the next one serves; a 402 (out of credits) and a 429 fail over to another channel', async () => {
    const sim = await orSim();
    const gw = await gatewayWith([channel('two-keys', sim, { api_key: undefined, api_keys: ['sk-or-v1-revoked', KEY] })]);
    await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a harbour' });
    const channels = await listedChannels(gw);
    expect(channels[0]?.api_keys.map((k) => k.disabled_reason)).toEqual([expect.stringMatching(/401/), null]);
    const before = sim.sim.calls.length;
    await gw.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'again' });
    expect(sim.sim.calls.slice(before).map((c) => c.headers.authorization)).toEqual([`Bearer ${KEY}`]);

    const broke = await orSim({ creditImages: 0 });
    const limited = await orSim();
    limited.sim.enqueueFault({ status: 429, message: 'Rate limit exceeded: free-models-per-min', retryAfterSeconds: 30 });
    const good = await orSim();
    const gw2 = await gatewayWith([channel('broke', broke, { priority: 20 }), channel('limited', limited, { priority: 10 }), channel('good', good)]);
    const answer = await gw2.client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await decoded(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'png' });
    expect([broke.sim.calls.length, limited.sim.calls.length, good.sim.generations]).toEqual([1, 1, 1]);
  });

  it('OpenRouter’s 400 is the client’s 400 naming our field; a model failing inside a 200 answer is the upstream’s error', async () => {
    const { gw, sim } = await oneChannel();
    sim.sim.enqueueFault({ status: 400, message: 'image_config.aspect_ratio: Invalid enum value' });
    const res = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'a harbour', size: '1024x1024' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'size', message: expect.stringContaining('aspect_ratio') } });
    const failed = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'x [sim:model-error]' }, {});
    expect(failed.status).toBe(502);
    expect(sim.sim.generations).toBe(0);
  });

  it('what OpenRouter cannot do is refused before any call, naming the field', async () => {
    const { gw, sim } = await oneChannel();
    const foreign = await postJson(gw, '/v1/images/generations', { model: 'gemini-2.5-flash-image', prompt: 'a harbour', guidance_scale: 3 });
    expect(foreign.status).toBe(400);
    expect(foreign.json).toMatchObject({ error: { code: 'unsupported_parameter', param: 'guidance_scale' } });
    const input = await plainPng(64, 64, '#3338', 4);
    const res = await postEditForm(gw, { model: 'gemini-2.5-flash-image', prompt: 'fill the hole' }, { image: input, mask: input });
    expect(res.status).toBe(400);
    expect(res.json.error?.param).toBe('mask');
    expect(sim.sim.calls).toHaveLength(0);
  });
});

describe('the task API dialect', () => {
  it('runs an OpenRouter generation to its end: aspect_ratio as image_config', async () => {
    const { gw, sim } = await oneChannel();
    const view = await taskApi(gw, { model: 'gemini-3-pro-image-preview', prompt: 'a tall poster of a harbour', aspect_ratio: '9:16' });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.calls.at(-1)?.body.image_config).toEqual({ aspect_ratio: '9:16' });
    expect(await describeImageAt(view?.resultUrls?.[0])).toEqual({ format: 'png', width: 768, height: 1376 });
  });
});
