/**
 * The dialects' small print, end to end through the real server: usage in both vocabularies
 * (OpenAI's image fields and the chat-style ones relays document) in sync JSON, stream and task
 * results; `background` and `style` as objects, passed to relay channels and refused (400 naming
 * the param) where only official upstreams serve the model; the task API's callback naming the
 * model `<provider>/<model>` and repeating the create body as the caller sent it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { withChatUsage } from '../src/core/usage.js';
import { startOpenAISimulator, type OpenAISimulatorOptions, type RunningSimulator } from '../sim/openai/simulator.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';

closeAfterEach();

interface Usage {
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
  [extra: string]: unknown;
}

/** The chat-style fields an OpenAI usage must carry beside its own, with the same counts. */
function expectBothVocabularies(usage: Usage | undefined): void {
  expect(usage?.total_tokens).toBeGreaterThan(0);
  const { input_tokens: input, output_tokens: output, input_tokens_details: details } = usage as Usage;
  expect(usage).toMatchObject({
    total_tokens: input + output,
    prompt_tokens: input,
    completion_tokens: output,
    prompt_tokens_details: { text_tokens: details.text_tokens, image_tokens: details.image_tokens, cached_tokens: 0 },
    completion_tokens_details: { image_tokens: output, text_tokens: 0 },
  });
}

async function gatewayOn(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_TASK_POLL: '50ms', ...env }));
}

async function simulator(opts: OpenAISimulatorOptions = {}): Promise<RunningSimulator> {
  return later(await startOpenAISimulator(opts));
}

const official = (sim: RunningSimulator, extra: Record<string, unknown> = {}) => ({
  name: 'official',
  kind: 'openai',
  base_url: sim.baseURL,
  api_key: 'sk-official',
  ...extra,
});

/** The image requests an upstream simulator got (its control requests excluded). */
const imageRequests = (sim: RunningSimulator) => sim.sim.requests.filter((r) => r.path.startsWith('/v1/images/'));

