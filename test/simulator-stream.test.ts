// The OpenAI simulator's streamed answers (stream=true: server-sent events with partial images),
// over real HTTP: the official SDK where it can read them, raw fetch for the exact wire framing,
// timing and faults, and sharp to check that every image is real.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import OpenAI, { APIError, toFile } from 'openai';
import sharp from 'sharp';
import { startOpenAISimulator, type OpenAISimulatorOptions, type RunningSimulator } from '../sim/openai/simulator.js';
import { renderImage, renderNoiseImage } from '../sim/render.js';
import { rejectionOf } from './helpers/upstream-test-kit.js';

const KEY = 'sk-test-stream-key';

// -- helpers --------------------------------------------------------------------

function client(running: RunningSimulator): OpenAI {
  return new OpenAI({ apiKey: KEY, baseURL: running.baseURL, maxRetries: 0 });
}

function post(running: RunningSimulator, body: unknown, path = '/v1/images/generations', signal?: AbortSignal): Promise<Response> {
  return fetch(`${running.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
    ...(signal !== undefined ? { signal } : {}),
  });
}

interface ImageFacts {
  format: string | undefined;
  width: number | undefined;
  height: number | undefined;
}

async function facts(b64: string): Promise<ImageFacts> {
  const meta = await sharp(Buffer.from(b64, 'base64')).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}

/** Every event of an SDK stream, in order. */
async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const events: T[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

interface RawEvent {
  event: string;
  data: string;
  /** ms since the request was sent */
  at: number;
}

/**
 * Reads an SSE body as it arrives, splitting on the blank line that ends each event, and stops
 * (aborting the request) once `stopAfter` events are in. Rejects when the body is cut.
 */
async function readEvents(res: Response, startedAt: number, stopAfter = Infinity, abort?: AbortController): Promise<RawEvent[]> {
  const reader = res.body?.getReader();
  if (reader === undefined) throw new Error('no body');
  const decoder = new TextDecoder();
  const events: RawEvent[] = [];
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      events.push({ ...parseFrame(buffered.slice(0, end)), at: performance.now() - startedAt });
      buffered = buffered.slice(end + 2);
      if (events.length >= stopAfter) {
        abort?.abort();
        await reader.cancel().catch(() => undefined);
        return events;
      }
    }
  }
  expect(buffered).toBe(''); // nothing after the last event's blank line
  return events;
}

/** One event exactly as OpenAI frames it: `event: <type>\ndata: <json>`. */
function parseFrame(frame: string): { event: string; data: string } {
  const match = /^event: ([^\n]+)\ndata: ([^\n]+)$/.exec(frame);
  if (match === null) throw new Error(`not an SSE event frame: ${frame.slice(0, 120)}`);
  return { event: match[1] ?? '', data: match[2] ?? '' };
}

function dataOf(event: RawEvent): Record<string, unknown> {
  return JSON.parse(event.data) as Record<string, unknown>;
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function withSimulator(opts: OpenAISimulatorOptions, run: (running: RunningSimulator) => Promise<void>): Promise<void> {
  const running = await startOpenAISimulator({ apiKey: KEY, ...opts });
  try {
    await run(running);
  } finally {
    await running.close();
  }
}

const USAGE_KEYS = ['input_tokens', 'input_tokens_details', 'output_tokens', 'total_tokens'];

// -- generations and edits through the SDK ---------------------------------------

describe('OpenAI simulator streaming: events through the SDK', () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startOpenAISimulator({ apiKey: KEY });
  });
  afterAll(async () => {
    await running.close();
  });

  it('streams partial images then the completed image, each a real image of the requested size and format', async () => {
    const stream = await client(running).images.generate({
      model: 'gpt-image-1',
      prompt: 'a lighthouse at dusk',
      stream: true,
      partial_images: 2,
      size: '1024x1536',
      output_format: 'webp',
      quality: 'low',
    });
    const events = await collect(stream);
    expect(events.map((e) => e.type)).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
    const [first, second, done] = events;
    if (first?.type !== 'image_generation.partial_image' || second?.type !== 'image_generation.partial_image') throw new Error('partials');
    if (done?.type !== 'image_generation.completed') throw new Error('completed');
    expect([first.partial_image_index, second.partial_image_index]).toEqual([0, 1]);
    for (const event of events) {
      expect(event).toMatchObject({ size: '1024x1536', quality: 'low', background: 'opaque', output_format: 'webp' });
      expect(Math.abs(event.created_at - Date.now() / 1000)).toBeLessThan(60);
      expect(await facts(event.b64_json)).toEqual({ format: 'webp', width: 1024, height: 1536 });
    }
    expect(Object.keys(done.usage).sort()).toEqual(USAGE_KEYS);
    expect(done.usage.output_tokens).toBe(408); // 272 per 1024x1024 at low, scaled by 1.5
    expect(done).not.toHaveProperty('partial_image_index');
    expect(first).not.toHaveProperty('usage');
    // Previews are not the final image, and sharpen from one to the next.
    expect(new Set(events.map((e) => e.b64_json)).size).toBe(3);
  });

  it('n=2: each image’s partials in order, then its completed event, image by image', async () => {
    const stream = await client(running).images.generate({
      model: 'gpt-image-1',
      prompt: 'two otters',
      n: 2,
      stream: true,
      partial_images: 1,
      size: '1024x1024',
      output_format: 'jpeg',
    });
    const events = await collect(stream);
    expect(events.map((e) => (e.type === 'image_generation.partial_image' ? `partial ${e.partial_image_index}` : 'completed'))).toEqual([
      'partial 0',
      'completed',
      'partial 0',
      'completed',
    ]);
    const completed = events.filter((e) => e.type === 'image_generation.completed');
    expect(completed[0]?.b64_json).not.toBe(completed[1]?.b64_json); // two different images
    for (const event of events) expect(await facts(event.b64_json)).toEqual({ format: 'jpeg', width: 1024, height: 1024 });
    // The whole request's usage on each completed event (see openai-stream.ts): the same as unstreamed.
    const plain = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'two otters', n: 2, size: '1024x1024', output_format: 'jpeg' });
    for (const event of completed) expect(event.usage).toEqual(plain.usage);
  });

  it('partial_images 0 (the default) sends just the completed event', async () => {
    const events = await collect(await client(running).images.generate({ model: 'gpt-image-1.5', prompt: 'p', stream: true, quality: 'low' }));
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed']);
  });

  it('streams multipart edits (image_edit.* events) and records the request', async () => {
    const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#3366aa' } })
      .png()
      .toBuffer();
    const stream = await client(running).images.edit({
      model: 'gpt-image-1',
      image: await toFile(photo, 'photo.png', { type: 'image/png' }),
      prompt: 'add a red balloon',
      stream: true,
      partial_images: 2,
      output_format: 'png',
      background: 'transparent',
      quality: 'low',
    });
    const events = await collect(stream);
    expect(events.map((e) => e.type)).toEqual(['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed']);
    for (const event of events) {
      // size auto follows the 3:2 input.
      expect(event).toMatchObject({ size: '1536x1024', background: 'transparent', output_format: 'png', quality: 'low' });
      expect(await facts(event.b64_json)).toEqual({ format: 'png', width: 1536, height: 1024 });
    }
    const done = events[2];
    if (done?.type !== 'image_edit.completed') throw new Error('completed');
    expect(done.usage.input_tokens_details.image_tokens).toBeGreaterThan(0);
    expect(running.sim.requests.at(-1)?.form?.fields).toMatchObject({ stream: 'true', partial_images: '2' });
  });

  it('streams JSON edits too', async () => {
    const photo = await renderImage({ width: 64, height: 64, format: 'png', text: 'in' });
    const res = await post(
      running,
      { prompt: 'p', images: [{ image_url: `data:image/png;base64,${photo.toString('base64')}` }], stream: true, partial_images: 1, quality: 'low' },
      '/v1/images/edits',
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = await readEvents(res, performance.now());
    expect(events.map((e) => e.event)).toEqual(['image_edit.partial_image', 'image_edit.completed']);
  });

  it('refuses stream for dall-e models as the API does, before any stream', async () => {
    const dalle3 = await rejectionOf(client(running).images.generate({ model: 'dall-e-3', prompt: 'p', stream: true }));
    expect(dalle3).toBeInstanceOf(APIError);
    expect([(dalle3 as APIError).status, (dalle3 as APIError).param, (dalle3 as APIError).code]).toEqual([400, 'stream', 'unsupported_value']);
    const form = new FormData();
    const square = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    form.append('model', 'dall-e-2');
    form.append('prompt', 'p');
    form.append('stream', 'true');
    form.append('image', new Blob([new Uint8Array(square)], { type: 'image/png' }), 'a.png');
    const res = await fetch(`${running.origin}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: form });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({ error: { param: 'stream', code: 'unsupported_value' } });
  });

  it('validates partial_images like the spec (0..3)', async () => {
    const res = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 4 });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'partial_images', code: 'integer_above_max_value' } });
  });
});

