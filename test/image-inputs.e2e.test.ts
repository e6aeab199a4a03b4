/**
 * Image inputs end to end, through the official SDK: edits (one image; three images and a
 * mask), variations, OpenAI's JSON edits, the relays' reference images in generations (base64,
 * data URI and a URL served here, mixed), and how each channel kind receives them.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toFile } from 'openai';
import type { ImageGenerateParamsNonStreaming } from 'openai/resources/images';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureOpenAISimulator } from '../sim/azure-openai.js';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { startTaskApiSimulator } from '../sim/task-api.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import { closeAfterEach, later } from './helpers/cleanup.js';

closeAfterEach();

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const solid = (width: number, height: number, r: number, g: number, b: number, alpha = 1) =>
  sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } })
    .png()
    .toBuffer();

const photo = await solid(96, 64, 30, 120, 200);
const second = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#3a3' } })
  .jpeg()
  .toBuffer();
const third = await sharp({ create: { width: 40, height: 60, channels: 3, background: '#33a' } })
  .webp()
  .toBuffer();
/** Transparent where the edit goes: the left half. */
const mask = await sharp({ create: { width: 96, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 1 } } })
  .composite([{ input: { create: { width: 48, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }, left: 0, top: 0, blend: 'dest-out' }])
  .png()
  .toBuffer();

/** A tiny file server for reference-image URLs. */
let files: Server;
let filesOrigin: string;
beforeAll(async () => {
  files = createServer((req, res) => {
    if (req.url === '/photo.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(photo);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesOrigin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => files.close(() => resolve())));

async function gatewayWith(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels });
  // Only the test's file server may be fetched although it is on loopback.
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', ...env }));
}

const openaiChannel = (sim: RunningSimulator, extra: Record<string, unknown> = {}) => ({
  name: 'upstream',
  kind: 'openai',
  base_url: sim.baseURL,
  api_key: 'sk-upstream',
  ...extra,
});

function lastForm(sim: RunningSimulator) {
  const last = sim.sim.requests.at(-1);
  if (!last?.form) throw new Error(`the upstream got no multipart form (last: ${last?.method} ${last?.path})`);
  return { path: last.path, ...last.form };
}

describe('edits through the official SDK', () => {
  it('one image: the upstream gets it byte for byte, the client gets an edited image of the asked size', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([openaiChannel(sim)]);
    const res = await gw.client.images.edit({
      model: 'gpt-image-1.5',
      image: await toFile(photo, 'photo.png', { type: 'image/png' }),
      prompt: 'add a red balloon',
      size: '1536x1024',
      output_format: 'webp',
      response_format: 'b64_json',
    });
    const image = Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64');
    expect(await describeImage(image)).toEqual({ format: 'webp', width: 1536, height: 1024 });
    const form = lastForm(sim);
    expect(form.path).toBe('/v1/images/edits');
    expect(form.files.map((f) => [f.field, f.sha256])).toEqual([['image', sha256(photo)]]);
    expect(form.fields).toMatchObject({ model: 'gpt-image-1.5', prompt: 'add a red balloon', size: '1536x1024', output_format: 'webp' });
    // GPT image upstreams reject response_format; the gateway answers in the client's form itself.
    expect(form.fields).not.toHaveProperty('response_format');
    expect(res.usage?.input_tokens_details?.image_tokens).toBeGreaterThan(0);
  });

  it('three images and a mask: image[] three times plus mask, in order; a url answer links to the stored image', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([openaiChannel(sim)]);
    const res = await gw.client.images.edit({
      model: 'gpt-image-2',
      image: [await toFile(photo, 'a.png'), await toFile(second, 'b.jpg'), await toFile(third, 'c.webp')],
      mask: await toFile(mask, 'mask.png'),
      prompt: 'put the three together',
      input_fidelity: 'high',
      size: '1024x1024',
    });
    const form = lastForm(sim);
    expect(form.files.map((f) => [f.field, f.sha256])).toEqual([
      ['image[]', sha256(photo)],
      ['image[]', sha256(second)],
      ['image[]', sha256(third)],
      ['mask', sha256(mask)],
    ]);
    expect(form.fields.input_fidelity).toBe('high');
    const url = res.data?.[0]?.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\//);
    const download = await fetch(url ?? '');
    expect(await describeImage(Buffer.from(await download.arrayBuffer()))).toEqual({ format: 'png', width: 1024, height: 1024 });
  });

  it('works offline on the demo channel: a real edited image comes back', async () => {
    const gw = later(await startGateway({ IMAGEGATE_DEMO_DELAY: '0' }));
    const res = await gw.client.images.edit({ image: await toFile(photo, 'p.png'), prompt: 'demo edit', size: '1024x1536', response_format: 'b64_json' });
    const image = Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64');
    expect(await describeImage(image)).toEqual({ format: 'png', width: 1024, height: 1536 });
    // The input's colour shows through: the edit starts from the photo, not a blank canvas.
    const { dominant } = await sharp(image).stats();
    expect(dominant.b).toBeGreaterThan(dominant.r);
  });
});

describe('variations', () => {
  it('createVariation for dall-e-2: n=2, multipart to /images/variations, b64 asked upstream', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([openaiChannel(sim)]);
    const square = await solid(64, 64, 200, 60, 20);
    const res = await gw.client.images.createVariation({ image: await toFile(square, 'sq.png'), n: 2, size: '256x256', response_format: 'b64_json' });
    expect(res.data).toHaveLength(2);
    const [a, b] = (res.data ?? []).map((d) => Buffer.from(d.b64_json ?? '', 'base64'));
    expect(await describeImage(a ?? Buffer.alloc(0))).toEqual({ format: 'png', width: 256, height: 256 });
    expect(sha256(a ?? Buffer.alloc(0))).not.toBe(sha256(b ?? Buffer.alloc(0)));
    const form = lastForm(sim);
    expect(form.path).toBe('/v1/images/variations');
    expect(form.fields).toMatchObject({ model: 'dall-e-2', n: '2', size: '256x256', response_format: 'b64_json' });
    expect(form.files.map((f) => [f.field, f.sha256])).toEqual([['image', sha256(square)]]);
  });
});

describe('JSON forms', () => {
  it("OpenAI's JSON edits: images as data URLs and a mask", async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([openaiChannel(sim)]);
    const dataUrl = (bytes: Buffer, mime: string) => `data:${mime};base64,${bytes.toString('base64')}`;
    const res = await postJson(gw, '/v1/images/edits', {
      model: 'gpt-image-1',
      prompt: 'json edit',
      images: [{ image_url: dataUrl(photo, 'image/png') }, { image_url: dataUrl(second, 'image/jpeg') }],
      mask: { image_url: dataUrl(mask, 'image/png') },
      response_format: 'b64_json',
    });
    expect(res.status).toBe(200);
    expect(lastForm(sim).files.map((f) => [f.field, f.sha256])).toEqual([
      ['image[]', sha256(photo)],
      ['image[]', sha256(second)],
      ['mask', sha256(mask)],
    ]);
  });

  it('generations with an image array mixing bare base64, a data URI and a URL become an edit upstream', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([openaiChannel(sim)]);
    const res = await gw.client.images.generate({
      model: 'gpt-image-2',
      prompt: 'mix them',
      size: '1024x1024',
      image: [second.toString('base64'), `data:image/webp;base64,${third.toString('base64')}`, `${filesOrigin}/photo.png`],
    } as ImageGenerateParamsNonStreaming);
    expect(res.data?.[0]?.url).toBeTruthy();
    const form = lastForm(sim);
    expect(form.path).toBe('/v1/images/edits');
    expect(form.files.map((f) => f.sha256)).toEqual([sha256(second), sha256(third), sha256(photo)]);
  });
});

