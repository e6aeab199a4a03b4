/**
 * A model an operator declares in the config file, end to end: the real gateway, a recording
 * upstream, the official SDK. Its new quality tier is accepted, sent upstream and billed at the
 * operator's price; what its capabilities lack is a 400 naming the param before any upstream
 * call; GET /v1/models/{id} shows its capabilities, while /v1/models list items stay OpenAI-shaped.
 */
import type { IncomingMessage } from 'node:http';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { makePng, startHttpServer, type TestServer } from './helpers/inputs.js';

closeAfterEach();
const ADMIN = 'admin-secret';
const MODEL = 'gpt-image-2-2026-09-01';

/** An OpenAI-style upstream that answers one PNG at the size and quality asked, and records each body. */
async function recordingUpstream(): Promise<{ server: TestServer; bodies: Record<string, unknown>[] }> {
  const png = (await makePng({ width: 64, height: 64 })).toString('base64');
  const bodies: Record<string, unknown>[] = [];
  const server = later(
    await startHttpServer((req, res) => {
      void readJson(req).then((body) => {
        bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ created: 1, data: [{ b64_json: png }], size: body.size, quality: body.quality, output_format: 'png' }));
      });
    }),
  );
  return { server, bodies };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

async function gateway(upstream: TestServer): Promise<TestGateway> {
  const file = await writeConfigFile({
    channels: [{ name: 'up', kind: 'openai', base_url: `${upstream.origin}/v1`, api_key: 'sk-up' }],
    models: [
      {
        name: MODEL,
        base: 'gpt-image-2',
        upstream_model: MODEL,
        capabilities: { qualities: ['auto', 'low', 'medium', 'high', 'xhigh'], streaming: false },
      },
    ],
    pricing: {
      [MODEL]: {
        per_image: Object.fromEntries(
          ['1024x1024', '1536x1024', '1024x1536', '2048x2048', '2048x1152', '3840x2160', '2160x3840'].map((size) => [size, { xhigh: 0.5 }]),
        ),
      },
    },
  });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: ADMIN }));
}

async function admin(gw: TestGateway, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${gw.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('a model declared in the config file', () => {
  it('takes its new quality tier xhigh: sent upstream under its own name, billed at the operator price', async () => {
    const { server, bodies } = await recordingUpstream();
    const gw = await gateway(server);
    const key = (await admin(gw, 'POST', '/admin/api/keys', { name: 'xhigh', credits: 10 })) as { id: string; key: string };
    const client = new OpenAI({ apiKey: key.key, baseURL: gw.baseURL, maxRetries: 0 });
    const res = await client.images.generate({ model: MODEL, prompt: 'a comet', size: '1024x1024', quality: 'xhigh' as 'high', response_format: 'b64_json' });
    expect(res.data).toHaveLength(1);
    expect(res).toMatchObject({ size: '1024x1024', quality: 'xhigh' });
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({ model: MODEL, quality: 'xhigh', size: '1024x1024' });
    expect(Number((await admin(gw, 'GET', `/admin/api/keys/${key.id}`)).balance_micros)).toBe(10_000_000 - 500_000);
  });

  it('refuses what its capabilities lack (stream) and its base refuses xhigh: 400 naming the param, nothing sent upstream', async () => {
    const { server, bodies } = await recordingUpstream();
    const gw = await gateway(server);
    const stream = await gw.client.images.generate({ model: MODEL, prompt: 'a comet', stream: true }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(stream).toBeInstanceOf(OpenAI.BadRequestError);
    expect(stream).toMatchObject({ status: 400, param: 'stream', code: 'unsupported_parameter' });
    const base = await gw.client.images.generate({ model: 'gpt-image-2', prompt: 'a comet', quality: 'xhigh' as 'high' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(base).toMatchObject({ status: 400, param: 'quality', code: 'invalid_value' });
    expect(bodies).toHaveLength(0);
  });

  it('GET /v1/models/{id} shows its capabilities; list items stay OpenAI-shaped', async () => {
    const { server } = await recordingUpstream();
    const gw = await gateway(server);
    const one = (await (await fetch(`${gw.baseURL}/models/${MODEL}`, { headers: { authorization: `Bearer ${gw.apiKey}` } })).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ id: MODEL, object: 'model', owned_by: 'imagegate' });
    expect(one.capabilities).toMatchObject({
      family: 'gpt-image-2',
      qualities: ['auto', 'low', 'medium', 'high', 'xhigh'],
      streaming: false,
      custom_sizes: { edge_multiple: 16, max_edge: 3840 },
      price_units: ['image', 'token'],
    });
    const dalle = await gw.client.models.retrieve('dall-e-3');
    expect((dalle as unknown as { capabilities: unknown }).capabilities).toMatchObject({
      styles: ['vivid', 'natural'],
      max_n: 1,
      edits: false,
      streaming: false,
    });
    const list = await gw.client.models.list();
    const item = list.data.find((m) => m.id === MODEL);
    expect(Object.keys(item ?? {}).sort()).toEqual(['created', 'description', 'id', 'object', 'owned_by']);
    for (const model of list.data) expect(model).not.toHaveProperty('capabilities');
    const missing = await fetch(`${gw.baseURL}/models/dall-e-9`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(missing.status).toBe(404);
  });
});