// -- the wire ----------------------------------------------------------------------

describe('OpenAI simulator streaming: the wire', () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startOpenAISimulator({ apiKey: KEY });
  });
  afterAll(async () => {
    await running.close();
  });

  it('frames each event exactly as `event: <type>\\ndata: <json>\\n\\n`, as text/event-stream', async () => {
    const res = await post(running, { model: 'gpt-image-1', prompt: 'framing', stream: true, partial_images: 1, quality: 'low', size: '1024x1024' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('content-length')).toBeNull(); // streamed, not buffered
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const text = await res.text();
    const frames = text.split('\n\n');
    expect(frames.pop()).toBe(''); // the body ends with the last event's blank line
    const events = frames.map(parseFrame);
    expect(events.map((e) => e.event)).toEqual(['image_generation.partial_image', 'image_generation.completed']);
    for (const event of events) expect((JSON.parse(event.data) as { type: string }).type).toBe(event.event);
    const partial = JSON.parse(events[0]?.data ?? '') as Record<string, unknown>;
    expect(Object.keys(partial)).toEqual(['type', 'b64_json', 'created_at', 'size', 'quality', 'background', 'output_format', 'partial_image_index']);
    const completed = JSON.parse(events[1]?.data ?? '') as Record<string, unknown>;
    expect(Object.keys(completed)).toEqual(['type', 'b64_json', 'created_at', 'size', 'quality', 'background', 'output_format', 'usage']);
  });

  it('a status fault answers a plain JSON error before any stream', async () => {
    running.sim.enqueueFault({ kind: 'status', status: 429, retryAfterSeconds: 3 });
    const res = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true });
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('retry-after')).toBe('3');
    expect(await res.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
  });

  it('stream_error: that many events, then an error event in OpenAI’s shape, then the end', async () => {
    running.sim.enqueueFault({ kind: 'stream_error', afterEvents: 1, message: 'The image could not be finished.' });
    const res = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 2, quality: 'low' });
    expect(res.status).toBe(200);
    const events = await readEvents(res, performance.now());
    expect(events.map((e) => e.event)).toEqual(['image_generation.partial_image', 'error']);
    expect(events[1]?.data).toBe('{"type":"error","error":{"type":"server_error","code":null,"message":"The image could not be finished.","param":null}}');
  });

  it('stream_error surfaces as an APIError in the SDK, after the events before it', async () => {
    running.sim.enqueueFault({ kind: 'stream_error', afterEvents: 2 });
    const stream = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 3, quality: 'low' });
    const seen: string[] = [];
    const err = await rejectionOf(
      (async () => {
        for await (const event of stream) seen.push(event.type);
      })(),
    );
    expect(seen).toEqual(['image_generation.partial_image', 'image_generation.partial_image']);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).type).toBe('server_error');
    expect((err as APIError).message).toMatch(/error while processing your request/);
  });

  it('stream_cut: that many events, then the connection drops (not counted as a client abort)', async () => {
    const aborted = running.sim.aborted;
    running.sim.enqueueFault({ kind: 'stream_cut', afterEvents: 2 });
    const stream = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 2, quality: 'low' });
    const seen: number[] = [];
    const err = await rejectionOf(
      (async () => {
        for await (const event of stream) if (event.type === 'image_generation.partial_image') seen.push(event.partial_image_index);
      })(),
    );
    expect(seen).toEqual([0, 1]);
    expect(err).toBeInstanceOf(Error);
    expect(running.sim.aborted).toBe(aborted);
  });

  it('truncated: a stream cut in the middle of its last event', async () => {
    running.sim.enqueueFault({ kind: 'truncated' });
    const res = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 1, quality: 'low' });
    expect(res.status).toBe(200);
    const seen: RawEvent[] = [];
    const err = await rejectionOf(
      (async () => {
        seen.push(...(await readEvents(res, performance.now())));
      })(),
    );
    expect(err).toBeInstanceOf(Error);
  });

  it('malformed: an event whose data is not JSON, which the SDK rejects', async () => {
    running.sim.enqueueFault({ kind: 'malformed' });
    const stream = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'p', stream: true });
    expect(await rejectionOf(collect(stream))).toBeInstanceOf(SyntaxError);
  });

  it('the control endpoint takes the stream fault kinds and refuses bad ones', async () => {
    const faults = [
      { kind: 'stream_error', afterEvents: 0, message: 'm' },
      { kind: 'stream_cut', afterEvents: 1 },
      { kind: 'hang', afterEvents: 1 },
    ];
    const ok = await fetch(`${running.origin}/_sim/faults`, { method: 'POST', body: JSON.stringify(faults) });
    expect(await ok.json()).toEqual({ enqueued: 3, pending: 3 });
    for (const bad of [{ kind: 'stream_cut' }, { kind: 'stream_error', afterEvents: -1 }, { kind: 'hang', afterEvents: 'x' }]) {
      const res = await fetch(`${running.origin}/_sim/faults`, { method: 'POST', body: JSON.stringify(bad) });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    // Use them up: an error event straight away, a cut after one event, a stall after one event.
    const errored = await readEvents(await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, quality: 'low' }), 0);
    expect(errored.map((e) => e.event)).toEqual(['error']);
    expect(dataOf(errored[0] ?? { event: '', data: '{}', at: 0 })).toMatchObject({ error: { message: 'm' } });
    const cut = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 1, quality: 'low' });
    expect(await rejectionOf(readEvents(cut, 0))).toBeInstanceOf(Error);
    const abort = new AbortController();
    const stalled = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 1, quality: 'low' }, undefined, abort.signal);
    expect((await readEvents(stalled, 0, 1, abort)).map((e) => e.event)).toEqual(['image_generation.partial_image']);
    expect(await (await fetch(`${running.origin}/_sim/state`)).json()).toMatchObject({ pendingFaults: 0 });
  });

  it('a stream_error on a request that is not streamed is a 500, a stream_cut truncates it', async () => {
    running.sim.enqueueFault({ kind: 'stream_error', afterEvents: 1, message: 'nope' }, { kind: 'stream_cut', afterEvents: 1 });
    const errored = await post(running, { model: 'gpt-image-1', prompt: 'p', quality: 'low' });
    expect(errored.status).toBe(500);
    expect(await errored.json()).toMatchObject({ error: { message: 'nope', type: 'server_error' } });
    const cut = await post(running, { model: 'gpt-image-1', prompt: 'p', quality: 'low' });
    expect(await rejectionOf(cut.text())).toBeInstanceOf(Error);
  });
});

