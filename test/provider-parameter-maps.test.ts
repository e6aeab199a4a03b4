// What each provider sends upstream, pinned: for a matrix of jobs (every model family of the
// catalogue x generations / edits / variations x every channel kind, with and without the
// optional fields), the request each provider builds is caught before it leaves (a transport that
// records and fails) and compared with the committed snapshots. JSON bodies are compared key by
// key in the order written (their exact text), multipart bodies part by part (text fields by
// value, files by name, type and size). Which jobs each kind refuses or cannot carry is pinned too.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Channel, ChannelKind } from '../src/core/channel.js';
import { inMemoryBytes } from '../src/core/input-bytes.js';
import type { InputImage, ResolvedInputs } from '../src/core/image-input.js';
import { NO_INPUTS } from '../src/core/image-input.js';
import type { ImageJob, PartialImageListener } from '../src/core/job.js';
import { BUILTIN_MODELS, FAMILY_RULES, ModelCatalogue, type ModelFamily, type ModelSpec } from '../src/core/models.js';
import type { AsyncProvider, Provider } from '../src/providers/provider.js';
import { createProviders } from '../src/providers/registry.js';
import type { StreamingResponse, Transport, UpstreamRequest, UpstreamResponse } from '../src/providers/transport.js';

/** Thrown by the capturing transport once it has the request: nothing is ever sent. */
class Caught extends Error {}

class CapturingTransport implements Transport {
  readonly requests: UpstreamRequest[] = [];
  send(request: UpstreamRequest): Promise<UpstreamResponse> {
    this.requests.push(request);
    return Promise.reject(new Caught('caught'));
  }
  open(request: UpstreamRequest): Promise<StreamingResponse> {
    this.requests.push(request);
    return Promise.reject(new Caught('caught'));
  }
}

const transport = new CapturingTransport();
const providers = createProviders(transport, { delayMs: 0 });
const signal = new AbortController().signal;
const NO_PARTIALS: PartialImageListener = { start() {}, piece() {}, end() {} };

// ---------------------------------------------------------------------------
// Channels

type KindCase =
  | 'openai'
  | 'openai-compatible'
  | 'openai-compatible (inline references)'
  | 'azure-openai'
  | 'newapi-async'
  | 'task-api'
  | 'recraft'
  | 'ark'
  | 'byteplus'
  | 'dashscope'
  | 'gemini';

const KIND_CASES: readonly KindCase[] = [
  'openai',
  'openai-compatible',
  'openai-compatible (inline references)',
  'azure-openai',
  'newapi-async',
  'task-api',
  'recraft',
  'ark',
  'byteplus',
  'dashscope',
  // vertex-ai sends the gemini kind's bodies (plus Vertex AI's own output options and Imagen fields,
  // pinned in test/google.e2e.test.ts) after a token exchange no capturing transport can answer.
  'gemini',
];

const BASE_URLS: Readonly<Record<ChannelKind, string>> = {
  openai: 'https://api.openai.example/v1',
  'openai-compatible': 'https://relay.example/v1',
  'azure-openai': 'https://res.openai.azure.example',
  'newapi-async': 'https://newapi.example/v1',
  'task-api': 'https://tasks.example',
  recraft: 'https://recraft.example/v1',
  ark: 'https://ark.example/api/v3',
  byteplus: 'https://byteplus.example/api/v3',
  dashscope: 'https://dashscope.example',
  gemini: 'https://generativelanguage.example',
  'vertex-ai': 'https://us-central1-aiplatform.example/v1/projects/p/locations/us-central1',
  bfl: 'https://bfl.example',
  fal: 'https://queue.fal.example',
  replicate: 'https://replicate.example/v1',
  openrouter: 'https://openrouter.example/api/v1',
  stability: 'https://stability.example',
  midjourney: 'https://mj-proxy.example',
  demo: 'http://demo.local/v1',
};

function kindOf(kindCase: KindCase): ChannelKind {
  return kindCase === 'openai-compatible (inline references)' ? 'openai-compatible' : kindCase;
}

/** `mapped`: the channel names the model otherwise upstream and forces params of its own. */
function channelFor(kindCase: KindCase, model: ModelSpec, mapped: boolean): Channel {
  const kind = kindOf(kindCase);
  return {
    id: `${kind}-1`,
    name: kindCase,
    kind,
    baseUrl: BASE_URLS[kind],
    apiKeys: ['sk-test'],
    models: '*',
    modelMap: mapped ? { [model.id]: { upstreamModel: `upstream-${model.id}`, params: CHANNEL_PARAMS } } : {},
    priority: 0,
    weight: 1,
    maxConcurrent: 0,
    timeoutMs: 10_000,
    headers: {},
    enabled: true,
    ...(kind === 'azure-openai' ? { apiVersion: '2025-04-01-preview' } : {}),
    ...(kindCase === 'openai-compatible (inline references)' ? { referenceImages: 'inline' as const } : {}),
  };
}

