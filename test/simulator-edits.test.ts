// The simulators' image edits and variations, over real HTTP: the official SDK where it can send
// the request, raw fetch + FormData (or JSON) where it cannot, and sharp to check what came back.
import { createHash } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import OpenAI, { AzureOpenAI, toFile } from 'openai';
import sharp from 'sharp';
import { startAzureOpenAISimulator, type RunningAzureSimulator } from '../sim/azure-openai.js';
import { startNewApiAsyncSimulator, type RunningNewApiAsyncSimulator } from '../sim/newapi-async.js';
import { OpenAIImagesSimulator, startOpenAISimulator, type RecordedRequest, type RunningSimulator } from '../sim/openai/simulator.js';
import { renderImage } from '../sim/render.js';
import { rejectionOf } from './helpers/upstream-test-kit.js';

const KEY = 'sk-test-edits-key';
const RED = { r: 220, g: 60, b: 40 };
const GREEN = { r: 40, g: 180, b: 60 };
const BLUE = { r: 30, g: 70, b: 210 };
type Rgb = { r: number; g: number; b: number };

// -- input images -------------------------------------------------------------

function solid(width: number, height: number, colour: Rgb, alpha?: number): sharp.Sharp {
  const channels = alpha === undefined ? 3 : 4;
  return sharp({ create: { width, height, channels, background: { ...colour, alpha: alpha ?? 1 } } });
}

function png(width: number, height: number, colour: Rgb = RED, alpha?: number): Promise<Buffer> {
  return solid(width, height, colour, alpha).png().toBuffer();
}

/** Left half opaque `colour`, right half fully transparent: as a mask, "edit the right half". */
async function halfTransparent(width: number, height: number, colour: Rgb = { r: 0, g: 0, b: 0 }): Promise<Buffer> {
  const left = await solid(Math.floor(width / 2), height, colour, 1)
    .png()
    .toBuffer();
  return solid(width, height, colour, 0)
    .composite([{ input: left, left: 0, top: 0 }])
    .png()
    .toBuffer();
}

function dataUrl(bytes: Buffer, mime = 'image/png'): string {
  return `data:${mime};base64,${bytes.toString('base64')}`;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// -- requests and answers -----------------------------------------------------

function client(running: RunningSimulator): OpenAI {
  return new OpenAI({ apiKey: KEY, baseURL: running.baseURL, maxRetries: 0 });
}

type FilePart = { bytes: Buffer; filename: string; type?: string };
type Part = readonly [field: string, value: string | FilePart];

function form(parts: readonly Part[]): FormData {
  const data = new FormData();
  for (const [field, value] of parts) {
    if (typeof value === 'string') data.append(field, value);
    else data.append(field, new Blob([new Uint8Array(value.bytes)], { type: value.type ?? 'image/png' }), value.filename);
  }
  return data;
}

function postForm(
  origin: string,
  path: string,
  parts: readonly Part[],
  headers: Record<string, string> = { authorization: `Bearer ${KEY}` },
): Promise<Response> {
  return fetch(`${origin}${path}`, { method: 'POST', headers, body: form(parts) });
}

function postJson(origin: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
}

function file(bytes: Buffer, filename = 'image.png', type?: string): FilePart {
  return { bytes, filename, ...(type !== undefined ? { type } : {}) };
}

function b64(res: OpenAI.ImagesResponse, index = 0): Buffer {
  const value = res.data?.[index]?.b64_json;
  if (value === undefined) throw new Error(`no b64_json at data[${index}]`);
  return Buffer.from(value, 'base64');
}

async function b64FromJson(res: Response, index = 0): Promise<Buffer> {
  const body = (await res.json()) as { data?: { b64_json?: string }[] };
  const value = body.data?.[index]?.b64_json;
  if (value === undefined) throw new Error(`no b64_json at data[${index}]: ${JSON.stringify(body).slice(0, 300)}`);
  return Buffer.from(value, 'base64');
}

async function describe3(bytes: Buffer): Promise<[string | undefined, number | undefined, number | undefined]> {
  const meta = await sharp(bytes).metadata();
  return [meta.format, meta.width, meta.height];
}

async function pixel(bytes: Buffer, x: number, y: number): Promise<Rgb> {
  const raw = await sharp(bytes).removeAlpha().extract({ left: x, top: y, width: 1, height: 1 }).raw().toBuffer();
  return { r: raw[0] ?? -1, g: raw[1] ?? -1, b: raw[2] ?? -1 };
}

function distance(a: Rgb, b: Rgb): number {
  return Math.max(Math.abs(a.r - b.r), Math.abs(a.g - b.g), Math.abs(a.b - b.b));
}

function lastRecorded(running: { sim: { requests: RecordedRequest[] } }): RecordedRequest {
  const last = running.sim.requests.at(-1);
  if (last === undefined) throw new Error('nothing recorded');
  return last;
}

async function expectError(res: Response, status: number, param: string | null, code: string | null): Promise<string> {
  const body = (await res.json()) as { error?: { message?: string; type?: string; param?: string | null; code?: string | null } };
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error, JSON.stringify(body)).toMatchObject({ type: 'invalid_request_error', param, code });
  return body.error?.message ?? '';
}

