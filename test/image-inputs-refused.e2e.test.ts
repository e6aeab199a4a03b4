/**
 * Refused image inputs over real HTTP: each case asserts status and the whole OpenAI envelope
 * (type, code, param), and that the refusal happened before any upstream call: the gateways
 * here route to a real OpenAI simulator over HTTP whose request count must not grow.
 */
import type OpenAI from 'openai';
import { APIError, toFile } from 'openai';
import type { ImageCreateVariationParams, ImageEditParamsNonStreaming, ImageGenerateParamsNonStreaming } from 'openai/resources/images';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { makeGif, makeJpeg, makeNoisePng, makePng, pngHeaded, startHttpServer, startSilentServer, type TestServer } from './helpers/inputs.js';
import { recordingClient, type RecordingClient } from './helpers/recording-client.js';

const UPSTREAM_KEY = 'sk-test';
const MB = 1024 * 1024;

interface Refusal {
  status: number;
  code: string;
  param: string | null;
}

interface Answer {
  status: number;
  json: unknown;
}

let sim: RunningSimulator;
/** Default settings: no private URLs, 128 MB of uploads. */
let gw: TestGateway;
/** Only 127.0.0.1 may be fetched (besides public addresses); URL fetches time out after 1s. */
let gwPrivate: TestGateway;
/** At most 1 MB of input images per request. */
let gwLimited: TestGateway;
let sdk: RecordingClient;
let sdkPrivate: RecordingClient;
let sdkLimited: RecordingClient;
let urls: TestServer;
let silent: TestServer;

const img = {} as {
  rgba: Buffer; // 64x64, half transparent
  rgb: Buffer; // 64x64, no alpha channel
  rgbaSmall: Buffer; // 32x32
  wide: Buffer; // 64x32 RGBA
  jpeg: Buffer;
  gif: Buffer;
  truncated: Buffer;
  text: Buffer;
  over4mb: Buffer; // a complete PNG over dall-e-2's 4 MB
};

