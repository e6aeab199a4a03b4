/**
 * Streaming (SSE) end to end through the official SDK: partial images relayed from a streaming
 * upstream, a faithful stream synthesized from a non-streaming one, edits, keep-alive comments,
 * errors before and after the stream starts, client disconnects, and a slow generation surviving
 * a proxy that cuts idle connections.
 */
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { toFile } from 'openai';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator, type OpenAISimulatorOptions, type RunningSimulator } from '../sim/openai/simulator.js';
import { writeConfigFile } from './helpers/config-file.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import { closeAfterEach, later } from './helpers/cleanup.js';

closeAfterEach();

async function upstream(opts: OpenAISimulatorOptions = {}): Promise<RunningSimulator> {
  return later(await startOpenAISimulator(opts));
}

async function gatewayFor(sim: RunningSimulator, kind = 'openai', env: Record<string, string> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels: [{ name: 'up', kind, base_url: sim.baseURL, api_key: 'sk-up' }] });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, ...env }));
}

interface Event {
  type: string;
  b64_json?: string;
  partial_image_index?: number;
  url?: string;
  usage?: { total_tokens: number };
  size?: string;
  quality?: string;
  background?: string;
  output_format?: string;
  created_at?: number;
}

async function collect(stream: AsyncIterable<unknown>): Promise<Event[]> {
  const events: Event[] = [];
  for await (const event of stream) events.push(event as Event);
  return events;
}

/** A raw streaming POST: the text as it arrived, for framing, comments and error events. */
async function rawStream(gw: TestGateway, body: Record<string, unknown>): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(`${gw.baseURL}/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, ...body }),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

describe('relayed from a streaming upstream', () => {
  it('generate({stream, partial_images: 2}): two partials then completed, every field of the spec, real images', async () => {
    const sim = await upstream();
    const gw = await gatewayFor(sim);
    const events = await collect(
      await gw.client.images.generate({ model: 'gpt-image-2', prompt: 'a stream', size: '1024x1536', quality: 'low', stream: true, partial_images: 2 }),
    );
    expect(events.map((e) => [e.type, e.partial_image_index])).toEqual([
      ['image_generation.partial_image', 0],
      ['image_generation.partial_image', 1],
      ['image_generation.completed', undefined],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ size: '1024x1536', quality: 'low', output_format: 'png' });
      expect(typeof event.created_at).toBe('number');
      expect(typeof event.background).toBe('string');
      expect(await describeImage(Buffer.from(event.b64_json ?? '', 'base64'))).toEqual({ format: 'png', width: 1024, height: 1536 });
    }
    expect(events.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
    // The upstream was asked to stream with the client's partial_images.
    expect(sim.sim.requests.at(-1)?.json).toMatchObject({ stream: true, partial_images: 2 });
  });

  it('edit({stream}) gives image_edit.* events; n=2 gives one completed event per image', async () => {
    const sim = await upstream();
    const gw = await gatewayFor(sim);
    const photo = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#248' } })
      .png()
      .toBuffer();
    const events = await collect(
      await gw.client.images.edit({
        model: 'gpt-image-1.5',
        image: await toFile(photo, 'p.png'),
        prompt: 'stream an edit',
        stream: true,
        partial_images: 1,
        n: 2,
        size: '1024x1024',
      }),
    );
    expect(events.map((e) => e.type)).toEqual(['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed', 'image_edit.completed']);
    const finals = events.filter((e) => e.type === 'image_edit.completed').map((e) => e.b64_json);
    expect(finals[0]).not.toBe(finals[1]);
  });

  it('response_format url: the completed event also carries a working url to the same image', async () => {
    const sim = await upstream();
    const gw = await gatewayFor(sim);
    const text = (await rawStream(gw, { prompt: 'linked', response_format: 'url', partial_images: 1 })).text;
    const completed = JSON.parse(/event: image_generation\.completed\ndata: (.*)\n/.exec(text)?.[1] ?? '{}') as Event;
    expect(completed.b64_json?.length).toBeGreaterThan(100);
    const file = await fetch(completed.url ?? '');
    expect(file.status).toBe(200);
    // The event passes on the upstream's base64 and the link serves the copy stored from it: one image.
    const sent = Buffer.from(completed.b64_json ?? '', 'base64');
    expect(Buffer.from(await file.arrayBuffer()).equals(sent)).toBe(true);
    expect(await describeImage(sent)).toMatchObject({ format: 'png' });
  });
});

describe('synthesized from a non-streaming upstream', () => {
  it('a relay that answers JSON: the completed events, framed exactly as OpenAI does', async () => {
    const sim = await upstream({ relay: { answer: 'b64_json', noStream: true } });
    const gw = await gatewayFor(sim, 'openai-compatible');
    const res = await rawStream(gw, { prompt: 'no upstream stream', n: 2, partial_images: 2 });
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/event-stream/);
    const blocks = res.text.split('\n\n').filter((b) => b.startsWith('event:'));
    expect(blocks.map((b) => b.split('\n')[0])).toEqual(['event: image_generation.completed', 'event: image_generation.completed']);
    for (const block of blocks) expect(block.split('\n')[1]).toMatch(/^data: \{"type":"image_generation\.completed","b64_json":"/);
  });

  it('the demo channel streams real partial images offline', async () => {
    const gw = later(await startGateway({ IMAGEGATE_DEMO_DELAY: '0' }));
    const events = await collect(await gw.client.images.generate({ prompt: 'demo stream', size: '1024x1024', stream: true, partial_images: 3 }));
    expect(events.map((e) => e.type)).toEqual([...Array(3).fill('image_generation.partial_image'), 'image_generation.completed']);
    expect(await describeImage(Buffer.from(events[0]?.b64_json ?? '', 'base64'))).toMatchObject({ width: 1024, height: 1024 });
  });
});

describe('keep-alive and failures', () => {
  it('sends keep-alive comments while a slow upstream works', async () => {
    const sim = await upstream({ latencyMs: 900 });
    const gw = await gatewayFor(sim, 'openai', { IMAGEGATE_STREAM_KEEPALIVE: '200ms' });
    const res = await rawStream(gw, { prompt: 'slow', partial_images: 0 });
    expect(res.status).toBe(200);
    expect(res.text.startsWith(': keep-alive\n\n')).toBe(true);
    expect(res.text).toContain('event: image_generation.completed');
  });

  it('an upstream failure before the stream starts is a plain JSON error with its status', async () => {
    const sim = await upstream();
    const gw = await gatewayFor(sim);
    sim.sim.enqueueFault({
      kind: 'status',
      status: 400,
      message: 'Your request was rejected by the safety system.',
      code: 'moderation_blocked',
      type: 'invalid_request_error',
    });
    const res = await rawStream(gw, { prompt: 'refused', partial_images: 1 });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'content_policy_violation', message: 'Your request was rejected by the safety system.' } });
  });

  it('an upstream failure mid-stream reaches the client as an error event, and the SDK throws it', async () => {
    const sim = await upstream();
    const gw = await gatewayFor(sim);
    sim.sim.enqueueFault({ kind: 'stream_error', afterEvents: 1, message: 'upstream broke' });
    const res = await rawStream(gw, { prompt: 'breaks', partial_images: 2 });
    expect(res.status).toBe(200);
    expect(res.text).toContain('event: image_generation.partial_image');
    const error = /event: error\ndata: (.*)\n/.exec(res.text)?.[1];
    expect(JSON.parse(error ?? '{}')).toMatchObject({ type: 'error', error: { type: 'server_error', code: 'upstream_error' } });
    // No failover once the client has seen a partial image: the upstream was called once.
    expect(sim.sim.requests).toHaveLength(1);

    sim.sim.enqueueFault({ kind: 'stream_cut', afterEvents: 1 });
    const seen: string[] = [];
    const iterate = async () => {
      for await (const event of await gw.client.images.generate({ prompt: 'cut', stream: true, partial_images: 2 })) seen.push((event as Event).type);
    };
    await expect(iterate()).rejects.toThrow();
    expect(seen).toEqual(['image_generation.partial_image']);
  });

  it('a client that goes away aborts the upstream request, and the request log says so', async () => {
    const sim = await upstream({ streamIntervalMs: 400 });
    const gw = await gatewayFor(sim);
    const controller = new AbortController();
    const res = await fetch(`${gw.baseURL}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', 'x-request-id': 'stream-abort-1' },
      body: JSON.stringify({ prompt: 'leave early', stream: true, partial_images: 3 }),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    await reader?.read(); // the first bytes: the stream is running
    controller.abort();
    await expect.poll(() => sim.sim.aborted, { timeout: 5_000 }).toBe(1);
    await expect
      .poll(async () => gw.app.database.db.selectFrom('request_log').select(['status', 'error_code']).where('id', '=', 'stream-abort-1').executeTakeFirst(), {
        timeout: 5_000,
      })
      .toEqual({ status: 499, error_code: 'client_closed_request' });
  });
});

