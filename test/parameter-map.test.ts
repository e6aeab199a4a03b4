// The parameter-map engine (src/providers/parameter-map.ts) on a vendor of its own: what each kind
// of rule writes, in which order, what overrides may and may not change, and how bodies are encoded.
import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/core/channel.js';
import { invalidRequest } from '../src/core/errors.js';
import { NO_INPUTS, type InputImage } from '../src/core/image-input.js';
import { inMemoryBytes } from '../src/core/input-bytes.js';
import { isRelayObject, type ImageJob } from '../src/core/job.js';
import { BUILTIN_MODELS, ModelCatalogue } from '../src/core/models.js';
import {
  channelModel,
  dataUri,
  encodeParameters,
  fileParam,
  mapParameters,
  refusalOf,
  type DropRule,
  type FieldRules,
  type MapContext,
  type ParameterMap,
} from '../src/providers/parameter-map.js';

const catalogue = new ModelCatalogue(BUILTIN_MODELS);
const model = catalogue.add({ name: 'toy-model', base: 'gpt-image-1', upstreamModel: 'toy-upstream', params: { fixed: 'by-model', steps: 30 } });

const channel: Channel = {
  id: 'toy-1',
  name: 'toy',
  kind: 'openai-compatible',
  baseUrl: 'https://toy.example',
  apiKeys: [],
  models: '*',
  modelMap: { 'toy-model': { params: { steps: 50, channel_only: true, seed: 1 } } },
  priority: 0,
  weight: 1,
  maxConcurrent: 0,
  timeoutMs: 1_000,
  headers: {},
  enabled: true,
};

function image(size: number, extra: Partial<InputImage> = {}): InputImage {
  return { param: 'image', bytes: inMemoryBytes(Buffer.alloc(size, 7)), format: 'png', width: 8, height: 8, hasAlpha: false, ...extra };
}

function job(overrides: Partial<ImageJob> = {}): ImageJob {
  return {
    id: 'req_toy',
    operation: 'generate',
    model,
    prompt: 'a fox',
    inputs: NO_INPUTS,
    n: 1,
    size: '1024x768',
    quality: 'auto',
    responseFormat: 'url',
    passthrough: {},
    ...overrides,
  };
}

const context = (j: ImageJob, stream = false): MapContext => ({ job: j, channel, stream });

const NOT_TAKEN: DropRule = { drop: 'the toy vendor does not take it' };

/** A vendor that is nothing like OpenAI: its own names, a size split in two, a default, a refusal. */
const TOY_FIELDS: FieldRules = {
  id: { drop: 'ours' },
  operation: { drop: 'one endpoint' },
  passthrough: { spread: (passthrough) => Object.entries(passthrough) },
  model: { to: 'engine', transform: channelModel },
  prompt: { to: 'text' },
  size: {
    spread: (size) => {
      const [width, height] = size.split('x').map(Number);
      return [
        ['width', width],
        ['height', height],
      ];
    },
  },
  n: { to: 'samples' },
  quality: { to: 'quality', when: (j) => j.model.capabilities.qualities.length > 1 },
  responseFormat: NOT_TAKEN,
  outputFormat: { to: 'format', default: 'png' },
  outputCompression: NOT_TAKEN,
  background: { to: 'background', refuse: (value) => (isRelayObject(value) ? invalidRequest('background', 'invalid_type', 'no objects') : undefined) },
  moderation: NOT_TAKEN,
  style: { to: 'style', refuse: (value) => (value === 'forbidden' ? invalidRequest('style', 'invalid_value', 'not that one') : undefined) },
  watermark: NOT_TAKEN,
  user: NOT_TAKEN,
  metadata: NOT_TAKEN,
  inputs: { to: 'init_images', final: true, transform: ({ images }) => (images.length > 0 ? images.map((i) => i.sourceUrl ?? dataUri(i)) : undefined) },
  stream: { final: true, spread: (_stream, { stream }) => (stream ? [['stream', true]] : []) },
  inputFidelity: NOT_TAKEN,
};

const TOY: ParameterMap = { encoding: 'json', fields: TOY_FIELDS, overrides: ['model', 'channel'], neverSent: ['seed'] };

