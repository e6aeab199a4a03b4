/**
 * Image inputs without a server: what readImageHeader reads from real files, how
 * parseImageRequest turns edits/variations/reference images into refs (and refuses them),
 * the private-address exceptions, and IMAGEGATE_ALLOW_PRIVATE_URLS.
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { GatewayError } from '../src/core/errors.js';
import { readImageHeader, type ImageHeader } from '../src/core/image-header.js';
import type { ImageInputRef, ImageInputRefs } from '../src/core/image-input.js';
import { inMemoryBytes } from '../src/core/input-bytes.js';
import { parseImageRequest, type ImageRequestInput, type ParsedImageRequest } from '../src/core/image-request.js';
import { ModelCatalogue } from '../src/core/models.js';
import { createAddressFilter } from '../src/net/address-policy.js';
import { makeGif, makeJpeg, makeNoisePng, makePng, makeWebp, noiseBytes } from './helpers/inputs.js';

type Sample = [name: string, make: () => Promise<Buffer>, expected: Omit<ImageHeader, 'complete'>];

const SAMPLES: Sample[] = [
  ['PNG RGB', () => makePng({ width: 40, height: 30 }), { kind: 'png', width: 40, height: 30, hasAlpha: false }],
  ['PNG RGBA', () => makePng({ width: 41, height: 29, alpha: 0.5 }), { kind: 'png', width: 41, height: 29, hasAlpha: true }],
  ['PNG palette with tRNS', () => makePng({ width: 33, height: 17, alpha: 0.25 }, { palette: true }), { kind: 'png', width: 33, height: 17, hasAlpha: true }],
  ['PNG palette, opaque', () => makePng({ width: 33, height: 17 }, { palette: true }), { kind: 'png', width: 33, height: 17, hasAlpha: false }],
  ['JPEG', () => makeJpeg({ width: 64, height: 48 }), { kind: 'jpeg', width: 64, height: 48, hasAlpha: false }],
  ['WebP lossy', () => makeWebp({ width: 50, height: 20 }), { kind: 'webp', width: 50, height: 20, hasAlpha: false }],
  ['WebP lossless', () => makeWebp({ width: 50, height: 21 }, { lossless: true }), { kind: 'webp', width: 50, height: 21, hasAlpha: false }],
  ['WebP lossy with alpha', () => makeWebp({ width: 52, height: 22, alpha: 0.5 }), { kind: 'webp', width: 52, height: 22, hasAlpha: true }],
  [
    'WebP lossless with alpha',
    () => makeWebp({ width: 53, height: 23, alpha: 0.5 }, { lossless: true }),
    { kind: 'webp', width: 53, height: 23, hasAlpha: true },
  ],
  ['GIF', () => makeGif({ width: 12, height: 34 }), { kind: 'gif', width: 12, height: 34, hasAlpha: false }],
];

describe('readImageHeader', () => {
  const files = new Map<string, Buffer>();
  beforeAll(async () => {
    for (const [name, make] of SAMPLES) files.set(name, await make());
  });
  const file = (name: string): Buffer => {
    const bytes = files.get(name);
    if (!bytes) throw new Error(`no sample ${name}`);
    return bytes;
  };

  it.each(SAMPLES)('%s: format, size and alpha from the container, complete', (name, _make, expected) => {
    expect(readImageHeader(file(name))).toEqual({ ...expected, complete: true });
  });

  it.each(SAMPLES.filter(([name]) => name !== 'GIF'))('%s cut short by one byte: same header, not complete', (name, _make, expected) => {
    const bytes = file(name);
    expect(readImageHeader(bytes.subarray(0, bytes.length - 1))).toEqual({ ...expected, complete: false });
  });

  it('a PNG cut inside its image data keeps its header but is not complete', () => {
    const bytes = file('PNG RGBA');
    expect(readImageHeader(bytes.subarray(0, 40))).toEqual({ kind: 'png', width: 41, height: 29, hasAlpha: true, complete: false });
  });

  it('a GIF without its trailer byte is not complete', () => {
    const bytes = file('GIF');
    expect(readImageHeader(bytes.subarray(0, bytes.length - 1))).toMatchObject({ kind: 'gif', complete: false });
  });

  it('a JPEG cut inside its scan data keeps its size but is not complete', async () => {
    const big = await sharp(await makeNoisePng(256, 192, 3))
      .jpeg({ quality: 95 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(20_000);
    expect(readImageHeader(big)).toEqual({ kind: 'jpeg', width: 256, height: 192, hasAlpha: false, complete: true });
    expect(readImageHeader(big.subarray(0, Math.floor(big.length / 2)))).toEqual({ kind: 'jpeg', width: 256, height: 192, hasAlpha: false, complete: false });
  });

  it.each(['PNG RGB', 'JPEG', 'WebP lossy', 'WebP lossless', 'WebP lossy with alpha'])('%s with its header gone (first 20 bytes only): null', (name) => {
    expect(readImageHeader(file(name).subarray(0, 20))).toBeNull();
  });

  it.each([
    ['random bytes', noiseBytes(4096)],
    ['text', Buffer.from('GIF? PNG? no: just a sentence that is long enough to look like a header.')],
    ['empty', Buffer.alloc(0)],
    ['a PNG signature followed by noise', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), noiseBytes(200, 7)])],
    ['a RIFF that is not WebP', Buffer.concat([Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt ', 'latin1'), noiseBytes(64, 9)])],
  ])('%s: null', (_name, bytes) => {
    expect(readImageHeader(bytes)).toBeNull();
  });
});

const catalogue = ModelCatalogue.withAliases([]);
const PNG_BYTES = Buffer.from('89504e470d0a1a0a', 'hex');

function parse(input: ImageRequestInput): ParsedImageRequest {
  return parseImageRequest(input, catalogue, 'req-test');
}

function upload(param: string): ImageInputRef {
  return { param, source: { kind: 'upload', bytes: inMemoryBytes(PNG_BYTES), filename: `${param}.png` } };
}

function multipart(endpoint: ImageRequestInput['endpoint'], body: Record<string, string>, uploads: ImageInputRefs): ImageRequestInput {
  return { endpoint, body, multipart: { uploads } };
}

describe('parseImageRequest: image inputs', () => {
  it('a multipart edit reads its string fields as the JSON types and keeps the uploads as refs', () => {
    const uploads: ImageInputRefs = { images: [upload('image[0]'), upload('image[1]')], mask: upload('mask') };
    const { job, inputs } = parse(
      multipart(
        'edits',
        { model: 'gpt-image-1', prompt: 'add a hat', n: '2', stream: 'false', size: '1024x1536', input_fidelity: 'high', quality: 'high' },
        uploads,
      ),
    );
    expect(job).toMatchObject({ operation: 'edit', prompt: 'add a hat', n: 2, size: '1024x1536', quality: 'high', inputFidelity: 'high' });
    expect(job.model.id).toBe('gpt-image-1');
    expect(job.inputs.images).toEqual([]); // bytes are resolved later
    expect(inputs).toBe(uploads);
  });

  it('a variation defaults to dall-e-2, has no prompt, and ignores one sent', () => {
    const { job, inputs } = parse(multipart('variations', { n: '3', size: '512x512', prompt: 'ignored' }, { images: [upload('image')] }));
    expect(job).toMatchObject({ operation: 'variation', prompt: '', n: 3, size: '512x512' });
    expect(job.model.id).toBe('dall-e-2');
    expect(inputs.images.map((r) => r.param)).toEqual(['image']);
  });

  it('an edit without a model uses gpt-image-2', () => {
    const { job } = parse(multipart('edits', { prompt: 'x' }, { images: [upload('image')] }));
    expect(job.model.id).toBe('gpt-image-2');
    expect(job.operation).toBe('edit');
  });

  it('JSON edits: images [{image_url}] (URL or data URL) and a mask, with params naming each', () => {
    const { job, inputs } = parse({
      endpoint: 'edits',
      body: {
        model: 'gpt-image-1.5',
        prompt: 'x',
        images: [{ image_url: 'https://example.com/a.png' }, { image_url: 'data:image/png;base64,iVBORw0KGgo=' }, 'https://example.com/c.webp'],
        mask: { image_url: 'https://example.com/mask.png' },
      },
    });
    expect(job.operation).toBe('edit');
    expect(inputs).toEqual({
      images: [
        { param: 'images[0].image_url', source: { kind: 'url', url: 'https://example.com/a.png' } },
        { param: 'images[1].image_url', source: { kind: 'inline', text: 'data:image/png;base64,iVBORw0KGgo=' } },
        { param: 'images[2]', source: { kind: 'url', url: 'https://example.com/c.webp' } },
      ],
      mask: { param: 'mask.image_url', source: { kind: 'url', url: 'https://example.com/mask.png' } },
    });
  });

  it('JSON edits: a file_id is kept as a ref (refused later, when resolving) and a string mask is named mask', () => {
    const { inputs } = parse({ endpoint: 'edits', body: { prompt: 'x', images: [{ file_id: 'file-1' }], mask: 'iVBORw0KGgo=' } });
    expect(inputs).toEqual({
      images: [{ param: 'images[0].file_id', source: { kind: 'file_id', fileId: 'file-1' } }],
      mask: { param: 'mask', source: { kind: 'inline', text: 'iVBORw0KGgo=' } },
    });
  });

  it('a generation with an image array becomes an edit; params are image[0], image[1]...', () => {
    const { job, inputs } = parse({
      endpoint: 'generations',
      body: { prompt: 'x', image: ['https://example.com/a.png', '  iVBORw0KGgo=  ', 'data:image/webp;base64,UklGRg=='] },
    });
    expect(job.operation).toBe('edit');
    expect(inputs.images).toEqual([
      { param: 'image[0]', source: { kind: 'url', url: 'https://example.com/a.png' } },
      { param: 'image[1]', source: { kind: 'inline', text: 'iVBORw0KGgo=' } },
      { param: 'image[2]', source: { kind: 'inline', text: 'data:image/webp;base64,UklGRg==' } },
    ]);
  });

  it('a generation with a single image string names it image; without image it stays a generation', () => {
    expect(parse({ endpoint: 'generations', body: { prompt: 'x', image: 'HTTPS://example.com/a.png' } }).inputs.images).toEqual([
      { param: 'image', source: { kind: 'url', url: 'HTTPS://example.com/a.png' } },
    ]);
    const plain = parse({ endpoint: 'generations', body: { prompt: 'x', image: null } });
    expect(plain.job.operation).toBe('generate');
    expect(plain.inputs).toEqual({ images: [] });
  });

  it('JSON edits may also use image (strings) instead of images', () => {
    const { inputs } = parse({ endpoint: 'edits', body: { prompt: 'x', image: ['https://example.com/a.png'] } });
    expect(inputs.images.map((r) => r.param)).toEqual(['image[0]']);
  });

  it('sixteen images are fine for GPT models', () => {
    const { inputs } = parse({ endpoint: 'edits', body: { prompt: 'x', image: Array.from({ length: 16 }, (_, i) => `https://example.com/${i}.png`) } });
    expect(inputs.images).toHaveLength(16);
  });
});

type Refusal = [name: string, input: ImageRequestInput, status: number, code: string, param: string | null];

const json = (endpoint: ImageRequestInput['endpoint'], body: unknown): ImageRequestInput => ({ endpoint, body });
const one = { images: [upload('image')] };

const REFUSALS: Refusal[] = [
  ['dall-e-3 edits', multipart('edits', { model: 'dall-e-3', prompt: 'x' }, one), 400, 'invalid_value', 'model'],
  ['variations with gpt-image-2', multipart('variations', { model: 'gpt-image-2' }, one), 400, 'invalid_value', 'model'],
  ['variations with gpt-image-1', json('variations', { model: 'gpt-image-1', image: 'https://example.com/a.png' }), 400, 'invalid_value', 'model'],
  [
    'reference images on a dall-e-3 generation',
    json('generations', { model: 'dall-e-3', prompt: 'x', image: ['https://example.com/a.png'] }),
    400,
    'invalid_value',
    'image',
  ],
  [
    'two reference images on a dall-e-2 generation',
    json('generations', { model: 'dall-e-2', prompt: 'x', image: ['https://example.com/a.png', 'https://example.com/b.png'] }),
    400,
    'too_many_images',
    'image',
  ],
  ['an edit without an image', multipart('edits', { prompt: 'x' }, { images: [] }), 400, 'missing_required_parameter', 'image'],
  ['a JSON edit without an image', json('edits', { prompt: 'x' }), 400, 'missing_required_parameter', 'image'],
  ['a variation without an image', multipart('variations', {}, { images: [] }), 400, 'missing_required_parameter', 'image'],
  [
    'two images for dall-e-2 edits',
    multipart('edits', { model: 'dall-e-2', prompt: 'x' }, { images: [upload('image[0]'), upload('image[1]')] }),
    400,
    'too_many_images',
    'image',
  ],
  ['two images for a variation', multipart('variations', {}, { images: [upload('image[0]'), upload('image[1]')] }), 400, 'too_many_images', 'image'],
  [
    '17 images for GPT',
    json('edits', { prompt: 'x', image: Array.from({ length: 17 }, (_, i) => `https://example.com/${i}.png`) }),
    400,
    'too_many_images',
    'image',
  ],
  ['a mask on a variation', multipart('variations', {}, { images: [upload('image')], mask: upload('mask') }), 400, 'unsupported_parameter', 'mask'],
  ['an edit without a prompt', multipart('edits', { model: 'gpt-image-1' }, one), 400, 'missing_required_parameter', 'prompt'],
  [
    'a dall-e-2 edit prompt over 1,000 characters',
    multipart('edits', { model: 'dall-e-2', prompt: 'a'.repeat(1_001) }, one),
    400,
    'string_above_max_length',
    'prompt',
  ],
  ['an unknown model for variations', multipart('variations', { model: 'dall-e-9' }, one), 404, 'model_not_found', 'model'],
  ['multipart n that is not a number', multipart('edits', { prompt: 'x', n: 'two' }, one), 400, 'invalid_type', 'n'],
  ['multipart n fractional', multipart('edits', { prompt: 'x', n: '1.5' }, one), 400, 'invalid_type', 'n'],
  ['multipart n = 11', multipart('edits', { prompt: 'x', n: '11' }, one), 400, 'invalid_value', 'n'],
  ['multipart stream=yes', multipart('edits', { prompt: 'x', stream: 'yes' }, one), 400, 'invalid_type', 'stream'],
  ['multipart stream that is not a boolean', multipart('edits', { prompt: 'x', stream: 'yes' }, one), 400, 'invalid_type', 'stream'],
  [
    'input_fidelity for dall-e-2',
    multipart('edits', { model: 'dall-e-2', prompt: 'x', input_fidelity: 'high' }, one),
    400,
    'unsupported_parameter',
    'input_fidelity',
  ],
  ['input_fidelity unknown', multipart('edits', { model: 'gpt-image-1', prompt: 'x', input_fidelity: 'max' }, one), 400, 'invalid_value', 'input_fidelity'],
  ['a variation size dall-e-2 does not make', multipart('variations', { size: '1024x1536' }, one), 400, 'invalid_value', 'size'],
  [
    'images and image together',
    json('edits', { prompt: 'x', images: [{ image_url: 'https://example.com/a.png' }], image: 'https://example.com/b.png' }),
    400,
    'invalid_value',
    'image',
  ],
  ['images not an array', json('edits', { prompt: 'x', images: { image_url: 'https://example.com/a.png' } }), 400, 'invalid_type', 'images'],
  ['images empty', json('edits', { prompt: 'x', images: [] }), 400, 'invalid_value', 'images'],
  ['images[0] a number', json('edits', { prompt: 'x', images: [42] }), 400, 'invalid_type', 'images[0]'],
  [
    'images[1] with neither image_url nor file_id',
    json('edits', { prompt: 'x', images: [{ image_url: 'https://example.com/a.png' }, {}] }),
    400,
    'missing_required_parameter',
    'images[1]',
  ],
  [
    'images[0] with both image_url and file_id',
    json('edits', { prompt: 'x', images: [{ image_url: 'https://example.com/a.png', file_id: 'file-1' }] }),
    400,
    'invalid_value',
    'images[0]',
  ],
  ['images[0] with an unknown key', json('edits', { prompt: 'x', images: [{ url: 'https://example.com/a.png' }] }), 400, 'unknown_parameter', 'images[0].url'],
  [
    'images[0].image_url with a file: URL',
    json('edits', { prompt: 'x', images: [{ image_url: 'file:///etc/passwd' }] }),
    400,
    'invalid_image_url',
    'images[0].image_url',
  ],
  [
    'a mask with a gopher: URL',
    json('edits', { prompt: 'x', images: ['https://example.com/a.png'], mask: { image_url: 'gopher://example.com/m' } }),
    400,
    'invalid_image_url',
    'mask.image_url',
  ],
  ['a mask that is a number', json('edits', { prompt: 'x', images: ['https://example.com/a.png'], mask: 7 }), 400, 'invalid_type', 'mask'],
  ['image[0] with an ftp: URL', json('generations', { prompt: 'x', image: ['ftp://example.com/a.png'] }), 400, 'invalid_image_url', 'image[0]'],
  ['image[1] empty', json('generations', { prompt: 'x', image: ['https://example.com/a.png', '   '] }), 400, 'invalid_value', 'image[1]'],
  ['image[0] not a string', json('generations', { prompt: 'x', image: [{ image_url: 'https://example.com/a.png' }] }), 400, 'invalid_type', 'image[0]'],
  ['image an empty array', json('generations', { prompt: 'x', image: [] }), 400, 'invalid_value', 'image'],
];

function refusalOf(input: ImageRequestInput): { status: number; code: string | null; param: string | null } | string {
  try {
    parse(input);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof GatewayError)) return `threw ${String(err)}`;
    expect(err.type).toBe('invalid_request_error');
    expect(err.message.length).toBeGreaterThan(5);
    return { status: err.status, code: err.code, param: err.param };
  }
}

describe('parseImageRequest: refusals', () => {
  it.each(REFUSALS)('%s', (_name, input, status, code, param) => {
    expect(refusalOf(input)).toEqual({ status, code, param });
  });
});

describe('createAddressFilter', () => {
  it('without exceptions: public addresses only', () => {
    const allowed = createAddressFilter(false);
    expect(['8.8.8.8', '2606:4700::1111'].map(allowed)).toEqual([true, true]);
    // IPv4 inside IPv6 in every spelling: mapped, compatible (dotted and hex).
    const wrapped = ['::ffff:127.0.0.1', '::127.0.0.1', '::7f00:1', '::ffff:a9fe:a9fe'];
    expect(['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', 'fd00::1', ...wrapped].every((ip) => !allowed(ip))).toBe(true);
  });

  it('allowAll lets every address through', () => {
    const allowed = createAddressFilter(true, ['10.0.0.1']);
    expect(['127.0.0.1', '169.254.169.254', '::1', '8.8.8.8'].every(allowed)).toBe(true);
  });

  it('exceptions: a single address, an IPv4 CIDR and an IPv6 CIDR, and nothing beyond them', () => {
    const allowed = createAddressFilter(false, ['127.0.0.1', ' 10.20.0.0/16 ', 'fd00:1234::/32']);
    const verdicts = Object.fromEntries(
      [
        '127.0.0.1',
        '127.0.0.2',
        '10.20.3.4',
        '10.21.0.1',
        '192.168.1.1',
        '169.254.169.254',
        'fd00:1234::9',
        'fd00:1235::9',
        '::1',
        'fe80::1',
        '8.8.8.8',
        'not-an-ip',
      ].map((ip) => [ip, allowed(ip)]),
    );
    expect(verdicts).toEqual({
      '127.0.0.1': true,
      '127.0.0.2': false,
      '10.20.3.4': true,
      '10.21.0.1': false,
      '192.168.1.1': false,
      '169.254.169.254': false,
      'fd00:1234::9': true,
      'fd00:1235::9': false,
      '::1': false,
      'fe80::1': false,
      '8.8.8.8': true,
      'not-an-ip': false,
    });
  });

  it.each(['localhost', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/x', '10.0.0.0/-1', '10.0.0.1/', '10.0.0.0/ 8', '300.1.1.1', ''])(
    'a bad entry %j throws a RangeError naming it',
    (entry) => {
      expect(() => createAddressFilter(false, [entry])).toThrow(RangeError);
      expect(() => createAddressFilter(false, [entry])).toThrow(`'${entry}'`);
    },
  );
});

describe('loadConfig: IMAGEGATE_ALLOW_PRIVATE_URLS', () => {
  const inputs = (value: string | undefined) => loadConfig(value === undefined ? {} : { IMAGEGATE_ALLOW_PRIVATE_URLS: value }).inputs;

  it('defaults to false with no exceptions', () => {
    expect(inputs(undefined)).toMatchObject({ allowPrivateUrls: false, allowedPrivateAddresses: [] });
  });

  it.each(['true', 'TRUE', '1', 'yes'])('%s -> all private addresses allowed', (value) => {
    expect(inputs(value)).toMatchObject({ allowPrivateUrls: true, allowedPrivateAddresses: [] });
  });

  it.each(['false', 'False', '0', 'no', ' '])('%j -> none allowed', (value) => {
    expect(inputs(value)).toMatchObject({ allowPrivateUrls: false, allowedPrivateAddresses: [] });
  });

  it('a list -> only those addresses and CIDRs', () => {
    expect(inputs('127.0.0.1, 10.0.0.0/8,FD00::/8')).toMatchObject({
      allowPrivateUrls: false,
      allowedPrivateAddresses: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'],
    });
  });

  it.each(['maybe', 'localhost', '127.0.0.1,intranet', '10.0.0.0/33', 'true,10.0.0.1'])('%j -> ConfigError naming the variable', (value) => {
    let caught: unknown;
    try {
      inputs(value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message.startsWith('IMAGEGATE_ALLOW_PRIVATE_URLS')).toBe(true);
  });

  it('the other input settings parse alongside it', () => {
    expect(loadConfig({ IMAGEGATE_UPLOAD_LIMIT: '2mb', IMAGEGATE_FETCH_TIMEOUT: '1s' }).inputs).toMatchObject({
      uploadLimitBytes: 2 * 1024 * 1024,
      fetchTimeoutMs: 1000,
    });
  });
});