beforeAll(async () => {
  sim = await startOpenAISimulator({ apiKey: UPSTREAM_KEY });
  const upstream = { OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_BASE_URL: sim.baseURL, IMAGEGATE_MAX_ATTEMPTS: '1' };
  [gw, gwPrivate, gwLimited] = await Promise.all([
    startGateway(upstream),
    startGateway({ ...upstream, IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', IMAGEGATE_FETCH_TIMEOUT: '1s' }),
    startGateway({ ...upstream, IMAGEGATE_UPLOAD_LIMIT: '1mb' }),
  ]);
  sdk = recordingClient(gw);
  sdkPrivate = recordingClient(gwPrivate);
  sdkLimited = recordingClient(gwLimited);
  urls = await startHttpServer((req, res) => {
    if (req.url === '/redirect') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
    return res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
  });
  silent = await startSilentServer();
  const rgba = await makePng({ width: 64, height: 64, alpha: 0.5 });
  Object.assign(img, {
    rgba,
    rgb: await makePng({ width: 64, height: 64 }),
    rgbaSmall: await makePng({ width: 32, height: 32, alpha: 0.5 }),
    wide: await makePng({ width: 64, height: 32, alpha: 0.5 }),
    jpeg: await makeJpeg({ width: 64, height: 64 }),
    gif: await makeGif({ width: 64, height: 64 }),
    truncated: rgba.subarray(0, rgba.length - 20),
    text: Buffer.from('This is a text file, whatever its name says.\n'),
    over4mb: await makeNoisePng(1100, 1100),
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([gw?.close(), gwPrivate?.close(), gwLimited?.close()]);
  await Promise.all([sim?.close(), urls?.close(), silent?.close()]);
});

const png = (bytes: Buffer, name = 'image.png') => toFile(bytes, name, { type: 'image/png' });

/** Sends with the SDK, which must throw an APIError; returns the raw response it got. */
async function viaSdk(rc: RecordingClient, call: (client: OpenAI) => Promise<unknown>): Promise<Answer> {
  const outcome = await call(rc.client).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(APIError);
  const res = rc.last();
  const sdkError = outcome as APIError;
  expect(sdkError.status).toBe(res.status);
  return { status: res.status, json: JSON.parse(res.text) as unknown };
}

const edit = (params: ImageEditParamsNonStreaming, rc: RecordingClient = sdk) => viaSdk(rc, (c) => c.images.edit(params));
const variation = (params: ImageCreateVariationParams) => viaSdk(sdk, (c) => c.images.createVariation(params));

/** Reference images on a generation (the relays' `image` array): the SDK does not type `image` there. */
const generateWithImages = (image: string[], rc: RecordingClient = sdk, extra: Partial<ImageGenerateParamsNonStreaming> = {}) => {
  const params: ImageGenerateParamsNonStreaming & { image: string[] } = { prompt: 'make it blue', ...extra, image };
  return viaSdk(rc, (c) => c.images.generate(params));
};

async function jsonPost(path: string, body: unknown, target: TestGateway = gw): Promise<Answer> {
  const res = await postJson(target, path, body);
  return { status: res.status, json: res.json };
}

async function formPost(path: string, form: FormData, target: TestGateway = gw): Promise<Answer> {
  const res = await fetch(`${target.origin}${path}`, { method: 'POST', headers: { authorization: `Bearer ${target.apiKey}` }, body: form });
  return { status: res.status, json: (await res.json()) as unknown };
}

const jsonEdit = (images: unknown, extra: Record<string, unknown> = {}) =>
  jsonPost('/v1/images/edits', { model: 'gpt-image-1', prompt: 'make it blue', images, ...extra });

function expectRefused(answer: Answer, { status, code, param }: Refusal): void {
  expect({ status: answer.status, body: answer.json }).toEqual({
    status,
    body: { error: { message: expect.any(String), type: 'invalid_request_error', param, code } },
  });
  expect((answer.json as { error: { message: string } }).error.message.length).toBeGreaterThan(10);
}

const refused = (code: string, param: string | null, status = 400): Refusal => ({ status, code, param });

type Case = [name: string, send: () => Promise<Answer>, expected: Refusal];

const PRIVATE_HOSTS = ['127.0.0.1', '10.0.0.1', '169.254.169.254', '[::1]'];

const CASES: Case[] = [
  // Content, checked by bytes rather than by name or declared type.
  [
    'a text file named .png',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await png(img.text, 'photo.png') }),
    refused('invalid_image_format', 'image'),
  ],
  [
    'a GIF',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await toFile(img.gif, 'anim.gif', { type: 'image/gif' }) }),
    refused('invalid_image_format', 'image'),
  ],
  ['a 51 MB file', async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await png(pngHeaded(51 * MB)) }), refused('image_too_large', 'image')],
  ['a truncated PNG', async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await png(img.truncated) }), refused('invalid_image', 'image')],
  [
    'image[2] bad among three good',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await Promise.all([png(img.rgba, 'a.png'), png(img.rgb, 'b.png'), png(img.text, 'c.png')]) }),
    refused('invalid_image_format', 'image[2]'),
  ],
  [
    '17 images',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await Promise.all(Array.from({ length: 17 }, (_, i) => png(img.rgba, `${i}.png`))) }),
    refused('too_many_images', 'image'),
  ],
  [
    'an edit without any image',
    () => formPost('/v1/images/edits', formOf({ model: 'gpt-image-1', prompt: 'x' })),
    refused('missing_required_parameter', 'image'),
  ],
  // Masks.
  [
    'a mask of another size',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await png(img.rgba), mask: await png(img.rgbaSmall, 'mask.png') }),
    refused('invalid_mask', 'mask'),
  ],
  [
    'a mask without alpha (RGB PNG)',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await png(img.rgba), mask: await png(img.rgb, 'mask.png') }),
    refused('invalid_mask', 'mask'),
  ],
  [
    'a mask that is a JPEG',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await png(img.rgba), mask: await toFile(img.jpeg, 'mask.jpg', { type: 'image/jpeg' }) }),
    refused('invalid_mask', 'mask'),
  ],
  [
    'a non-image file for the mask',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await png(img.rgba), mask: await png(img.text, 'mask.png') }),
    refused('invalid_mask', 'mask'),
  ],
  // dall-e-2's rules.
  ['a non-square PNG for dall-e-2 edits', async () => edit({ model: 'dall-e-2', prompt: 'x', image: await png(img.wide) }), refused('invalid_image', 'image')],
  [
    'a JPEG for dall-e-2',
    async () => edit({ model: 'dall-e-2', prompt: 'x', image: await toFile(img.jpeg, 'photo.jpg', { type: 'image/jpeg' }) }),
    refused('invalid_image_format', 'image'),
  ],
  [
    'a dall-e-2 edit of an opaque PNG without a mask',
    async () => edit({ model: 'dall-e-2', prompt: 'x', image: await png(img.rgb) }),
    refused('invalid_image', 'image'),
  ],
  [
    'a complete PNG over 4 MB for dall-e-2',
    async () => edit({ model: 'dall-e-2', prompt: 'x', image: await png(img.over4mb) }),
    refused('image_too_large', 'image'),
  ],
  [
    'two images for dall-e-2',
    async () => edit({ model: 'dall-e-2', prompt: 'x', image: await Promise.all([png(img.rgba, 'a.png'), png(img.rgba, 'b.png')]) }),
    refused('too_many_images', 'image'),
  ],
  ['a non-square dall-e-2 variation', async () => variation({ image: await png(img.wide) }), refused('invalid_image', 'image')],
  // Models that take no inputs for the operation.
  ['dall-e-3 edits', async () => edit({ model: 'dall-e-3', prompt: 'x', image: await png(img.rgba) }), refused('invalid_value', 'model')],
  ['variations with gpt-image-2', async () => variation({ model: 'gpt-image-2', image: await png(img.rgba) }), refused('invalid_value', 'model')],
  [
    'reference images on a dall-e-3 generation',
    () => generateWithImages([img.rgba.toString('base64')], sdk, { model: 'dall-e-3' }),
    refused('invalid_value', 'image'),
  ],
  [
    'a mask on a variation',
    async () => {
      const params = { image: await png(img.rgba), mask: await png(img.rgba, 'mask.png') };
      return variation(params);
    },
    refused('unsupported_parameter', 'mask'),
  ],
  // JSON edits: OpenAI's images: [{image_url} | {file_id}].
  ['JSON edits with a file_id', () => jsonEdit([{ file_id: 'file-abc123' }]), refused('unsupported_parameter', 'images[0].file_id')],
  [
    'JSON edits with both image_url and file_id',
    () => jsonEdit([{ image_url: 'https://example.com/a.png', file_id: 'file-abc123' }]),
    refused('invalid_value', 'images[0]'),
  ],
  ['JSON edits with an unknown key in images[0]', () => jsonEdit([{ url: 'https://example.com/a.png' }]), refused('unknown_parameter', 'images[0].url')],
  ['JSON edits with an empty images list', () => jsonEdit([]), refused('invalid_value', 'images')],
  [
    'JSON edits with a mask URL to cloud metadata',
    () => jsonEdit([{ image_url: dataUri(img.rgba) }], { mask: { image_url: 'http://169.254.169.254/mask.png' } }),
    refused('image_url_forbidden', 'mask.image_url'),
  ],
  // Strings: URLs, data URIs, bare base64.
  ['a generation image array with an ftp:// URL', () => generateWithImages(['ftp://example.com/cat.png']), refused('invalid_image_url', 'image[0]')],
  [
    'bare base64 that is not an image',
    () => generateWithImages([Buffer.from('definitely not an image, just words').toString('base64')]),
    refused('invalid_image_format', 'image[0]'),
  ],
  ['a data URI of text', () => generateWithImages([`data:image/png;base64,${img.text.toString('base64')}`]), refused('invalid_image_format', 'image[0]')],
  ...PRIVATE_HOSTS.map(
    (host): Case => [
      `generation image URL to ${host}`,
      () => generateWithImages([dataUri(img.rgba), `http://${host}/latest/meta-data`]),
      refused('image_url_forbidden', 'image[1]'),
    ],
  ),
  ...PRIVATE_HOSTS.map(
    (host): Case => [
      `generation image[0] URL to ${host}`,
      () => generateWithImages([`http://${host}:8080/cat.png`]),
      refused('image_url_forbidden', 'image[0]'),
    ],
  ),
  ...PRIVATE_HOSTS.map(
    (host): Case => [
      `JSON edit image_url to ${host}`,
      () => jsonEdit([{ image_url: `http://${host}/cat.png` }]),
      refused('image_url_forbidden', 'images[0].image_url'),
    ],
  ),
  [
    'a multipart text field image with a cloud metadata URL',
    () => formPost('/v1/images/edits', formOf({ model: 'gpt-image-1', prompt: 'x', image: 'http://169.254.169.254/latest/meta-data' })),
    refused('image_url_forbidden', 'image'),
  ],
  // The 1 MB gateway: uploads past the limit stop the body early; inline images are totalled later.
  [
    'uploads beyond IMAGEGATE_UPLOAD_LIMIT',
    async () => edit({ model: 'gpt-image-1', prompt: 'x', image: await Promise.all([0, 1, 2].map((i) => png(pngHeaded(600 * 1024), `${i}.png`))) }, sdkLimited),
    refused('request_too_large', 'image', 413),
  ],
  [
    'base64 images beyond IMAGEGATE_UPLOAD_LIMIT',
    () =>
      generateWithImages(
        [0, 1].map(() => pngHeaded(600 * 1024).toString('base64')),
        sdkLimited,
      ),
    refused('request_too_large', 'image', 413),
  ],
  // A gateway allowed to fetch from 127.0.0.1 only.
  [
    'a 10.0.0.1 URL where only 127.0.0.1 is allowed',
    () => generateWithImages(['http://10.0.0.1/cat.png'], sdkPrivate),
    refused('image_url_forbidden', 'image[0]'),
  ],
];