/**
 * A channel's own params for the model: one replaces a job field where it stands, new ones go
 * last, and the ones the gateway must decide (stream, the job's input_fidelity) or an official
 * edit never carries (moderation) show whether they still win.
 */
const CHANNEL_PARAMS = { quality: 'forced-by-channel', channel_flag: true, moderation: 'auto', stream: false, input_fidelity: 'low', nothing: null };

// ---------------------------------------------------------------------------
// Jobs

const catalogue = new ModelCatalogue(BUILTIN_MODELS);
/** An operator's model with fixed params (what `params:` of a config entry becomes). */
const HOUSE_MODEL = catalogue.add({
  name: 'house-image',
  base: 'gpt-image-1',
  upstreamModel: 'gpt-image-1',
  params: { background: 'opaque', house_tag: 'fixed' },
});

const FAMILIES = Object.keys(FAMILY_RULES) as ModelFamily[];

function modelOf(family: ModelFamily): ModelSpec {
  const found = BUILTIN_MODELS.find((m) => m.id === family) ?? BUILTIN_MODELS.find((m) => m.family === family);
  if (found === undefined) throw new Error(`no model of family ${family}`);
  return found;
}

/** A small input image: the bytes are never looked at on the way out, only counted. */
function input(param: string, size: number, extra: Partial<InputImage> = {}): InputImage {
  return { param, bytes: inMemoryBytes(Buffer.alloc(size, size % 251)), format: 'png', width: 64, height: 64, hasAlpha: true, ...extra };
}

type Variant = 'bare' | 'full' | 'relay objects';

type Operation = 'generate' | 'edit: one image' | 'edit: several images' | 'edit: an image and a mask' | 'variation';

function inputsFor(operation: Operation): ResolvedInputs {
  if (operation === 'generate') return NO_INPUTS;
  if (operation === 'variation') return { images: [input('image', 40)] };
  const fromUrl = input('image', 30, { sourceUrl: 'https://ref.example/in-1.png' });
  if (operation === 'edit: one image') return { images: [fromUrl] };
  if (operation === 'edit: an image and a mask') return { images: [fromUrl], mask: input('mask', 20) };
  // Some fetched from a URL, some uploaded: inline references mix URLs and data URIs.
  return {
    images: [
      input('image[0]', 31, { sourceUrl: 'https://ref.example/in-1.png' }),
      input('image[1]', 32, { format: 'jpeg', hasAlpha: false }),
      input('image[2]', 33, { format: 'webp', sourceUrl: 'https://ref.example/in-3.webp' }),
    ],
  };
}

function jobFor(model: ModelSpec, operation: Operation, variant: Variant): ImageJob {
  const c = model.capabilities;
  const op = operation === 'generate' ? 'generate' : operation === 'variation' ? 'variation' : 'edit';
  const base: ImageJob = {
    id: 'req_snapshot',
    operation: op,
    model,
    prompt: op === 'variation' ? '' : 'a lighthouse at dusk',
    inputs: inputsFor(operation),
    n: 1,
    size: model.defaults.size ?? c.defaultSize,
    quality: op === 'variation' ? c.defaultQuality : (model.defaults.quality ?? c.defaultQuality),
    responseFormat: 'url',
    passthrough: {},
  };
  if (variant === 'bare') return base;
  if (variant === 'relay objects') {
    return {
      ...base,
      ...(c.backgrounds.length > 0 ? { background: { color: '#ffffff', alpha: 0 } } : {}),
      style: { preset: 'anime', strength: 0.5 },
      watermark: false,
    };
  }
  const lossy = c.outputFormats.includes('jpeg');
  return {
    ...base,
    n: Math.min(2, c.maxN),
    size: c.sizes.at(-1) ?? base.size,
    quality: op === 'variation' ? base.quality : (c.qualities.at(-1) ?? base.quality),
    responseFormat: 'b64_json',
    ...(lossy ? { outputFormat: 'jpeg' as const, outputCompression: 80 } : {}),
    ...(c.backgrounds.includes('opaque') ? { background: 'opaque' as const } : {}),
    ...(c.moderations.includes('low') ? { moderation: 'low' as const } : {}),
    style: c.styles?.at(-1) ?? 'watercolour',
    user: 'user-42',
    watermark: true,
    metadata: { trace: 't-1', tags: ['a', 'b'] },
    ...(c.streaming ? { stream: { partialImages: 2 } } : {}),
    ...(op === 'edit' && c.inputFidelity ? { inputFidelity: 'high' as const } : {}),
    passthrough: {
      seed: 7,
      nsfw_checker: true,
      callback_url: 'https://callback.example/hook',
      aspect_ratio: '16:9',
      image_url: 'https://ref.example/given.png',
      image_urls: ['https://ref.example/u1.png', 'https://ref.example/u2.png'],
      extra_object: { nested: [1, 2] },
      nothing: null,
    },
  };
}