/** A TCP proxy that cuts any connection idle for `idleMs`, like load balancers do (100 s, scaled down). */
async function idleCuttingProxy(target: string, idleMs: number): Promise<{ origin: string; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    const backend = connect(Number(port), hostname);
    for (const s of [client, backend]) {
      sockets.add(s);
      s.setTimeout(idleMs, () => {
        client.destroy();
        backend.destroy();
      });
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(backend).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('behind a proxy with an idle limit', () => {
  it('a generation slower than the idle limit fails as a plain request but survives as a stream', async () => {
    const sim = await upstream({ latencyMs: 1_500 });
    const gw = await gatewayFor(sim, 'openai', { IMAGEGATE_STREAM_KEEPALIVE: '250ms' });
    const proxy = later(await idleCuttingProxy(gw.origin, 700));
    const post = (body: Record<string, unknown>) =>
      fetch(`${proxy.origin}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, text: await res.text() }));
    await expect(post({ prompt: 'plain and slow' })).rejects.toThrow();
    const streamed = await post({ prompt: 'streamed and slow', stream: true, partial_images: 0 });
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('event: image_generation.completed');
  });
});

describe('every channel kind streams', () => {
  it('an async task upstream (new-api) gives the completed event when its task is done', async () => {
    const { startNewApiAsyncSimulator } = await import('../sim/newapi-async.js');
    const tasks = later(await startNewApiAsyncSimulator({ apiKey: 'nk', taskDurationMs: 100 }));
    const file = await writeConfigFile({
      channels: [{ name: 'async', kind: 'newapi-async', base_url: `${tasks.origin}/v1`, api_key: 'nk', poll_interval: 0.02 }],
    });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file }));
    const events = await collect(await gw.client.images.generate({ prompt: 'async stream', size: '1024x1024', stream: true, partial_images: 2 }));
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed']);
    expect(await describeImage(Buffer.from(events[0]?.b64_json ?? '', 'base64'))).toMatchObject({ width: 1024, height: 1024 });
  });
});