describe('how each channel kind receives inputs', () => {
  it('openai-compatible with reference_images: inline gets the generation body with the image array (URLs kept)', async () => {
    const sim = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([{ name: 'relay', kind: 'openai-compatible', base_url: sim.baseURL, api_key: 'rk', reference_images: 'inline' }]);
    const url = `${filesOrigin}/photo.png`;
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'inline refs', image: [url, second.toString('base64')] });
    expect(res.status).toBe(200);
    const last = sim.sim.requests.at(-1);
    expect(last?.path).toBe('/v1/images/generations');
    const body = last?.json as { image?: string[] };
    expect(body.image?.[0]).toBe(url);
    expect(body.image?.[1]).toBe(`data:image/jpeg;base64,${second.toString('base64')}`);
  });

  it('azure-openai: multipart to the deployment edits path', async () => {
    const azure = later(await startAzureOpenAISimulator({ apiKey: 'az-key' }));
    const gw = await gatewayWith([
      { name: 'azure', kind: 'azure-openai', base_url: azure.origin, api_key: 'az-key', models: ['gpt-image-1'], model_map: { 'gpt-image-1': 'gpt-image-1' } },
    ]);
    const res = await gw.client.images.edit({ model: 'gpt-image-1', image: await toFile(photo, 'p.png'), prompt: 'azure edit' });
    expect(res.data?.[0]?.url).toBeTruthy();
    expect(azure.sim.requests.at(-1)?.path).toMatch(/^\/openai\/deployments\/gpt-image-1\/images\/edits\?api-version=/);
  });

  it('task-api takes URL inputs as image_url; uploads cannot reach it and are refused as unsupported_input', async () => {
    const tasks = later(await startTaskApiSimulator({ apiKey: 'tk', taskDurationMs: 50 }));
    const gw = await gatewayWith([{ name: 'tasks', kind: 'task-api', base_url: tasks.origin, api_key: 'tk', poll_interval: 0.02 }]);
    const url = `${filesOrigin}/photo.png`;
    const ok = await postJson(gw, '/v1/images/generations', { prompt: 'by url', image: [url] });
    expect(ok.status).toBe(200);
    expect(tasks.sim.requests.find((r) => r.method === 'POST')?.json).toMatchObject({ image_url: url });
    const refused = await gw.client.images.edit({ image: await toFile(photo, 'p.png'), prompt: 'by upload' }).catch((err: unknown) => err);
    expect(refused).toMatchObject({ status: 400, code: 'unsupported_input', param: 'image' });
  });
});
