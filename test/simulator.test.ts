import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import OpenAI from 'openai';
import sharp from 'sharp';
import { OpenAIImagesSimulator, startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { renderImage, renderNoiseImage } from '../sim/render.js';
import { rejectionOf } from './helpers/upstream-test-kit.js';

const KEY = 'sk-test-simulator-key';

function client(running: RunningSimulator, apiKey = KEY, timeout?: number): OpenAI {
  return new OpenAI({ apiKey, baseURL: running.baseURL, maxRetries: 0, ...(timeout !== undefined ? { timeout } : {}) });
}

function postJson(running: RunningSimulator, body: unknown, apiKey = KEY, path = '/v1/images/generations'): Promise<Response> {
  return fetch(`${running.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The n-th data item of an SDK response, failing loudly when absent. */
function item(res: OpenAI.ImagesResponse, index = 0): OpenAI.Image {
  const entry = res.data?.[index];
  if (entry === undefined) throw new Error(`response has no data[${index}]`);
  return entry;
}

function b64(res: OpenAI.ImagesResponse, index = 0): Buffer {
  const value = item(res, index).b64_json;
  if (value === undefined) throw new Error('no b64_json');
  return Buffer.from(value, 'base64');
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('render', () => {
  it('renders exact sizes in each format, with alpha only when transparent', async () => {
    const png = await sharp(await renderImage({ width: 3840, height: 2160, format: 'png', text: 'wide <&> "test"' })).metadata();
    expect([png.format, png.width, png.height, png.hasAlpha]).toEqual(['png', 3840, 2160, false]);
    const jpeg = await sharp(await renderImage({ width: 320, height: 200, format: 'jpeg', text: 'x', compression: 40 })).metadata();
    expect([jpeg.format, jpeg.width, jpeg.height]).toEqual(['jpeg', 320, 200]);
    const webp = await sharp(await renderImage({ width: 64, height: 48, format: 'webp', text: 'y', transparent: true })).metadata();
    expect([webp.format, webp.width, webp.height, webp.hasAlpha]).toEqual(['webp', 64, 48, true]);
  });

  it('varies the background by variant and survives hostile text', async () => {
    const text = `${'\u0000<svg>&amp;'.repeat(50)} 🦦`;
    const a = await renderImage({ width: 128, height: 128, format: 'png', text, variant: 0 });
    const b = await renderImage({ width: 128, height: 128, format: 'png', text, variant: 1 });
    expect(a.equals(b)).toBe(false);
  });

  it('makes a ~2 MB noise PNG at 1024x1024', async () => {
    const noise = await renderNoiseImage(1024, 1024);
    expect(noise.length).toBeGreaterThan(1.8e6);
    expect(noise.length).toBeLessThan(2.3e6);
    expect((await sharp(noise).metadata()).width).toBe(1024);
    expect((await renderNoiseImage(1024, 1024)).equals(noise)).toBe(true); // deterministic
  });
});

describe('OpenAI images simulator over HTTP', () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startOpenAISimulator({ apiKey: KEY });
  });
  afterAll(async () => {
    await running.close();
  });

  it('gpt-image-2 returns a decodable PNG of the requested size with GPT metadata and usage', async () => {
    const res = await client(running).images.generate({ model: 'gpt-image-2', prompt: 'A cute baby sea otter', size: '1536x864' });
    const meta = await sharp(b64(res)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 1536, 864]);
    expect(item(res).url).toBeUndefined();
    expect(res).toMatchObject({ background: 'opaque', output_format: 'png', quality: 'medium', size: '1536x864' });
    const outputTokens = Math.round((1056 * 1536 * 864) / (1024 * 1024));
    expect(res.usage).toEqual({
      total_tokens: 6 + outputTokens,
      input_tokens: 6,
      output_tokens: outputTokens,
      input_tokens_details: { text_tokens: 6, image_tokens: 0 },
    });
    expect(Math.abs(res.created - Date.now() / 1000)).toBeLessThan(5);
  });

  it('resolves auto size and quality, and renders n distinct images', async () => {
    const res = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'two', n: 2, quality: 'high' });
    expect(res.data).toHaveLength(2);
    expect(res.size).toBe('1024x1024');
    expect(res.usage?.output_tokens).toBe(2 * 4160);
    expect(b64(res, 0).equals(b64(res, 1))).toBe(false);
  });

  it('honours jpeg and webp output formats, and transparent backgrounds', async () => {
    const sdk = client(running);
    const jpeg = await sdk.images.generate({ model: 'gpt-image-1.5', prompt: 'j', output_format: 'jpeg', output_compression: 50, size: '1024x1536' });
    expect(jpeg.output_format).toBe('jpeg');
    const jm = await sharp(b64(jpeg)).metadata();
    expect([jm.format, jm.width, jm.height]).toEqual(['jpeg', 1024, 1536]);
    const webp = await sdk.images.generate({ model: 'gpt-image-1-mini', prompt: 'w', output_format: 'webp', background: 'transparent' });
    expect(webp.background).toBe('transparent');
    const wm = await sharp(b64(webp)).metadata();
    expect([wm.format, wm.hasAlpha]).toEqual(['webp', true]);
  });

  it('rejects response_format for GPT image models with the OpenAI envelope', async () => {
    const res = await postJson(running, { model: 'gpt-image-2', prompt: 'p', response_format: 'b64_json' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "Unknown parameter: 'response_format'.",
        type: 'invalid_request_error',
        param: 'response_format',
        code: 'unknown_parameter',
      },
    });
    const err = await rejectionOf(client(running).images.generate({ model: 'gpt-image-1', prompt: 'p', response_format: 'url' }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'response_format', code: 'unknown_parameter' });
  });

  it('dall-e-3 answers a fetchable url with revised_prompt and no usage', async () => {
    const res = await client(running).images.generate({ model: 'dall-e-3', prompt: 'a lighthouse', size: '1792x1024' });
    const first = item(res);
    expect(first.revised_prompt).toContain('a lighthouse');
    expect(first.b64_json).toBeUndefined();
    expect(res.usage).toBeUndefined();
    expect(first.url?.startsWith(`${running.origin}/files/`)).toBe(true);
    const image = await fetch(first.url ?? '');
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([1792, 1024]);
  });

  it('defaults to dall-e-2 and honours response_format b64_json', async () => {
    const res = await client(running).images.generate({ prompt: 'default model', size: '256x256', response_format: 'b64_json' });
    const meta = await sharp(b64(res)).metadata();
    expect([meta.width, meta.height]).toEqual([256, 256]);
    expect(item(res).revised_prompt).toBeUndefined();
    expect(res.usage).toBeUndefined();
    expect(running.sim.requests.at(-1)?.json).toEqual({ prompt: 'default model', size: '256x256', response_format: 'b64_json' });
  });

  it('validates requests the way OpenAI does', async () => {
    const cases: [unknown, string | null, string | null][] = [
      [{ model: 'gpt-image-2' }, 'prompt', 'missing_required_parameter'],
      [{ model: 'gpt-image-2', prompt: 42 }, 'prompt', 'invalid_type'],
      [{ model: 'gpt-image-2', prompt: 'p', n: 11 }, 'n', 'integer_above_max_value'],
      [{ model: 'gpt-image-2', prompt: 'p', n: 1.5 }, 'n', 'invalid_type'],
      [{ model: 'dall-e-3', prompt: 'p', n: 2 }, 'n', 'invalid_value'],
      [{ model: 'gpt-image-2', prompt: 'p', size: 'big' }, 'size', 'invalid_value'],
      [{ model: 'gpt-image-2', prompt: 'p', size: '0x1024' }, 'size', 'invalid_value'],
      [{ model: 'gpt-image-1', prompt: 'p', size: '512x512' }, 'size', 'invalid_value'],
      [{ model: 'dall-e-2', prompt: 'p', quality: 'hd' }, 'quality', 'invalid_value'],
      [{ model: 'no-such-model', prompt: 'p' }, 'model', 'invalid_value'],
      ['{"prompt": ', null, null],
    ];
    for (const [body, param, code] of cases) {
      const res = await postJson(running, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json(), JSON.stringify(body)).toMatchObject({ error: { type: 'invalid_request_error', param, code } });
    }
  });

  it('rejects a wrong or missing API key with 401 invalid_api_key', async () => {
    const err = await rejectionOf(client(running, 'sk-wrong-key-123456').images.generate({ model: 'gpt-image-2', prompt: 'p' }));
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
    const res = await fetch(`${running.baseURL}/models`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
  });

  it('lists image models and 404s unknown URLs in the OpenAI envelope', async () => {
    const models = await client(running).models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-image-2', 'gpt-image-1', 'dall-e-3', 'dall-e-2']));
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'system' });
    const res = await postJson(running, {}, KEY, '/v1/images/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: 'Invalid URL (POST /v1/images/nope)', type: 'invalid_request_error', param: null, code: null },
    });
  });

  it('429 fault carries Retry-After and the rate-limit envelope', async () => {
    running.sim.enqueueFault({ kind: 'status', status: 429, retryAfterSeconds: 7 });
    const err = await rejectionOf(client(running).images.generate({ model: 'gpt-image-2', prompt: 'p' }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err).toMatchObject({ status: 429, type: 'requests', code: 'rate_limit_exceeded' });
    if (!(err instanceof OpenAI.APIError)) throw new Error('unreachable');
    expect(err.headers?.get('retry-after')).toBe('7');
  });

  it('500 fault, then the next request succeeds (faults are consumed FIFO)', async () => {
    running.sim.enqueueFault({ kind: 'status', status: 500 }, { kind: 'status', status: 400, message: 'custom', code: 'x' });
    const first = await postJson(running, { model: 'dall-e-2', prompt: 'p', size: '256x256' });
    expect(first.status).toBe(500);
    expect(await first.json()).toMatchObject({ error: { type: 'server_error', code: null } });
    const second = await postJson(running, { model: 'dall-e-2', prompt: 'p', size: '256x256' });
    expect(await second.json()).toEqual({ error: { message: 'custom', type: 'invalid_request_error', param: null, code: 'x' } });
    const third = await postJson(running, { model: 'dall-e-2', prompt: 'p', size: '256x256' });
    expect(third.status).toBe(200);
  });

  it('malformed fault: 200 JSON content type, unparseable body', async () => {
    running.sim.enqueueFault({ kind: 'malformed' });
    const res = await postJson(running, { model: 'gpt-image-2', prompt: 'p' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    await expect(res.json()).rejects.toThrow(SyntaxError);
    running.sim.enqueueFault({ kind: 'malformed' });
    await expect(client(running).images.generate({ model: 'gpt-image-2', prompt: 'p' })).rejects.toThrow();
  });

  it('truncated fault: declared length, then the body read fails', async () => {
    running.sim.enqueueFault({ kind: 'truncated' });
    const res = await postJson(running, { model: 'gpt-image-2', prompt: 'p', size: '512x512' });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(1000);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('hang fault: the client times out and the server counts the abort', async () => {
    const before = running.sim.aborted;
    running.sim.enqueueFault({ kind: 'hang' });
    const err = await rejectionOf(client(running, KEY, 300).images.generate({ model: 'gpt-image-2', prompt: 'p' }));
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    await waitFor(() => running.sim.aborted === before + 1);
    expect(running.sim.aborted).toBe(before + 1);
  });

  it('an abort during latency is counted too, and a delay fault delays', async () => {
    const before = running.sim.aborted;
    running.sim.enqueueFault({ kind: 'delay', ms: 5000 });
    const controller = new AbortController();
    const pending = fetch(`${running.origin}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-2', prompt: 'p' }),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toThrow();
    await waitFor(() => running.sim.aborted === before + 1);
    running.sim.enqueueFault({ kind: 'delay', ms: 250 });
    const started = Date.now();
    const res = await postJson(running, { model: 'dall-e-2', prompt: 'p', size: '256x256' });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });

  it('/_sim/faults enqueues faults from another process and is not recorded', async () => {
    const recorded = running.sim.requests.length;
    const control = await postJson(running, [{ kind: 'status', status: 503, retryAfterSeconds: 2 }], KEY, '/_sim/faults');
    expect(control.status).toBe(200);
    expect(await control.json()).toEqual({ enqueued: 1, pending: 1 });
    const bad = await postJson(running, [{ kind: 'explode' }], KEY, '/_sim/faults');
    expect(bad.status).toBe(400);
    const res = await postJson(running, { model: 'gpt-image-2', prompt: 'p' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(running.sim.requests.length).toBe(recorded + 1);
    const state = await fetch(`${running.origin}/_sim/state`);
    expect(await state.json()).toEqual({ requests: recorded + 1, aborted: running.sim.aborted, pendingFaults: 0 });
  });
});

describe('simulator lifecycle and latency', () => {
  it('adds latencyMs before answers', async () => {
    const running = await startOpenAISimulator({ latencyMs: 150 });
    try {
      const started = Date.now();
      const res = await fetch(`${running.baseURL}/models`);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      await running.close();
    }
  });

  it('close() ends hanging requests promptly without counting them as aborts', async () => {
    const running = await startOpenAISimulator();
    running.sim.enqueueFault({ kind: 'hang' });
    const pending = fetch(`${running.baseURL}/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'p' }),
    });
    await waitFor(() => running.sim.requests.length === 1);
    const started = Date.now();
    await running.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
    expect(running.sim.aborted).toBe(0);
  });
});

describe('relay mode', () => {
  const relays: RunningSimulator[] = [];
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.close()));
  });
  async function relay(answer: 'url' | 'b64_json' | 'data_uri', maxImages?: number): Promise<RunningSimulator> {
    const started = await startOpenAISimulator({ relay: { answer, ...(maxImages !== undefined ? { maxImages } : {}) } });
    relays.push(started);
    return started;
  }

  it('url relay answers hosted URLs even for GPT models and accepts response_format', async () => {
    const running = await relay('url');
    const res = await client(running).images.generate({ model: 'gpt-image-2', prompt: 'r', response_format: 'b64_json', size: '512x512' });
    expect(item(res).b64_json).toBeUndefined();
    expect(res.usage?.output_tokens).toBe(264);
    const image = await fetch(item(res).url ?? '');
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).toBe(512);
  });

  it('b64_json relay ignores response_format url for dall-e and adds no usage', async () => {
    const running = await relay('b64_json');
    const res = await client(running).images.generate({ model: 'dall-e-2', prompt: 'r', size: '256x256', response_format: 'url' });
    expect(item(res).url).toBeUndefined();
    expect((await sharp(b64(res)).metadata()).width).toBe(256);
    expect(res.usage).toBeUndefined();
  });

  it('data_uri relay caps the image count', async () => {
    const running = await relay('data_uri', 2);
    const res = await client(running).images.generate({ model: 'dall-e-2', prompt: 'r', size: '256x256', n: 4 });
    expect(res.data).toHaveLength(2);
    const url = item(res).url ?? '';
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    const meta = await sharp(Buffer.from(url.slice('data:image/png;base64,'.length), 'base64')).metadata();
    expect(meta.format).toBe('png');
  });
});

describe('in-process core', () => {
  const request = (body: unknown, path = '/v1/images/generations') => ({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  });

  it('fixedImage answers from cached bytes without rendering', async () => {
    const fixed = await renderImage({ width: 40, height: 30, format: 'webp', text: 'fixed' });
    const sim = new OpenAIImagesSimulator({ fixedImage: fixed });
    const first = await sim.handle(request({ model: 'gpt-image-2', prompt: 'bench', n: 3 }));
    const second = await sim.handle(request({ model: 'gpt-image-2', prompt: 'bench', n: 3 }));
    if (first.kind !== 'full' || second.kind !== 'full') throw new Error('expected full responses');
    expect(second.body).toBe(first.body); // the very same Buffer: no per-request serialisation
    const json: unknown = JSON.parse(first.body.toString());
    const fixedItem = { b64_json: fixed.toString('base64') };
    expect(json).toMatchObject({ output_format: 'webp', size: '40x30', data: [fixedItem, fixedItem, fixedItem] });
    expect(first.headers['content-type']).toBe('application/json');
    // A different prompt changes the usage, so it must not be served from the same cache entry.
    const longer = await sim.handle(request({ model: 'gpt-image-2', prompt: 'a much longer benchmark prompt', n: 3 }));
    if (longer.kind !== 'full') throw new Error('expected a full response');
    expect(JSON.parse(longer.body.toString())).toMatchObject({ usage: { input_tokens: 8 } });
  });

  it('records requests and answers hang faults as hang', async () => {
    const sim = new OpenAIImagesSimulator({ publicBaseUrl: 'http://example.test/' });
    sim.enqueueFault({ kind: 'hang' });
    expect(await sim.handle(request({ prompt: 'x' }))).toEqual({ kind: 'hang' });
    const answer = await sim.handle(request({ prompt: 'x', size: '256x256' }));
    if (answer.kind !== 'full') throw new Error('expected a full response');
    expect(JSON.parse(answer.body.toString())).toMatchObject({ data: [{ url: expect.stringMatching(/^http:\/\/example\.test\/files\/img-/) }] });
    expect(sim.requests.map((r) => r.json)).toEqual([{ prompt: 'x' }, { prompt: 'x', size: '256x256' }]);
  });
});