// ---------------------------------------------------------------------------
// What went out

/** A request as compared: where it went, the protocol's headers, and its body part by part. */
interface SeenRequest {
  url: string;
  contentType: string;
  headers?: Record<string, string>;
  body: string[];
}

/** Headers a provider sets besides the content type and the channel's key. */
const PROTOCOL_HEADERS = ['x-new-api-async-task'];

async function bodyBytes(body: UpstreamRequest['body']): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  const whole = await body.whole();
  expect(whole.length, 'a streamed body is as long as it declares').toBe(body.length);
  return whole;
}

/** Each key and its value as JSON, in the order written; data URIs shown by type and length. */
function jsonEntries(text: string): string[] {
  const value: unknown = JSON.parse(text);
  expect(JSON.stringify(value), 'the body is compact JSON, so its keys and values say all of it').toBe(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${text}`);
  return Object.entries(value).map(
    ([key, v]) => `${key}: ${JSON.stringify(v, (_k, inner: unknown) => (typeof inner === 'string' ? dataUriSummary(inner) : inner))}`,
  );
}

function dataUriSummary(text: string): string {
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(text);
  if (!match) return text;
  return `data:${match[1]};base64 (${Buffer.from(match[2] ?? '', 'base64').length} bytes)`;
}

/** Each part in order: `name: value`, or `name: file <filename> <type> <size> bytes`. */
function multipartEntries(body: Buffer, contentType: string): string[] {
  const boundary = /boundary=(.+)$/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const text = body.toString('latin1');
  expect(text.endsWith(`--${boundary}--\r\n`), 'the form is closed').toBe(true);
  const parts = text.slice(0, -`--${boundary}--\r\n`.length).split(`--${boundary}\r\n`);
  expect(parts.shift(), 'nothing before the first part').toBe('');
  return parts.map((part) => {
    const headerEnd = part.indexOf('\r\n\r\n');
    const head = part.slice(0, headerEnd);
    const content = part.slice(headerEnd + 4, -2);
    expect(part.endsWith('\r\n')).toBe(true);
    const name = /name="([^"]*)"/.exec(head)?.[1] ?? '?';
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    if (filename === undefined) return `${name}: ${Buffer.from(content, 'latin1').toString('utf8')}`;
    const type = /Content-Type: (.+)/.exec(head)?.[1] ?? '?';
    return `${name}: file ${filename} ${type} ${content.length} bytes`;
  });
}

async function seen(request: UpstreamRequest): Promise<SeenRequest> {
  const contentType = request.headers['content-type'] ?? '';
  const bytes = await bodyBytes(request.body);
  const body = contentType.startsWith('multipart/form-data') ? multipartEntries(bytes, contentType) : jsonEntries(bytes.toString('utf8'));
  const headers = Object.fromEntries(PROTOCOL_HEADERS.filter((h) => request.headers[h] !== undefined).map((h) => [h, request.headers[h] ?? '']));
  return {
    url: request.url,
    contentType: contentType.replace(/; boundary=.*$/, ''),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    body,
  };
}

/**
 * The request `send` makes: it must end at the capturing transport. A provider that makes one call
 * per image (Seedream has no `n`) sends the same request `calls` times, all at once.
 */
async function caught(send: () => Promise<unknown>): Promise<SeenRequest & { calls?: number }> {
  const before = transport.requests.length;
  await expect(send()).rejects.toBeInstanceOf(Caught);
  const made = await Promise.all(transport.requests.slice(before).map(seen));
  const [first, ...others] = made;
  if (first === undefined) throw new Error('no request');
  for (const other of others) expect(other, 'one call per image: the same request each time').toEqual(first);
  return others.length === 0 ? first : { ...first, calls: made.length };
}

function isAsync(provider: Provider): provider is AsyncProvider {
  return 'submit' in provider;
}

/**
 * A mask that decodes (64x64, transparent on its left half): DashScope's image editor redraws the
 * mask as black and white before sending it, which the other kinds' byte-counted masks cannot go through.
 */
const DECODABLE_MASK = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 4 }, (_, i) => (i % 4 === 3 && (i >> 2) % 64 >= 32 ? 255 : 0))), {
  raw: { width: 64, height: 64, channels: 4 },
})
  .png()
  .toBuffer();

/** What one channel kind makes of a job: refused, not carried, or the request(s) it sends. */
async function whatIsSent(kindCase: KindCase, given: ImageJob, mapped: boolean): Promise<unknown> {
  const kind = kindOf(kindCase);
  const mask = given.inputs.mask;
  const job = kind === 'dashscope' && mask ? { ...given, inputs: { ...given.inputs, mask: { ...mask, bytes: inMemoryBytes(DECODABLE_MASK) } } } : given;
  const provider = providers[kind];
  const call = { channel: channelFor(kindCase, job.model, mapped), apiKey: 'sk-test' };
  const refusal = provider.refuses?.(job);
  const outcome: Record<string, unknown> = {};
  if (refusal) outcome.refused = { status: refusal.status, code: refusal.code, param: refusal.param, message: refusal.message };
  if (provider.accepts?.(job, call.channel) === false) return { ...outcome, accepted: false };
  if (isAsync(provider)) return { ...outcome, submit: await caught(() => provider.submit(job, call, signal)) };
  const plain = await caught(() => provider.generate(job, call, signal));
  outcome.request = plain;
  if (provider.generateArriving) {
    const arriving = provider.generateArriving.bind(provider);
    expect(await caught(() => arriving(job, call, signal)), 'a sync answer read as it arrives asks the same').toEqual(plain);
  }
  if (job.stream) {
    // Only a caller that reads the stream (onPartial) asks the upstream for one.
    const streamed = await caught(() => provider.generate(job, call, signal, { onPartial: NO_PARTIALS }));
    if (JSON.stringify(streamed) !== JSON.stringify(plain)) outcome.streamed = streamed;
  }
  return outcome;
}

async function matrix(job: ImageJob, mapped = false): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const kindCase of KIND_CASES) {
    // Inline references change only what an edit's inputs become.
    if (kindCase === 'openai-compatible (inline references)' && job.operation !== 'edit') continue;
    out[kindCase] = await whatIsSent(kindCase, job, mapped);
  }
  // The demo channel sends nothing upstream (it draws its images itself), but it is an official
  // channel: it refuses exactly what api.openai.com would.
  expect(providers.demo.refuses?.(job), 'the demo channel refuses what the official API refuses').toEqual(providers.openai.refuses?.(job));
  return out;
}

// ---------------------------------------------------------------------------

const OPERATIONS: readonly Operation[] = ['generate', 'edit: one image', 'edit: several images', 'edit: an image and a mask', 'variation'];
const VARIANTS: readonly Variant[] = ['bare', 'full', 'relay objects'];

function takes(model: ModelSpec, operation: Operation): boolean {
  if (operation === 'generate') return true;
  if (operation === 'variation') return model.capabilities.variations !== null;
  if (operation === 'edit: several images') return (model.capabilities.edits?.maxImages ?? 0) >= 3;
  return model.capabilities.edits !== null;
}

describe('what each provider sends upstream', () => {
  for (const family of FAMILIES) {
    const model = modelOf(family);
    for (const operation of OPERATIONS.filter((op) => takes(model, op))) {
      for (const variant of VARIANTS) {
        it(`${model.id} / ${operation} / ${variant}`, async () => {
          expect(await matrix(jobFor(model, operation, variant))).toMatchSnapshot();
        });
      }
    }
  }

  describe("a channel's model mapping and a model's fixed params", () => {
    for (const operation of OPERATIONS) {
      const model = operation === 'variation' ? modelOf('dall-e-2') : modelOf('gpt-image-1');
      it(`${model.id} / ${operation} / full, on channels that map it`, async () => {
        expect(await matrix(jobFor(model, operation, 'full'), true)).toMatchSnapshot();
      });
    }
    for (const operation of ['generate', 'edit: several images', 'edit: an image and a mask'] as const) {
      it(`an operator's model with fixed params / ${operation}`, async () => {
        expect(await matrix(jobFor(HOUSE_MODEL, operation, 'full'))).toMatchSnapshot();
        expect(await matrix(jobFor(HOUSE_MODEL, operation, 'bare'), true)).toMatchSnapshot();
      });
    }
  });

  it('a stream of no partial images (partial_images 0)', async () => {
    const job = { ...jobFor(modelOf('gpt-image-2'), 'generate', 'bare'), stream: { partialImages: 0 } };
    expect(await matrix(job)).toMatchSnapshot();
  });
});