// -----------------------------------------------------------------------------

describe('POST /v1/images/edits (multipart)', () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startOpenAISimulator({ apiKey: KEY });
  });
  afterAll(() => running.close());

  it('one image through the SDK: default model, auto size from the aspect, GPT envelope with image tokens', async () => {
    const photo = await png(300, 200, RED);
    const res = await client(running).images.edit({ image: await toFile(photo, 'photo.png', { type: 'image/png' }), prompt: 'add a red balloon' });
    expect(await describe3(b64(res))).toEqual(['png', 1536, 1024]);
    expect(res).toMatchObject({ background: 'opaque', output_format: 'png', quality: 'medium', size: '1536x1024' });
    const usage = res.usage;
    expect(usage?.input_tokens_details.image_tokens).toBeGreaterThan(0);
    expect(usage?.input_tokens).toBe((usage?.input_tokens_details.text_tokens ?? 0) + (usage?.input_tokens_details.image_tokens ?? 0));
    // A real edit: away from the prompt band the photo's red shows through the light wash.
    const seen = await pixel(b64(res), 60, 900);
    expect(seen.r).toBeGreaterThan(seen.b + 60);
    const recorded = lastRecorded(running);
    expect(recorded.json).toBeUndefined();
    expect(recorded.form).toEqual({
      fields: { prompt: 'add a red balloon' },
      files: [{ field: 'image', filename: 'photo.png', contentType: 'image/png', size: photo.length, sha256: sha256(photo) }],
    });
  });

  it('three images and a mask: image[] x3 + mask recorded in order; the mask area is edited, others become thumbnails', async () => {
    const first = await png(300, 300, RED);
    const second = await solid(120, 80, GREEN).jpeg().toBuffer();
    const third = await solid(90, 90, BLUE).webp().toBuffer();
    const mask = await halfTransparent(300, 300);
    const res = await postForm(running.origin, '/v1/images/edits', [
      ['model', 'gpt-image-2'],
      ['prompt', 'put the three together'],
      ['image[]', file(first, 'a.png')],
      ['image[]', file(second, 'b.jpg', 'image/jpeg')],
      ['image[]', file(third, 'c.webp', 'image/webp')],
      ['mask', file(mask, 'mask.png')],
      ['size', '1024x1024'],
      ['input_fidelity', 'high'],
    ]);
    expect(res.status).toBe(200);
    const image = await b64FromJson(res);
    expect(await describe3(image)).toEqual(['png', 1024, 1024]);
    const recorded = lastRecorded(running).form;
    expect(recorded?.files.map((f) => [f.field, f.filename, f.sha256])).toEqual([
      ['image[]', 'a.png', sha256(first)],
      ['image[]', 'b.jpg', sha256(second)],
      ['image[]', 'c.webp', sha256(third)],
      ['mask', 'mask.png', sha256(mask)],
    ]);
    expect(recorded?.fields).toEqual({ model: 'gpt-image-2', prompt: 'put the three together', size: '1024x1024', input_fidelity: 'high' });
    // Left half (mask opaque): the first image untouched. Right half (mask clear): edited.
    expect(distance(await pixel(image, 150, 600), RED)).toBeLessThan(4);
    expect(distance(await pixel(image, 900, 600), RED)).toBeGreaterThan(40);
    // The second image as the first thumbnail along the bottom.
    expect(distance(await pixel(image, 106, 917), GREEN)).toBeLessThan(12);
  });

  it('reads multipart strings as integers and booleans; honours n, jpeg/webp and transparency', async () => {
    const photo = await png(64, 64, BLUE);
    const jpeg = await postForm(running.origin, '/v1/images/edits', [
      ['image', file(photo)],
      ['prompt', 'p'],
      ['model', 'gpt-image-1'],
      ['n', '2'],
      ['stream', 'false'],
      ['output_format', 'jpeg'],
      ['output_compression', '40'],
      ['size', '1024x1536'],
      ['quality', 'low'],
    ]);
    expect(jpeg.status).toBe(200);
    const body = (await jpeg.json()) as { data: { b64_json: string }[]; output_format: string; quality: string };
    expect(body).toMatchObject({ output_format: 'jpeg', quality: 'low' });
    expect(body.data).toHaveLength(2);
    const [a, b] = body.data.map((d) => Buffer.from(d.b64_json, 'base64'));
    expect(await describe3(a ?? Buffer.alloc(0))).toEqual(['jpeg', 1024, 1536]);
    expect(a?.equals(b ?? Buffer.alloc(0))).toBe(false);
    const webp = await client(running).images.edit({
      model: 'gpt-image-1-mini',
      image: await toFile(photo, 'p.png'),
      prompt: 'cut out',
      output_format: 'webp',
      background: 'transparent',
    });
    expect(webp.background).toBe('transparent');
    const meta = await sharp(b64(webp)).metadata();
    expect([meta.format, meta.hasAlpha]).toEqual(['webp', true]);
  });

  it('dall-e-2: a square PNG whose transparency marks the edit, dall-e-2 sizes and answer forms', async () => {
    const square = await halfTransparent(256, 256, RED);
    const res = await client(running).images.edit({
      model: 'dall-e-2',
      image: await toFile(square, 's.png'),
      prompt: 'fill the gap',
      size: '512x512',
      response_format: 'b64_json',
    });
    expect(Object.keys(res).sort()).toEqual(['created', 'data']);
    const image = b64(res);
    expect(await describe3(image)).toEqual(['png', 512, 512]);
    expect(distance(await pixel(image, 100, 400), RED)).toBeLessThan(4);
    expect(distance(await pixel(image, 400, 400), RED)).toBeGreaterThan(40);
    const byUrl = await client(running).images.edit({ model: 'dall-e-2', image: await toFile(square, 's.png'), prompt: 'again' });
    const url = byUrl.data?.[0]?.url ?? '';
    expect(url.startsWith(`${running.origin}/files/`)).toBe(true);
    expect(await describe3(Buffer.from(await (await fetch(url)).arrayBuffer()))).toEqual(['png', 1024, 1024]);
  });

  it('rejects bad inputs the way OpenAI words them: status, code and param', async () => {
    const photo = await png(64, 64);
    const gif = await solid(32, 32, RED).gif().toBuffer();
    const opaqueMask = await png(64, 64, { r: 0, g: 0, b: 0 });
    const otherSizeMask = await halfTransparent(32, 32);
    const wide = await png(80, 40, RED, 0.5);
    const seventeen: Part[] = Array.from({ length: 17 }, (_, i) => ['image[]', file(photo, `${i}.png`)] as const);
    const cases: [string, Part[], string | null, string | null][] = [
      [
        'a text file named .png',
        [
          ['image', file(Buffer.from('not an image at all'), 'notes.png')],
          ['prompt', 'p'],
        ],
        'image',
        'invalid_image_format',
      ],
      [
        'a GIF',
        [
          ['image', file(gif, 'anim.gif', 'image/gif')],
          ['prompt', 'p'],
        ],
        'image',
        'invalid_image_format',
      ],
      [
        'a mask of another size',
        [
          ['image', file(photo)],
          ['mask', file(otherSizeMask, 'm.png')],
          ['prompt', 'p'],
        ],
        'mask',
        'invalid_image_dimensions',
      ],
      [
        'a mask without alpha',
        [
          ['image', file(photo)],
          ['mask', file(opaqueMask, 'm.png')],
          ['prompt', 'p'],
        ],
        'mask',
        'invalid_image_format',
      ],
      [
        'a mask that is a JPEG',
        [
          ['image', file(photo)],
          ['mask', file(await solid(64, 64, RED).jpeg().toBuffer(), 'm.jpg')],
          ['prompt', 'p'],
        ],
        'mask',
        'invalid_image_format',
      ],
      [
        'dall-e-2 with a non-square PNG',
        [
          ['model', 'dall-e-2'],
          ['image', file(wide)],
          ['prompt', 'p'],
        ],
        'image',
        'invalid_image_dimensions',
      ],
      [
        'dall-e-2 without mask or alpha',
        [
          ['model', 'dall-e-2'],
          ['image', file(photo)],
          ['prompt', 'p'],
        ],
        'image',
        'invalid_image_format',
      ],
      [
        'dall-e-2 with two images',
        [
          ['model', 'dall-e-2'],
          ['image[]', file(photo)],
          ['image[]', file(photo)],
          ['prompt', 'p'],
        ],
        'image',
        'invalid_value',
      ],
      [
        'dall-e-2 with input_fidelity',
        [
          ['model', 'dall-e-2'],
          ['image', file(await png(64, 64, RED, 0.5))],
          ['prompt', 'p'],
          ['input_fidelity', 'high'],
        ],
        'input_fidelity',
        'unsupported_parameter',
      ],
      [
        'a dall-e-3 edit',
        [
          ['model', 'dall-e-3'],
          ['image', file(photo)],
          ['prompt', 'p'],
        ],
        'model',
        'invalid_value',
      ],
      [
        'an unknown model',
        [
          ['model', 'imagen-9'],
          ['image', file(photo)],
          ['prompt', 'p'],
        ],
        'model',
        'invalid_value',
      ],
      ['17 images', [...seventeen, ['prompt', 'p']], 'image', 'array_above_max_length'],
      ['a missing prompt', [['image', file(photo)]], 'prompt', 'missing_required_parameter'],
      ['a missing image', [['prompt', 'p']], 'image', 'missing_required_parameter'],
      [
        'image sent as text',
        [
          ['image', 'https://example.com/a.png'],
          ['prompt', 'p'],
        ],
        'image',
        'invalid_type',
      ],
      [
        'response_format with a GPT model',
        [
          ['image', file(photo)],
          ['prompt', 'p'],
          ['response_format', 'b64_json'],
        ],
        'response_format',
        'unknown_parameter',
      ],
      [
        'stream=true with dall-e-2',
        [
          ['model', 'dall-e-2'],
          ['image', file(photo)],
          ['prompt', 'p'],
          ['stream', 'true'],
        ],
        'stream',
        'unsupported_value',
      ],
      [
        'n that is not an integer',
        [
          ['image', file(photo)],
          ['prompt', 'p'],
          ['n', 'two'],
        ],
        'n',
        'invalid_type',
      ],
      [
        'n above 10',
        [
          ['image', file(photo)],
          ['prompt', 'p'],
          ['n', '11'],
        ],
        'n',
        'integer_above_max_value',
      ],
      [
        'a size GPT models lack',
        [
          ['image', file(photo)],
          ['prompt', 'p'],
          ['size', '512x512'],
        ],
        'size',
        'invalid_value',
      ],
      [
        'input_fidelity high on gpt-image-1-mini',
        [
          ['model', 'gpt-image-1-mini'],
          ['image', file(photo)],
          ['prompt', 'p'],
          ['input_fidelity', 'high'],
        ],
        'input_fidelity',
        'unsupported_value',
      ],
      [
        'an unknown file part',
        [
          ['image', file(photo)],
          ['prompt', 'p'],
          ['reference', file(photo)],
        ],
        'reference',
        'unknown_parameter',
      ],
    ];
    for (const [name, parts, param, code] of cases) {
      const res = await postForm(running.origin, '/v1/images/edits', parts);
      const message = await expectError(res, 400, param, code).catch((err: unknown) => {
        throw new Error(`${name}: ${String(err)}`);
      });
      expect(message.length, name).toBeGreaterThan(10);
    }
  });

  it('a malformed multipart body is a 400 in the OpenAI envelope', async () => {
    const res = await fetch(`${running.origin}/v1/images/edits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'multipart/form-data; boundary=nothing-here' },
      body: 'this is not multipart',
    });
    await expectError(res, 400, null, null);
  });

  it('needs the API key, and takes faults from the queue like generations', async () => {
    const photo = await png(32, 32);
    const unauthorised = await postForm(
      running.origin,
      '/v1/images/edits',
      [
        ['image', file(photo)],
        ['prompt', 'p'],
      ],
      {},
    );
    expect(unauthorised.status).toBe(401);
    expect(await unauthorised.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
    running.sim.enqueueFault({ kind: 'status', status: 429, retryAfterSeconds: 3 });
    const err = await rejectionOf(client(running).images.edit({ image: await toFile(photo, 'p.png'), prompt: 'p' }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    running.sim.enqueueFault({ kind: 'truncated' });
    const truncated = await postForm(running.origin, '/v1/images/variations', [
      ['image', file(await png(32, 32))],
      ['size', '256x256'],
    ]);
    expect(truncated.status).toBe(200);
    await expect(truncated.arrayBuffer()).rejects.toThrow();
  });
});

describe('POST /v1/images/edits (JSON, EditImageBodyJsonParam)', () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startOpenAISimulator({ apiKey: KEY });
  });
  afterAll(() => running.close());

  it('edits data-URL images with a data-URL mask', async () => {
    const first = await png(200, 300, GREEN);
    const second = await solid(40, 40, BLUE).jpeg().toBuffer();
    const mask = await halfTransparent(200, 300);
    const body = {
      model: 'gpt-image-1',
      prompt: 'json edit',
      images: [{ image_url: dataUrl(first) }, { image_url: dataUrl(second, 'image/jpeg') }],
      mask: { image_url: dataUrl(mask) },
      output_format: 'jpeg',
      output_compression: 60,
    };
    const res = await postJson(running.origin, '/v1/images/edits', body);
    expect(res.status).toBe(200);
    const json = (await res.clone().json()) as { size: string; usage: { input_tokens_details: { image_tokens: number } } };
    expect(json.size).toBe('1024x1536'); // auto: the first image is portrait
    expect(json.usage.input_tokens_details.image_tokens).toBeGreaterThan(0);
    expect(await describe3(await b64FromJson(res))).toEqual(['jpeg', 1024, 1536]);
    expect(lastRecorded(running)).toMatchObject({ json: body });
    expect(lastRecorded(running).form).toBeUndefined();
  });

  it('refuses what it cannot resolve and what JSON edits do not take', async () => {
    const image = dataUrl(await png(16, 16));
    const remote = await postJson(running.origin, '/v1/images/edits', { prompt: 'p', images: [{ image_url: 'https://example.com/a.png' }] });
    expect(await expectError(remote, 400, 'images[0].image_url', 'invalid_value')).toContain('does not fetch');
    const fileId = await postJson(running.origin, '/v1/images/edits', { prompt: 'p', images: [{ file_id: 'file-abc123' }] });
    expect(await expectError(fileId, 400, 'images[0].file_id', 'invalid_value')).toContain('no Files API');
    const dalle = await postJson(running.origin, '/v1/images/edits', { model: 'dall-e-2', prompt: 'p', images: [{ image_url: image }] });
    await expectError(dalle, 400, 'model', 'invalid_value');
    const cases: [unknown, string | null, string | null][] = [
      [{ prompt: 'p' }, 'images', 'missing_required_parameter'],
      [{ prompt: 'p', images: [] }, 'images', 'empty_array'],
      [{ prompt: 'p', images: Array.from({ length: 17 }, () => ({ image_url: image })) }, 'images', 'array_above_max_length'],
      [{ prompt: 'p', images: [{ image_url: 'data:text/plain;base64,aGVsbG8=' }] }, 'images[0]', 'invalid_image_format'],
      [{ prompt: 'p', images: [{ image_url: image }], mask: { image_url: image } }, 'mask', 'invalid_image_format'],
      [{ images: [{ image_url: image }] }, 'prompt', 'missing_required_parameter'],
      [{ prompt: 'p', images: [{ image_url: image }], response_format: 'url' }, 'response_format', 'unknown_parameter'],
      [{ prompt: 'p', images: [{ image_url: image, detail: 'high' }] }, 'images[0].detail', 'unknown_parameter'],
    ];
    for (const [body, param, code] of cases) {
      await expectError(await postJson(running.origin, '/v1/images/edits', body), 400, param, code);
    }
  });
});

describe('POST /v1/images/variations', () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startOpenAISimulator({ apiKey: KEY });
  });
  afterAll(() => running.close());

  it('n=2 through the SDK: two different PNGs of the size, in the dall-e-2 envelope', async () => {
    const square = await solid(200, 200, RED)
      .composite([{ input: await png(100, 100, GREEN), left: 50, top: 50 }])
      .png()
      .toBuffer();
    const res = await client(running).images.createVariation({ image: await toFile(square, 'sq.png'), n: 2, size: '256x256', response_format: 'b64_json' });
    expect(Object.keys(res).sort()).toEqual(['created', 'data']);
    const [a, b] = [b64(res, 0), b64(res, 1)];
    expect(await describe3(a)).toEqual(['png', 256, 256]);
    expect(await describe3(b)).toEqual(['png', 256, 256]);
    expect(a.equals(b)).toBe(false);
    expect(distance(await pixel(a, 128, 100), await pixel(b, 128, 100))).toBeGreaterThan(20);
    expect(lastRecorded(running).form?.fields).toEqual({ n: '2', size: '256x256', response_format: 'b64_json' });
  });

  it('defaults to a 1024x1024 url answer, and rejects what dall-e-2 cannot vary', async () => {
    const square = await png(64, 64, BLUE);
    const res = await client(running).images.createVariation({ image: await toFile(square, 'sq.png') });
    const url = res.data?.[0]?.url ?? '';
    expect(await describe3(Buffer.from(await (await fetch(url)).arrayBuffer()))).toEqual(['png', 1024, 1024]);
    const cases: [Part[], string | null, string | null][] = [
      [
        [
          ['image', file(square)],
          ['model', 'gpt-image-1'],
        ],
        'model',
        'invalid_value',
      ],
      [[['image', file(await png(64, 32))]], 'image', 'invalid_image_dimensions'],
      [[['image', file(await solid(64, 64, BLUE).jpeg().toBuffer(), 'sq.jpg')]], 'image', 'invalid_image_format'],
      [
        [
          ['image', file(square)],
          ['size', '1536x1024'],
        ],
        'size',
        'invalid_value',
      ],
      [
        [
          ['image', file(square)],
          ['n', '0'],
        ],
        'n',
        'integer_below_min_value',
      ],
      [[['n', '1']], 'image', 'missing_required_parameter'],
      [
        [
          ['image', file(square)],
          ['prompt', 'p'],
        ],
        'prompt',
        'unknown_parameter',
      ],
    ];
    for (const [parts, param, code] of cases) {
      await expectError(await postForm(running.origin, '/v1/images/variations', parts), 400, param, code);
    }
    const json = await postJson(running.origin, '/v1/images/variations', { image: 'x' });
    expect(await expectError(json, 400, null, null)).toContain('multipart/form-data');
  });
});

describe('edits with relay options and the fixed image', () => {
  it('a relay answers its own form, caps n and forces PNG', async () => {
    const relay = await startOpenAISimulator({ relay: { answer: 'url', maxImages: 1, alwaysPng: true } });
    try {
      const res = await postForm(relay.origin, '/v1/images/edits', [
        ['image', file(await png(64, 64))],
        ['prompt', 'p'],
        ['n', '3'],
        ['output_format', 'webp'],
        ['response_format', 'b64_json'],
      ]);
      const body = (await res.json()) as { data: { url?: string }[]; output_format: string };
      expect(body.data).toHaveLength(1);
      expect(body.output_format).toBe('png');
      expect(await describe3(Buffer.from(await (await fetch(body.data[0]?.url ?? '')).arrayBuffer()))).toEqual(['png', 1024, 1024]);
    } finally {
      await relay.close();
    }
  });

  it('fixedImage answers edits and variations with the fixed bytes (after validating them)', async () => {
    const fixed = await renderImage({ width: 40, height: 30, format: 'png', text: 'fixed' });
    const sim = new OpenAIImagesSimulator({ fixedImage: fixed });
    const request = async (path: string, parts: readonly Part[]): Promise<unknown> => {
      const encoded = new Request('http://sim.invalid/', { method: 'POST', body: form(parts) });
      const answer = await sim.handle({
        method: 'POST',
        path,
        headers: { 'content-type': encoded.headers.get('content-type') ?? '' },
        body: Buffer.from(await encoded.arrayBuffer()),
      });
      if (answer.kind !== 'full') throw new Error('expected a full answer');
      return JSON.parse(answer.body.toString()) as unknown;
    };
    const edit = await request('/v1/images/edits', [
      ['image', file(await png(64, 64))],
      ['prompt', 'bench'],
      ['n', '2'],
    ]);
    const item = { b64_json: fixed.toString('base64') };
    expect(edit).toMatchObject({ size: '40x30', data: [item, item], usage: { input_tokens_details: { image_tokens: expect.any(Number) as number } } });
    const variation = await request('/v1/images/variations', [
      ['image', file(await png(64, 64))],
      ['response_format', 'b64_json'],
    ]);
    expect(variation).toMatchObject({ data: [item] });
    expect(await request('/v1/images/edits', [['prompt', 'no image']])).toMatchObject({ error: { param: 'image' } });
  });
});

describe('Azure OpenAI edits', () => {
  let azure: RunningAzureSimulator;
  const API_VERSION = '2025-04-01-preview';
  beforeAll(async () => {
    azure = await startAzureOpenAISimulator({ apiKey: KEY, deployments: { 'my-editor': 'gpt-image-1' } });
  });
  afterAll(() => azure.close());

  it("routes the deployment's edits path; the inner simulator sees the deployment's model", async () => {
    const photo = await png(64, 64, GREEN);
    const sdk = new AzureOpenAI({ endpoint: azure.origin, apiKey: KEY, apiVersion: API_VERSION, deployment: 'my-editor', maxRetries: 0 });
    const res = await sdk.images.edit({ model: 'dall-e-2', image: await toFile(photo, 'p.png'), prompt: 'azure edit', size: '1024x1024' });
    expect(await describe3(b64(res))).toEqual(['png', 1024, 1024]);
    expect(lastRecorded(azure).path).toBe(`/openai/deployments/my-editor/images/edits?api-version=${API_VERSION}`);
    const inner = azure.sim.openai.requests.at(-1);
    expect(inner?.path).toBe('/v1/images/edits');
    expect(inner?.headers['api-key']).toBeUndefined();
    expect(inner?.form?.fields).toMatchObject({ model: 'gpt-image-1', prompt: 'azure edit', size: '1024x1024' });
    expect(inner?.form?.files.map((f) => [f.field, f.sha256])).toEqual([['image', sha256(photo)]]);
  });

  it('JSON edits get the deployment model too; the same admit checks apply', async () => {
    const path = `/openai/deployments/my-editor/images/edits?api-version=${API_VERSION}`;
    const body = JSON.stringify({ model: 'whatever', prompt: 'j', images: [{ image_url: dataUrl(await png(16, 16)) }] });
    const ok = await fetch(`${azure.origin}${path}`, { method: 'POST', headers: { 'api-key': KEY, 'content-type': 'application/json' }, body });
    expect(ok.status).toBe(200);
    expect(azure.sim.openai.requests.at(-1)?.json).toMatchObject({ model: 'gpt-image-1' });
    const absent = await fetch(`${azure.origin}${path.replace('my-editor', 'absent')}`, {
      method: 'POST',
      headers: { 'api-key': KEY },
      body: form([['prompt', 'p']]),
    });
    expect(absent.status).toBe(404);
    expect(await absent.json()).toMatchObject({ error: { code: 'DeploymentNotFound' } });
    const wrongKey = await fetch(`${azure.origin}${path}`, { method: 'POST', headers: { 'api-key': 'nope' }, body: form([['prompt', 'p']]) });
    expect(wrongKey.status).toBe(401);
    const variations = await fetch(`${azure.origin}/openai/deployments/my-editor/images/variations?api-version=${API_VERSION}`, {
      method: 'POST',
      headers: { 'api-key': KEY },
      body: form([['image', file(await png(16, 16))]]),
    });
    expect(variations.status).toBe(404);
  });
});

describe('new-api async edits', () => {
  let newapi: RunningNewApiAsyncSimulator;
  beforeAll(async () => {
    newapi = await startNewApiAsyncSimulator({ apiKey: KEY, taskDurationMs: 60 });
  });
  afterAll(() => newapi.close());

  const auth = { authorization: `Bearer ${KEY}` };

  async function finishedTask(id: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await fetch(`${newapi.origin}/v1/images/tasks/${id}`, { headers: auth });
      const body = (await res.json()) as { data: Record<string, unknown> };
      if (body.data.status === 'succeeded' || body.data.status === 'failed') return body.data;
      if (Date.now() > deadline) throw new Error('task did not finish');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('with the async header an edit becomes a task whose action is edits', async () => {
    const parts: Part[] = [
      ['image', file(await png(64, 64))],
      ['prompt', 'async edit'],
      ['model', 'gpt-image-1'],
      ['size', '1024x1536'],
    ];
    const submit = await postForm(newapi.origin, '/v1/images/edits', parts, { ...auth, 'x-new-api-async-task': 'true' });
    expect(submit.status).toBe(200);
    const submitted = (await submit.json()) as { code: string; data: { task_id: string; status: string } };
    expect(submitted).toMatchObject({ code: 'success', data: { status: 'submitted' } });
    const task = await finishedTask(submitted.data.task_id);
    expect(task).toMatchObject({ action: 'edits', status: 'succeeded', progress: '100%' });
    const urls = task.image_urls as string[];
    expect(await describe3(Buffer.from(await (await fetch(urls[0] ?? '')).arrayBuffer()))).toEqual(['png', 1024, 1536]);
  });

  it('without the header it answers like the plain relay; bad edits are refused at submit', async () => {
    const photo = await png(64, 64);
    const plain = await postForm(
      newapi.origin,
      '/v1/images/edits',
      [
        ['image', file(photo)],
        ['prompt', 'p'],
        ['response_format', 'b64_json'],
      ],
      auth,
    );
    expect(await describe3(await b64FromJson(plain))).toEqual(['png', 1024, 1024]);
    const viaUrl = await postForm(
      newapi.origin,
      '/v1/images/edits',
      [
        ['image', file(photo)],
        ['prompt', 'p'],
      ],
      auth,
    );
    expect(((await viaUrl.json()) as { data: { url: string }[] }).data[0]?.url).toMatch(/\/files\//);
    const bad = await postForm(newapi.origin, '/v1/images/edits', [['prompt', 'no image']], { ...auth, 'x-new-api-async-task': 'true' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: 'image', code: 'missing_required_parameter' } });
    const generation = await fetch(`${newapi.origin}/v1/images/generations`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'x-new-api-async-task': 'true' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: 'still generations' }),
    });
    const id = ((await generation.json()) as { data: { task_id: string } }).data.task_id;
    expect(await finishedTask(id)).toMatchObject({ action: 'generations' });
  });
});