describe('mapParameters', () => {
  it('writes the fields in the table order, the overrides over them, the final fields last', () => {
    const { params, files } = mapParameters(TOY, context(job({ passthrough: { z_first: 1 }, stream: { partialImages: 1 } }), true));
    expect(Object.entries(params)).toEqual([
      ['z_first', 1],
      ['engine', 'toy-upstream'],
      ['text', 'a fox'],
      ['width', 1024],
      ['height', 768],
      ['samples', 1],
      ['quality', 'auto'],
      ['format', 'png'], // the default, for an unset field
      // the model's params, then the channel's (steps replaced where it stood); seed is never sent
      ['fixed', 'by-model'],
      ['steps', 50],
      ['channel_only', true],
      ['stream', true],
    ]);
    expect(files).toEqual([]);
  });

  it('a final field wins over the overrides; a field only set is sent, a null as given', () => {
    const table: ParameterMap = { ...TOY, fields: { ...TOY_FIELDS, n: { to: 'steps', final: true } } };
    const { params } = mapParameters(table, context(job({ n: 3, style: null, outputFormat: 'webp' })));
    expect(params).toMatchObject({ steps: 3, format: 'webp', style: null });
    expect('background' in params).toBe(false);
  });

  it('skips a field whose condition fails, and keeps a __proto__ key as data', () => {
    const table: ParameterMap = { ...TOY, fields: { ...TOY_FIELDS, quality: { ...TOY_FIELDS.quality, when: () => false } } };
    const passthrough = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const { params } = mapParameters(table, context(job({ passthrough })));
    expect('quality' in params).toBe(false);
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(Object.keys(params)[0]).toBe('__proto__');
    expect(JSON.stringify(params)).toContain('"__proto__":{"polluted":true}');
  });
});

describe('refusalOf', () => {
  it('names the first refused field in the table order, and nothing for a job it takes', () => {
    expect(refusalOf(TOY, job())).toBeUndefined();
    const both = refusalOf(TOY, job({ background: { colour: 'red' }, style: 'forbidden' }));
    expect([both?.status, both?.code, both?.param]).toEqual([400, 'invalid_type', 'background']);
    expect(refusalOf(TOY, job({ style: 'forbidden' }))?.param).toBe('style');
  });

  it("the gateway's own passthrough field (nsfw_checker: its content check) is never an upstream's refusal; others still are", () => {
    const strict: ParameterMap = {
      ...TOY,
      fields: {
        ...TOY_FIELDS,
        passthrough: {
          spread: () => [],
          refuse: (passthrough) => {
            const foreign = Object.keys(passthrough)[0];
            return foreign === undefined ? undefined : invalidRequest(foreign, 'unsupported_parameter', 'not ours');
          },
        },
      },
    };
    expect(refusalOf(strict, job({ passthrough: { nsfw_checker: true } }))).toBeUndefined();
    expect(refusalOf(strict, job({ passthrough: { nsfw_checker: true, seed: 3 } }))?.param).toBe('seed');
  });
});

describe('encodeParameters', () => {
  it('JSON without images is the params as text', () => {
    const encoded = encodeParameters(TOY, context(job()));
    expect(encoded.contentType).toBe('application/json');
    expect(typeof encoded.body).toBe('string');
    expect(JSON.parse(String(encoded.body))).toEqual(mapParameters(TOY, context(job())).params);
  });

  it('JSON with images streams each as a data URI in its place', async () => {
    const j = job({ operation: 'edit', inputs: { images: [image(5, { sourceUrl: 'https://in.example/a.png' }), image(4, { format: 'jpeg' })] } });
    const { body } = encodeParameters(TOY, context(j));
    if (typeof body === 'string') throw new Error('expected a streamed body');
    const text = (await body.whole()).toString('utf8');
    expect(body.length).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text).init_images).toEqual(['https://in.example/a.png', `data:image/jpeg;base64,${Buffer.alloc(4, 7).toString('base64')}`]);
    expect(Object.keys(JSON.parse(text)).at(-1)).toBe('init_images');
  });

  it('multipart puts the file parts first, then the text fields without nulls', async () => {
    const table: ParameterMap = {
      encoding: 'multipart',
      fields: { ...TOY_FIELDS, inputs: { spread: ({ images }) => images.map((i, n) => fileParam('image[]', i, `in-${n}`)) } },
      overrides: [],
    };
    const j = job({ operation: 'edit', inputs: { images: [image(3), image(2, { format: 'webp' })] }, passthrough: { gone: null, kept: { a: 1 } } });
    const { body, contentType } = encodeParameters(table, context(j));
    if (typeof body === 'string') throw new Error('expected a streamed body');
    const text = (await body.whole()).toString('latin1');
    const names = [...text.matchAll(/name="([^"]+)"(?:; filename="([^"]+)")?/g)].map((m) => (m[2] ? `${m[1]}=${m[2]}` : m[1]));
    expect(contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(names).toEqual(['image[]=in-0.png', 'image[]=in-1.webp', 'kept', 'engine', 'text', 'width', 'height', 'samples', 'quality', 'format']);
    expect(text).toContain('{"a":1}');
  });

  it('a JSON table whose rules make file parts is a mistake, said at once', () => {
    const table: ParameterMap = { ...TOY, fields: { ...TOY_FIELDS, inputs: { spread: ({ images }) => images.map((i) => fileParam('image', i, 'x')) } } };
    expect(() => encodeParameters(table, context(job({ operation: 'edit', inputs: { images: [image(1)] } })))).toThrow(/file parts/);
  });
});