// -- timing, aborts, relays and the benchmark path -------------------------------

describe('OpenAI simulator streaming: timing, aborts, relays, fixed image', () => {
  it('spreads latencyMs over the events and waits streamIntervalMs before each: the first comes well before the end', async () => {
    await withSimulator({ latencyMs: 300, streamIntervalMs: 100 }, async (running) => {
      const started = performance.now();
      const res = await post(running, { model: 'gpt-image-1', prompt: 'slow', stream: true, partial_images: 2, quality: 'low', size: '1024x1024' });
      const events = await readEvents(res, started);
      const ended = performance.now() - started;
      expect(events.map((e) => e.event)).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
      // Each event waits 300/3 + 100 = 200 ms: about 200, 400 and 600 ms in.
      const [first, second, last] = events.map((e) => e.at);
      expect(first).toBeGreaterThanOrEqual(190);
      expect(ended).toBeGreaterThanOrEqual(590);
      expect((last ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(380);
      expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(180);
    });
  });

  it('a client that leaves mid-stream counts as aborted and stops the stream', async () => {
    await withSimulator({ streamIntervalMs: 150 }, async (running) => {
      const before = running.sim.aborted;
      const stream = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 3, quality: 'low' });
      const seen: string[] = [];
      for await (const event of stream) {
        seen.push(event.type);
        break; // the SDK aborts the request
      }
      expect(seen).toEqual(['image_generation.partial_image']);
      await waitFor(() => running.sim.aborted === before + 1);
      // Later requests are unaffected.
      const plain = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'p', quality: 'low' });
      expect(plain.data).toHaveLength(1);
      expect(running.sim.aborted).toBe(before + 1);
    });
  });

  it('hang: before a stream it never answers; with afterEvents it stalls mid-stream; leaving counts as aborted', async () => {
    await withSimulator({}, async (running) => {
      running.sim.enqueueFault({ kind: 'hang' }, { kind: 'hang', afterEvents: 1 });
      const first = new AbortController();
      const pending = post(running, { model: 'gpt-image-1', prompt: 'p', stream: true }, undefined, first.signal);
      setTimeout(() => first.abort(), 150);
      expect(await rejectionOf(pending)).toBeInstanceOf(Error);
      await waitFor(() => running.sim.aborted === 1);

      const second = new AbortController();
      const started = performance.now();
      const res = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 2, quality: 'low' }, undefined, second.signal);
      setTimeout(() => second.abort(), 400);
      const seen: RawEvent[] = [];
      const reading = (async () => {
        const reader = res.body?.getReader();
        const decoder = new TextDecoder();
        let text = '';
        for (;;) {
          const { value, done } = (await reader?.read()) ?? { done: true, value: undefined };
          if (done) break;
          text += decoder.decode(value, { stream: true });
          const complete = text.split('\n\n').slice(0, -1);
          seen.splice(0, seen.length, ...complete.map((frame) => ({ ...parseFrame(frame), at: performance.now() - started })));
        }
      })();
      expect(await rejectionOf(reading)).toBeInstanceOf(Error); // aborted by us, not ended by the server
      expect(seen.map((e) => e.event)).toEqual(['image_generation.partial_image']);
      await waitFor(() => running.sim.aborted === 2);
    });
  });

  it('relay noStream answers a stream request with the plain JSON body', async () => {
    await withSimulator({ relay: { answer: 'b64_json', noStream: true } }, async (running) => {
      const res = await post(running, { model: 'dall-e-3', prompt: 'p', stream: true, partial_images: 2 });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as { data: { b64_json: string }[] };
      expect(await facts(body.data[0]?.b64_json ?? '')).toMatchObject({ format: 'png' });
      expect(running.sim.requests.at(-1)?.json).toMatchObject({ stream: true });
    });
  });

  it('a relay without noStream streams, bent like its JSON answers (alwaysPng, fixedSize)', async () => {
    await withSimulator({ relay: { answer: 'url', alwaysPng: true, fixedSize: { width: 512, height: 512 } } }, async (running) => {
      const res = await post(running, { model: 'gpt-image-1', prompt: 'p', stream: true, partial_images: 1, output_format: 'jpeg', quality: 'low' });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const events = await readEvents(res, 0);
      for (const event of events) {
        const data = dataOf(event);
        expect([data.size, data.output_format]).toEqual(['512x512', 'png']);
        expect(await facts(String(data.b64_json))).toEqual({ format: 'png', width: 512, height: 512 });
      }
    });
  });

  it('fixedImage streams the fixed image in every event (the benchmark measures transport)', async () => {
    const fixed = await renderNoiseImage(256, 128);
    await withSimulator({ fixedImage: fixed }, async (running) => {
      const stream = await client(running).images.generate({ model: 'gpt-image-1', prompt: 'p', n: 2, stream: true, partial_images: 2, size: '1024x1024' });
      const events = await collect(stream);
      expect(events).toHaveLength(6);
      for (const event of events) {
        expect(event.b64_json).toBe(fixed.toString('base64'));
        expect([event.size, event.output_format]).toEqual(['256x128', 'png']);
      }
    });
  });
});