describe('usage in both vocabularies', () => {
  it('sync JSON answers, url and b64_json, carry prompt_tokens, completion_tokens and their details beside the image fields', async () => {
    const gw = await gatewayOn([official(await simulator())]);
    for (const response_format of ['url', 'b64_json']) {
      const res = await postJson(gw, '/v1/images/generations', {
        model: 'gpt-image-1.5',
        prompt: 'a tally of tokens',
        size: '1024x1024',
        quality: 'low',
        response_format,
      });
      expect(res.status, res.text.slice(0, 200)).toBe(200);
      expectBothVocabularies(res.json?.usage as Usage);
      // The counts are the upstream's own: low quality at 1024x1024 is 272 output tokens.
      expect(res.json?.usage).toMatchObject({ output_tokens: 272, completion_tokens: 272 });
    }
  });

  it("the stream's completed event carries them too", async () => {
    const gw = await gatewayOn([official(await simulator())]);
    const stream = await gw.client.images.generate({
      model: 'gpt-image-1.5',
      prompt: 'streamed tokens',
      size: '1024x1024',
      quality: 'low',
      stream: true,
      partial_images: 1,
    });
    const completed: unknown[] = [];
    for await (const event of stream) if (event.type === 'image_generation.completed') completed.push(event.usage);
    expect(completed).toHaveLength(1);
    expectBothVocabularies(completed[0] as Usage);
  });

  it("a task's stored result carries them (new-api async dialect)", async () => {
    const gw = await gatewayOn([official(await simulator())]);
    const res = await postJson(
      gw,
      '/v1/images/generations',
      { model: 'gpt-image-1.5', prompt: 'tokens, later', size: '1024x1024' },
      { 'x-new-api-async-task': 'true' },
    );
    expect(res.status).toBe(200);
    const id = String((res.json?.data as { task_id: string }).task_id);
    await expect
      .poll(async () => (await gw.app.database.db.selectFrom('tasks').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status, {
        timeout: 15_000,
        interval: 50,
      })
      .toBe('succeeded');
    const row = await gw.app.database.db.selectFrom('tasks').select('result').where('id', '=', id).executeTakeFirstOrThrow();
    expectBothVocabularies((JSON.parse(String(row.result)) as { usage?: Usage }).usage);
  });

  it('keeps what an upstream said in either vocabulary and fills only what it left out', () => {
    const relay = withChatUsage({
      total_tokens: 30,
      input_tokens: 10,
      output_tokens: 20,
      prompt_tokens: 10,
      prompt_tokens_details: { text_tokens: 4, image_tokens: 6, cached_tokens: 3 },
    });
    expect(relay).toEqual({
      total_tokens: 30,
      input_tokens: 10,
      output_tokens: 20,
      prompt_tokens: 10,
      prompt_tokens_details: { text_tokens: 4, image_tokens: 6, cached_tokens: 3 },
      input_tokens_details: { text_tokens: 4, image_tokens: 6 },
      completion_tokens: 20,
      completion_tokens_details: { image_tokens: 20, text_tokens: 0 },
    });
    // Chat-style only: the image fields are filled from it; no breakdown is made up.
    expect(withChatUsage({ total_tokens: 7, prompt_tokens: 2, completion_tokens: 5 } as never)).toEqual({
      total_tokens: 7,
      prompt_tokens: 2,
      completion_tokens: 5,
      input_tokens: 2,
      output_tokens: 5,
      completion_tokens_details: { image_tokens: 5, text_tokens: 0 },
    });
  });
});

describe('background and style as objects', () => {
  const BACKGROUND = { color: '#f5efe0', texture: 'paper' };
  const STYLE = { preset: 'watercolor', strength: 0.7 };

  it('reach a relay channel as given: background on a GPT model, style on gpt-image-2 and on dall-e-3', async () => {
    const relay = await simulator({ relay: { answer: 'b64_json' } });
    const gw = await gatewayOn([relayChannel('relay', relay.baseURL)]);
    const gpt = await postJson(gw, '/v1/images/generations', { prompt: 'a paper backdrop', background: BACKGROUND, style: STYLE, response_format: 'b64_json' });
    expect(gpt.status, gpt.text.slice(0, 300)).toBe(200);
    expect(imageRequests(relay).at(-1)?.json).toMatchObject({ model: 'gpt-image-2', background: BACKGROUND, style: STYLE });
    const dalle = await postJson(gw, '/v1/images/generations', { model: 'dall-e-3', prompt: 'a styled poster', style: STYLE });
    expect(dalle.status, dalle.text.slice(0, 300)).toBe(200);
    expect(imageRequests(relay).at(-1)?.json).toMatchObject({ model: 'dall-e-3', style: STYLE });
  });

  it('go to the relay when an official channel serves the model too, even at a higher priority', async () => {
    const openai = await simulator();
    const relay = await simulator({ relay: { answer: 'b64_json' } });
    const gw = await gatewayOn([official(openai, { priority: 10 }), relayChannel('relay', relay.baseURL)]);
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'prefer the relay', background: BACKGROUND });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(imageRequests(openai)).toHaveLength(0);
    expect(imageRequests(relay).at(-1)?.json).toMatchObject({ background: BACKGROUND });
    // A string background still takes the official channel first.
    expect((await postJson(gw, '/v1/images/generations', { prompt: 'plain', background: 'opaque' })).status).toBe(200);
    expect(imageRequests(openai)).toHaveLength(1);
  });

  it('are a 400 naming the param where only official upstreams serve the model, with nothing sent; a string style outside the enum is still refused', async () => {
    const openai = await simulator();
    const gw = await gatewayOn([official(openai)]);
    const background = await postJson(gw, '/v1/images/generations', { prompt: 'no relay here', background: BACKGROUND });
    expect(background.status).toBe(400);
    expect(background.json?.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_type',
      param: 'background',
      message: expect.stringMatching(/relay channels/),
    });
    const style = await postJson(gw, '/v1/images/generations', { model: 'dall-e-3', prompt: 'no relay here', style: STYLE });
    expect(style.status).toBe(400);
    expect(style.json?.error).toMatchObject({ code: 'invalid_type', param: 'style' });
    expect((await postJson(gw, '/v1/images/generations', { model: 'dall-e-3', prompt: 'x', style: 'anime' })).json?.error).toMatchObject({
      code: 'invalid_value',
      param: 'style',
    });
    expect(imageRequests(openai)).toHaveLength(0);
    // gpt-image-2 is never sent `style` by an official channel: an object there is dropped, not refused.
    expect((await postJson(gw, '/v1/images/generations', { prompt: 'styled', style: STYLE })).status).toBe(200);
    expect(imageRequests(openai).at(-1)?.json).not.toHaveProperty('style');
  });
});

describe("the task API's callback", () => {
  it('names the model <provider>/<model> and repeats the create body as the caller sent it (aspect_ratio, not the size it became)', async () => {
    const received: { data: Record<string, unknown> }[] = [];
    const hook = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        received.push(JSON.parse(text) as { data: Record<string, unknown> });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => hook.close(() => resolve())));
    const openai = await simulator();
    const gw = await gatewayOn([official(openai)], { IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1' });
    const body = {
      model: 'gpt-image-2-beta',
      prompt: 'Studio photo of a ceramic mug on a marble counter',
      aspect_ratio: '16:9',
      nsfw_checker: true,
      callback_url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/webhook/image`,
    };
    const res = await postJson(gw, '/api/v1/images/generations', body);
    expect(res.status, res.text).toBe(200);
    await expect.poll(() => received.length, { timeout: 15_000, interval: 50 }).toBe(1);
    const data = received[0]?.data ?? {};
    expect(data).toMatchObject({ taskId: (res.json?.data as { taskId: string }).taskId, model: 'openai/gpt-image-2-beta', state: 'completed' });
    expect(JSON.parse(String(data.param))).toEqual(body);
    // The upstream got the size the ratio became; the callback kept what was sent.
    expect(imageRequests(openai).at(-1)?.json).toMatchObject({ size: '1536x864' });
  });
});