function dataUri(bytes: Buffer): string {
  return `data:image/png;base64,${bytes.toString('base64')}`;
}

function formOf(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

describe('refused image inputs', () => {
  it(`has at least 24 cases (${CASES.length})`, () => expect(CASES.length).toBeGreaterThanOrEqual(24));

  it.each(CASES)('%s', async (_name, send, expected) => {
    const upstreamCalls = sim.sim.requests.length;
    expectRefused(await send(), expected);
    expect(sim.sim.requests.length).toBe(upstreamCalls);
  });

  it('refuses a redirect from an allowed address to a private one', async () => {
    const upstreamCalls = sim.sim.requests.length;
    const hits = urls.hits.length;
    expectRefused(await generateWithImages([`${urls.origin}/redirect`], sdkPrivate), refused('image_url_forbidden', 'image[0]'));
    // The first hop (127.0.0.1, allowed) was fetched; its redirect target was not.
    expect(urls.hits.slice(hits)).toEqual(['/redirect']);
    expect(sim.sim.requests.length).toBe(upstreamCalls);
  });

  it('gives up on a URL that never answers after IMAGEGATE_FETCH_TIMEOUT', async () => {
    const upstreamCalls = sim.sim.requests.length;
    const connections = silent.hits.length;
    const started = Date.now();
    expectRefused(await generateWithImages([`${silent.origin}/never.png`], sdkPrivate), refused('image_url_timeout', 'image[0]'));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5_000);
    expect(silent.hits.length).toBeGreaterThan(connections);
    expect(sim.sim.requests.length).toBe(upstreamCalls);
  });

  it('reports a URL answering 404 as unreachable', async () => {
    const upstreamCalls = sim.sim.requests.length;
    const hits = urls.hits.length;
    expectRefused(await generateWithImages([`${urls.origin}/missing.png`], sdkPrivate), refused('image_url_unreachable', 'image[0]'));
    expect(urls.hits.slice(hits)).toEqual(['/missing.png']);
    expect(sim.sim.requests.length).toBe(upstreamCalls);
  });

  it('keeps the client usable after refusing a 51 MB upload; a good request does reach the upstream', async () => {
    const upstreamCalls = sim.sim.requests.length;
    // Refused (its exact code and param are the '51 MB file' case's business); what matters here is what follows.
    const answer = await edit({ model: 'gpt-image-1', prompt: 'x', image: await png(pngHeaded(51 * MB)) });
    expect([400, 413]).toContain(answer.status);
    expect(answer.json).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(sim.sim.requests.length).toBe(upstreamCalls);
    const res = await sdk.client.images.generate({ model: 'gpt-image-1', prompt: 'a lighthouse', response_format: 'b64_json' });
    expect(res.data?.[0]?.b64_json?.length ?? 0).toBeGreaterThan(100);
    expect(sim.sim.requests.length).toBe(upstreamCalls + 1);
    expect(sim.sim.requests.at(-1)?.path).toBe('/v1/images/generations');
  });
});
