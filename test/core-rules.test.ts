/**
 * The request rules of POST /v1/images/generations, table-driven: what parseGenerationRequest
 * accepts (and how it resolves defaults), what it refuses (status, type, code, param), plus the
 * size helpers and model aliases underneath. Rules: the relay gateways' documents and OpenAI's CreateImageRequest.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError, type ErrorType } from '../src/core/errors.js';
import { parseGenerationRequest } from '../src/core/image-request.js';
import type { ImageJob } from '../src/core/job.js';
import { BUILTIN_MODELS, DEFAULT_MODEL, FAMILY_RULES, ModelCatalogue, type ModelAlias } from '../src/core/models.js';
import { GPT_IMAGE_2_LIMITS, formatSize, gptImage2SizeProblem, parseSize, type Dimensions } from '../src/core/sizes.js';

const catalogue = ModelCatalogue.withAliases([]);
const PROMPT = 'a red mountain bike on a white background';
const IRE: ErrorType = 'invalid_request_error';

/** A prompt of exactly `length` characters. */
const prompt = (length: number): string => 'p'.repeat(length);

function parse(body: unknown, cat: ModelCatalogue = catalogue): ImageJob {
  return parseGenerationRequest(body, cat, 'req_test').job;
}

/** The GatewayError a body is refused with; fails the test when the body is accepted. */
function refusal(body: unknown, cat: ModelCatalogue = catalogue): GatewayError {
  let job: ImageJob;
  try {
    job = parse(body, cat);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error(
    `expected a GatewayError, but the body was accepted as ${JSON.stringify({ model: job.model.id, size: job.size, quality: job.quality, n: job.n, responseFormat: String(job.responseFormat) })}`,
  );
}

/** The fields a job resolves to that the rules talk about. */
interface Resolved {
  model: string;
  upstreamModel: string;
  size: string;
  quality: string;
  n: number;
  responseFormat: ImageJob['responseFormat'];
}

function resolved(job: ImageJob): Resolved {
  return {
    model: job.model.id,
    upstreamModel: job.model.upstreamModel,
    size: job.size,
    quality: job.quality,
    n: job.n,
    responseFormat: job.responseFormat,
  };
}

describe('parseGenerationRequest: defaults of every built-in model name', () => {
  // [model, upstream model, default size, default quality]; n defaults to 1 and response_format to url.
  const DEFAULTS: [model: string, upstreamModel: string, size: string, quality: string][] = [
    ['gpt-image-2', 'gpt-image-2', 'auto', 'auto'],
    ['gpt-image-2-2026-04-21', 'gpt-image-2-2026-04-21', 'auto', 'auto'],
    ['gpt-image-2-vip', 'gpt-image-2', 'auto', 'auto'],
    ['gpt-image-2-pro', 'gpt-image-2', 'auto', 'auto'],
    ['gpt-image-2-beta', 'gpt-image-2', 'auto', 'auto'],
    ['gpt-image-2-1k', 'gpt-image-2', '1024x1024', 'medium'],
    ['gpt-image-2-2k', 'gpt-image-2', '2048x2048', 'medium'],
    ['gpt-image-2-4k', 'gpt-image-2', '3840x2160', 'medium'],
    ['gpt-image-1.5', 'gpt-image-1.5', 'auto', 'auto'],
    ['gpt-image-1', 'gpt-image-1', 'auto', 'auto'],
    ['gpt-image-1-mini', 'gpt-image-1-mini', 'auto', 'auto'],
    ['dall-e-3', 'dall-e-3', '1024x1024', 'standard'],
    ['dall-e-2', 'dall-e-2', '1024x1024', 'standard'],
    // Recraft's models keep their names; no quality field, `standard` is their price column.
    ['recraftv4_1', 'recraftv4_1', '1024x1024', 'standard'],
    ['recraftv4_1_vector', 'recraftv4_1_vector', '1024x1024', 'standard'],
    ['recraftv4_1_pro', 'recraftv4_1_pro', '2048x2048', 'standard'],
    ['recraftv4', 'recraftv4', '1024x1024', 'standard'],
    ['recraftv4_vector', 'recraftv4_vector', '1024x1024', 'standard'],
    ['recraftv4_pro', 'recraftv4_pro', '2048x2048', 'standard'],
    ['recraftv4_pro_vector', 'recraftv4_pro_vector', '2048x2048', 'standard'],
    ['recraftv3', 'recraftv3', '1024x1024', 'standard'],
    ['recraftv3_vector', 'recraftv3_vector', '1024x1024', 'standard'],
    ['recraftv2', 'recraftv2', '1024x1024', 'standard'],
    ['recraftv2_vector', 'recraftv2_vector', '1024x1024', 'standard'],
    // DashScope's models keep their names; no quality field either. The edit models answer in their input's shape.
    ['qwen-image', 'qwen-image', '1328x1328', 'standard'],
    ['qwen-image-plus', 'qwen-image-plus', '1328x1328', 'standard'],
    ['qwen-image-edit', 'qwen-image-edit', 'auto', 'standard'],
    ['qwen-image-edit-plus', 'qwen-image-edit-plus', 'auto', 'standard'],
    ['wan2.5-t2i-preview', 'wan2.5-t2i-preview', '1280x1280', 'standard'],
    ['wan2.2-t2i-flash', 'wan2.2-t2i-flash', '1024x1024', 'standard'],
    ['wan2.2-t2i-plus', 'wan2.2-t2i-plus', '1024x1024', 'standard'],
    ['wanx2.1-t2i-turbo', 'wanx2.1-t2i-turbo', '1024x1024', 'standard'],
    ['wanx2.1-t2i-plus', 'wanx2.1-t2i-plus', '1024x1024', 'standard'],
    ['wanx2.1-imageedit', 'wanx2.1-imageedit', 'auto', 'standard'],
    // Seedream's public names are the gateway's, sent as Volcengine Ark's dated ids; no quality field either.
    ['seedream-5.0-lite', 'doubao-seedream-5-0-260128', 'auto', 'standard'],
    ['seedream-4.5', 'doubao-seedream-4-5-251128', 'auto', 'standard'],
    ['seedream-4.0', 'doubao-seedream-4-0-250828', 'auto', 'standard'],
    ['seedream-3.0', 'doubao-seedream-3-0-t2i-250415', '1024x1024', 'standard'],
    // Google's models keep their names; no quality field. Gemini picks the shape itself (auto), Imagen makes 1:1 by default.
    ['gemini-2.5-flash-image', 'gemini-2.5-flash-image', 'auto', 'standard'],
    ['gemini-3-pro-image-preview', 'gemini-3-pro-image-preview', 'auto', 'standard'],
    ['imagen-4.0-generate-001', 'imagen-4.0-generate-001', '1024x1024', 'standard'],
    ['imagen-4.0-ultra-generate-001', 'imagen-4.0-ultra-generate-001', '1024x1024', 'standard'],
    ['imagen-4.0-fast-generate-001', 'imagen-4.0-fast-generate-001', '1024x1024', 'standard'],
    // BFL's FLUX: the upstream model is BFL's endpoint; Kontext answers in its input's shape (auto), Ultra at 4 MP.
    ['flux-2-pro', 'flux-2-pro', '1024x1024', 'standard'],
    ['flux-2-max', 'flux-2-max', '1024x1024', 'standard'],
    ['flux-2-flex', 'flux-2-flex', '1024x1024', 'standard'],
    ['flux-2-klein-4b', 'flux-2-klein-4b', '1024x1024', 'standard'],
    ['flux-2-klein-9b', 'flux-2-klein-9b', '1024x1024', 'standard'],
    ['flux-kontext-pro', 'flux-kontext-pro', 'auto', 'standard'],
    ['flux-kontext-max', 'flux-kontext-max', 'auto', 'standard'],
    ['flux-1.1-pro', 'flux-pro-1.1', '1024x768', 'standard'],
    ['flux-1.1-pro-ultra', 'flux-pro-1.1-ultra', '2048x2048', 'standard'],
    // Ideogram 3.0: one name per rendering speed, the same size rules.
    ['ideogram-v3-turbo', 'ideogram-v3-turbo', '1024x1024', 'standard'],
    ['ideogram-v3', 'ideogram-v3', '1024x1024', 'standard'],
    ['ideogram-v3-quality', 'ideogram-v3-quality', '1024x1024', 'standard'],
    // Stability's: auto is its own default ratio (1:1), or an edit's input's shape.
    ['stable-image-ultra', 'stable-image-ultra', 'auto', 'standard'],
    ['stable-image-core', 'stable-image-core', 'auto', 'standard'],
    ['sd3.5-large', 'sd3.5-large', 'auto', 'standard'],
    ['sd3.5-large-turbo', 'sd3.5-large-turbo', 'auto', 'standard'],
    ['sd3.5-medium', 'sd3.5-medium', 'auto', 'standard'],
    ['sd3.5-flash', 'sd3.5-flash', 'auto', 'standard'],
    ['stable-image-inpaint', 'stable-image-inpaint', 'auto', 'standard'],
    ['stable-image-search-and-replace', 'stable-image-search-and-replace', 'auto', 'standard'],
    // Midjourney's keep their names (a relay's model names); the version is a prompt flag. 1:1, the grid split.
    ['midjourney', 'midjourney', '1024x1024', 'standard'],
    ['midjourney-v7', 'midjourney-v7', '1024x1024', 'standard'],
    ['midjourney-v6.1', 'midjourney-v6.1', '1024x1024', 'standard'],
    ['niji-6', 'niji-6', '1024x1024', 'standard'],
  ];

  it('covers exactly the built-in catalogue', () => {
    expect(DEFAULTS.map(([model]) => model).sort()).toEqual(BUILTIN_MODELS.map((m) => m.id).sort());
  });

  it.each(DEFAULTS)('%s -> upstream %s, size %s, quality %s, n 1, url', (model, upstreamModel, size, quality) => {
    const job = parse({ model, prompt: PROMPT });
    expect(resolved(job)).toEqual({ model, upstreamModel, size, quality, n: 1, responseFormat: 'url' });
    expect(job.id).toBe('req_test');
    expect(job.operation).toBe('generate');
    expect(job.prompt).toBe(PROMPT);
    expect(job.passthrough).toEqual({});
    for (const key of ['outputFormat', 'outputCompression', 'background', 'moderation', 'style', 'watermark', 'user', 'metadata']) {
      expect(job, `${model} should leave ${key} unset`).not.toHaveProperty(key);
    }
  });

  it("a missing or null model means gpt-image-2 (not OpenAI's dall-e-2)", () => {
    expect(DEFAULT_MODEL).toBe('gpt-image-2');
    expect(resolved(parse({ prompt: PROMPT }))).toEqual({
      model: 'gpt-image-2',
      upstreamModel: 'gpt-image-2',
      size: 'auto',
      quality: 'auto',
      n: 1,
      responseFormat: 'url',
    });
    expect(parse({ model: null, prompt: PROMPT }).model.id).toBe('gpt-image-2');
  });
});

describe('parseGenerationRequest: accepted inputs', () => {
  const ACCEPTED: [name: string, body: Record<string, unknown>, expected: Partial<Resolved>][] = [
    // gpt-image-2 enumerated sizes (as new-api relays list them) and auto
    ['gpt-image-2 size auto', { size: 'auto' }, { size: 'auto' }],
    ['gpt-image-2 size 1024x1024', { size: '1024x1024' }, { size: '1024x1024' }],
    ['gpt-image-2 size 1536x1024', { size: '1536x1024' }, { size: '1536x1024' }],
    ['gpt-image-2 size 1024x1536', { size: '1024x1536' }, { size: '1024x1536' }],
    ['gpt-image-2 size 2048x2048', { size: '2048x2048' }, { size: '2048x2048' }],
    ['gpt-image-2 size 2048x1152', { size: '2048x1152' }, { size: '2048x1152' }],
    ['gpt-image-2 size 3840x2160 (max pixels)', { size: '3840x2160' }, { size: '3840x2160' }],
    ['gpt-image-2 size 2160x3840 (max pixels)', { size: '2160x3840' }, { size: '2160x3840' }],
    ['gpt-image-2 null size means auto', { size: null }, { size: 'auto' }],
    // gpt-image-2 custom sizes at the boundaries
    ['1024x640 = 655,360 px, exactly the minimum', { size: '1024x640' }, { size: '1024x640' }],
    ['640x1024 = 655,360 px, exactly the minimum', { size: '640x1024' }, { size: '640x1024' }],
    ['2880x2880 = 8,294,400 px, exactly the maximum', { size: '2880x2880' }, { size: '2880x2880' }],
    ['2304x768 is exactly 3:1', { size: '2304x768' }, { size: '2304x768' }],
    ['768x2304 is exactly 1:3', { size: '768x2304' }, { size: '768x2304' }],
    ['3840x1280 is exactly 3:1 at the longest edge', { size: '3840x1280' }, { size: '3840x1280' }],
    ['3840x1296 has the longest allowed edge', { size: '3840x1296' }, { size: '3840x1296' }],
    ['1296x3840 has the longest allowed edge', { size: '1296x3840' }, { size: '1296x3840' }],
    ['1008x1008 (63x16 square)', { size: '1008x1008' }, { size: '1008x1008' }],
    ['1536x864 (the OpenAI spec example)', { size: '1536x864' }, { size: '1536x864' }],
    ['1792x1024 is a valid custom size for gpt-image-2', { size: '1792x1024' }, { size: '1792x1024' }],
    ['size is trimmed and lower-cased', { size: ' 1536X864 ' }, { size: '1536x864' }],
    ['leading zeros are normalized', { size: '01024x0640' }, { size: '1024x640' }],
    ['snapshot takes custom sizes', { model: 'gpt-image-2-2026-04-21', size: '1536x864' }, { size: '1536x864', upstreamModel: 'gpt-image-2-2026-04-21' }],
    ['-vip takes custom sizes', { model: 'gpt-image-2-vip', size: '1536x864' }, { size: '1536x864', upstreamModel: 'gpt-image-2' }],
    ['-pro takes custom sizes', { model: 'gpt-image-2-pro', size: '2880x2880' }, { size: '2880x2880', upstreamModel: 'gpt-image-2' }],
    ['-beta takes 4K sizes', { model: 'gpt-image-2-beta', size: '2160x3840' }, { size: '2160x3840', upstreamModel: 'gpt-image-2' }],
    // -1k / -2k / -4k (relay names with their own sizes)
    ['-1k 1024x1024', { model: 'gpt-image-2-1k', size: '1024x1024' }, { size: '1024x1024', quality: 'medium' }],
    ['-1k 1536x1024', { model: 'gpt-image-2-1k', size: '1536x1024' }, { size: '1536x1024', quality: 'medium' }],
    ['-1k 1024x1536', { model: 'gpt-image-2-1k', size: '1024x1536' }, { size: '1024x1536' }],
    ['-1k auto means 1024x1024', { model: 'gpt-image-2-1k', size: 'auto' }, { size: '1024x1024' }],
    ['-1k quality high overrides medium', { model: 'gpt-image-2-1k', quality: 'high' }, { quality: 'high' }],
    ['-1k quality low overrides medium', { model: 'gpt-image-2-1k', quality: 'low' }, { quality: 'low' }],
    ['-2k 2048x2048', { model: 'gpt-image-2-2k', size: '2048x2048' }, { size: '2048x2048' }],
    ['-2k 2048x1152', { model: 'gpt-image-2-2k', size: '2048x1152' }, { size: '2048x1152', quality: 'medium' }],
    ['-2k auto means 2048x2048', { model: 'gpt-image-2-2k', size: 'AUTO' }, { size: '2048x2048' }],
    ['-4k 3840x2160', { model: 'gpt-image-2-4k', size: '3840x2160' }, { size: '3840x2160' }],
    ['-4k 2160x3840', { model: 'gpt-image-2-4k', size: '2160x3840' }, { size: '2160x3840', quality: 'medium', upstreamModel: 'gpt-image-2' }],
    ['-4k auto means 3840x2160', { model: 'gpt-image-2-4k', size: 'auto' }, { size: '3840x2160' }],
    // gpt-image-1 family
    ['gpt-image-1 1536x1024', { model: 'gpt-image-1', size: '1536x1024' }, { size: '1536x1024', upstreamModel: 'gpt-image-1' }],
    ['gpt-image-1 1024x1536', { model: 'gpt-image-1', size: '1024x1536' }, { size: '1024x1536' }],
    ['gpt-image-1.5 1024x1024', { model: 'gpt-image-1.5', size: '1024x1024' }, { size: '1024x1024', upstreamModel: 'gpt-image-1.5' }],
    ['gpt-image-1-mini auto', { model: 'gpt-image-1-mini', size: 'auto' }, { size: 'auto', upstreamModel: 'gpt-image-1-mini' }],
    // dall-e
    ['dall-e-2 256x256', { model: 'dall-e-2', size: '256x256' }, { size: '256x256', quality: 'standard' }],
    ['dall-e-2 512x512', { model: 'dall-e-2', size: '512x512' }, { size: '512x512' }],
    ['dall-e-2 quality standard', { model: 'dall-e-2', quality: 'standard' }, { quality: 'standard' }],
    ['dall-e-2 quality auto means standard', { model: 'dall-e-2', quality: 'auto' }, { quality: 'standard' }],
    ['dall-e-2 n 10', { model: 'dall-e-2', n: 10 }, { n: 10 }],
    ['dall-e-3 1792x1024', { model: 'dall-e-3', size: '1792x1024' }, { size: '1792x1024' }],
    ['dall-e-3 1024x1792', { model: 'dall-e-3', size: '1024x1792' }, { size: '1024x1792' }],
    ['dall-e-3 quality hd', { model: 'dall-e-3', quality: 'hd' }, { quality: 'hd' }],
    ['dall-e-3 quality standard', { model: 'dall-e-3', quality: 'standard' }, { quality: 'standard' }],
    ['dall-e-3 quality auto means standard', { model: 'dall-e-3', quality: 'auto' }, { quality: 'standard' }],
    ['dall-e-3 n 1', { model: 'dall-e-3', n: 1 }, { n: 1 }],
    ['dall-e-3 n 0 means 1', { model: 'dall-e-3', n: 0 }, { n: 1 }],
    ['model name is trimmed', { model: ' dall-e-3 ' }, { model: 'dall-e-3' }],
    // quality on GPT models
    ['gpt-image-2 quality low', { quality: 'low' }, { quality: 'low' }],
    ['gpt-image-2 quality medium', { quality: 'medium' }, { quality: 'medium' }],
    ['gpt-image-2 quality high', { quality: 'high' }, { quality: 'high' }],
    ['gpt-image-2 quality auto', { quality: 'auto' }, { quality: 'auto' }],
    ['gpt-image-2 null quality means auto', { quality: null }, { quality: 'auto' }],
    ['gpt-image-1 quality high', { model: 'gpt-image-1', quality: 'high' }, { quality: 'high' }],
    // n
    ['n missing means 1', {}, { n: 1 }],
    ['n null means 1', { n: null }, { n: 1 }],
    ['n 0 means 1', { n: 0 }, { n: 1 }],
    ['n 1', { n: 1 }, { n: 1 }],
    ['n 10 (maximum)', { n: 10 }, { n: 10 }],
    ['n 4 on gpt-image-1', { model: 'gpt-image-1', n: 4 }, { n: 4 }],
    ['n 2.0 is an integer', { n: 2.0 }, { n: 2 }],
    // response_format
    ['response_format url', { response_format: 'url' }, { responseFormat: 'url' }],
    ['response_format b64_json', { response_format: 'b64_json' }, { responseFormat: 'b64_json' }],
    ['response_format base64 is b64_json', { response_format: 'base64' }, { responseFormat: 'b64_json' }],
    ['response_format null means url', { response_format: null }, { responseFormat: 'url' }],
    ['dall-e-3 response_format b64_json', { model: 'dall-e-3', response_format: 'b64_json' }, { responseFormat: 'b64_json' }],
  ];

  it.each(ACCEPTED)('%s', (_name, body, expected) => {
    expect(resolved(parse({ prompt: PROMPT, ...body }))).toMatchObject(expected);
  });

  // Prompts exactly at each model's limit.
  const PROMPT_LIMITS: [model: string, limit: number][] = [
    ['gpt-image-2', 32_000],
    ['gpt-image-2-4k', 32_000],
    ['gpt-image-1', 32_000],
    ['gpt-image-1.5', 32_000],
    ['gpt-image-1-mini', 32_000],
    ['dall-e-2', 1_000],
    ['dall-e-3', 4_000],
  ];

  it.each(PROMPT_LIMITS)('%s accepts a prompt of exactly %i characters', (model, limit) => {
    expect(parse({ model, prompt: prompt(limit) }).prompt).toHaveLength(limit);
  });

  it('counts CJK prompt characters one each', () => {
    const text = '山'.repeat(32_000);
    expect(parse({ prompt: text }).prompt).toBe(text);
  });
});

describe('parseGenerationRequest: GPT-only options, watermark, passthrough', () => {
  it.each([
    ['gpt-image-2', { output_format: 'png' }, { outputFormat: 'png' }],
    ['gpt-image-2', { output_format: 'jpeg', output_compression: 0 }, { outputFormat: 'jpeg', outputCompression: 0 }],
    ['gpt-image-2', { output_format: 'jpeg', output_compression: 100 }, { outputFormat: 'jpeg', outputCompression: 100 }],
    ['gpt-image-2', { output_format: 'webp', output_compression: 55 }, { outputFormat: 'webp', outputCompression: 55 }],
    ['gpt-image-2', { background: 'opaque' }, { background: 'opaque' }],
    ['gpt-image-2', { background: 'auto' }, { background: 'auto' }],
    ['gpt-image-2', { moderation: 'low' }, { moderation: 'low' }],
    ['gpt-image-2', { moderation: 'auto' }, { moderation: 'auto' }],
    ['gpt-image-1.5', { background: 'transparent' }, { background: 'transparent' }],
    ['gpt-image-1.5', { background: 'transparent', output_format: 'png' }, { background: 'transparent', outputFormat: 'png' }],
    ['gpt-image-1', { background: 'transparent', output_format: 'webp' }, { background: 'transparent', outputFormat: 'webp' }],
    [
      'gpt-image-1-mini',
      { background: 'transparent', output_format: 'webp', output_compression: 80 },
      { background: 'transparent', outputFormat: 'webp', outputCompression: 80 },
    ],
    ['gpt-image-1.5', { background: 'opaque', output_format: 'jpeg' }, { background: 'opaque', outputFormat: 'jpeg' }],
  ] as const)('%s with %o', (model, options, expected) => {
    expect(parse({ model, prompt: PROMPT, ...options })).toMatchObject(expected);
  });

  it('null GPT options count as absent, also for dall-e', () => {
    const job = parse({ model: 'dall-e-3', prompt: PROMPT, output_format: null, background: null, output_compression: null, moderation: null });
    expect(job).not.toHaveProperty('outputFormat');
    expect(job).not.toHaveProperty('background');
  });

  it('stream false and partial_images 0-3 are accepted for GPT models', () => {
    expect(parse({ prompt: PROMPT, stream: false, partial_images: 0 }).model.id).toBe('gpt-image-2');
    expect(parse({ prompt: PROMPT, partial_images: 3 }).model.id).toBe('gpt-image-2');
  });

  it('dall-e-3 style vivid / natural', () => {
    expect(parse({ model: 'dall-e-3', prompt: PROMPT, style: 'vivid' }).style).toBe('vivid');
    expect(parse({ model: 'dall-e-3', prompt: PROMPT, style: 'natural' }).style).toBe('natural');
  });

  it('style on other models is passed through untouched', () => {
    expect(parse({ prompt: PROMPT, style: { preset: 'anime' } }).style).toEqual({ preset: 'anime' });
  });

  it('watermark is tri-state: absent, false, true', () => {
    expect(parse({ prompt: PROMPT })).not.toHaveProperty('watermark');
    expect(parse({ prompt: PROMPT, watermark: null })).not.toHaveProperty('watermark');
    expect(parse({ prompt: PROMPT, watermark: false }).watermark).toBe(false);
    expect(parse({ prompt: PROMPT, watermark: true }).watermark).toBe(true);
  });

  it('keeps user and metadata', () => {
    const job = parse({ prompt: PROMPT, user: 'user-42', metadata: { project: 'x' } });
    expect(job.user).toBe('user-42');
    expect(job.metadata).toEqual({ project: 'x' });
  });

  it('unknown fields go to passthrough, known ones do not', () => {
    const job = parse({
      model: 'gpt-image-2',
      prompt: PROMPT,
      n: 2,
      size: '1024x1024',
      quality: 'high',
      response_format: 'b64_json',
      output_format: 'webp',
      watermark: false,
      user: 'u',
      metadata: { a: 1 },
      seed: 1234,
      aspect_ratio: '16:9',
      callback_url: 'https://example.com/cb',
      extra: { nested: [1, 2] },
      nothing: null,
    });
    expect(job.passthrough).toEqual({
      seed: 1234,
      aspect_ratio: '16:9',
      callback_url: 'https://example.com/cb',
      extra: { nested: [1, 2] },
      nothing: null,
    });
  });
});

describe('parseGenerationRequest: refused inputs', () => {
  type RefusedRow = [name: string, body: unknown, status: number, type: ErrorType, code: string, param: string | null, messagePart?: string];
  const ok = (fields: Record<string, unknown>): Record<string, unknown> => ({ prompt: PROMPT, ...fields });
  const PIXELS = 'total pixel count';
  const EDGE = 'long edge';
  const ASPECT = 'aspect ratio';
  const MULTIPLE = 'multiples of 16';

  const REFUSED: RefusedRow[] = [
    // the body itself
    ['body is null', null, 400, IRE, 'invalid_request', null],
    ['body is an array', [ok({})], 400, IRE, 'invalid_request', null],
    ['body is a string', 'draw a cat', 400, IRE, 'invalid_request', null],
    // model
    ['unknown model', ok({ model: 'gpt-image-3' }), 404, IRE, 'model_not_found', 'model', "'gpt-image-3'"],
    ['unknown model dall-e-4', ok({ model: 'dall-e-4' }), 404, IRE, 'model_not_found', 'model'],
    ['empty model name', ok({ model: '' }), 404, IRE, 'model_not_found', 'model'],
    ['model is a number', ok({ model: 2 }), 400, IRE, 'invalid_type', 'model'],
    // prompt
    ['prompt missing', {}, 400, IRE, 'missing_required_parameter', 'prompt'],
    ['prompt null', { prompt: null }, 400, IRE, 'missing_required_parameter', 'prompt'],
    ['prompt empty', { prompt: '' }, 400, IRE, 'invalid_value', 'prompt'],
    ['prompt only spaces', { prompt: '   ' }, 400, IRE, 'invalid_value', 'prompt'],
    ['prompt is a number', { prompt: 42 }, 400, IRE, 'invalid_type', 'prompt'],
    ['prompt 32,001 chars on gpt-image-2', { prompt: prompt(32_001) }, 400, IRE, 'string_above_max_length', 'prompt', '32000'],
    ['prompt 32,001 chars on gpt-image-2-1k', { model: 'gpt-image-2-1k', prompt: prompt(32_001) }, 400, IRE, 'string_above_max_length', 'prompt'],
    ['prompt 32,001 chars on gpt-image-1', { model: 'gpt-image-1', prompt: prompt(32_001) }, 400, IRE, 'string_above_max_length', 'prompt'],
    ['prompt 32,001 chars on gpt-image-1.5', { model: 'gpt-image-1.5', prompt: prompt(32_001) }, 400, IRE, 'string_above_max_length', 'prompt'],
    ['prompt 1,001 chars on dall-e-2', { model: 'dall-e-2', prompt: prompt(1_001) }, 400, IRE, 'string_above_max_length', 'prompt', '1000'],
    ['prompt 4,001 chars on dall-e-3', { model: 'dall-e-3', prompt: prompt(4_001) }, 400, IRE, 'string_above_max_length', 'prompt', '4000'],
    ['prompt 4,000 chars is too long for dall-e-2', { model: 'dall-e-2', prompt: prompt(4_000) }, 400, IRE, 'string_above_max_length', 'prompt'],
    // n
    ['n 11', ok({ n: 11 }), 400, IRE, 'invalid_value', 'n'],
    ['n -1', ok({ n: -1 }), 400, IRE, 'invalid_value', 'n'],
    ['n 1.5', ok({ n: 1.5 }), 400, IRE, 'invalid_type', 'n'],
    ['n as a string', ok({ n: '2' }), 400, IRE, 'invalid_type', 'n'],
    ['n true', ok({ n: true }), 400, IRE, 'invalid_type', 'n'],
    ['dall-e-3 n 2', ok({ model: 'dall-e-3', n: 2 }), 400, IRE, 'invalid_value', 'n', 'n=1'],
    ['dall-e-2 n 11', ok({ model: 'dall-e-2', n: 11 }), 400, IRE, 'invalid_value', 'n'],
    ['gpt-image-2-4k n 11', ok({ model: 'gpt-image-2-4k', n: 11 }), 400, IRE, 'invalid_value', 'n'],
    // gpt-image-2 custom sizes: pixel count
    ['1008x640 = 645,120 px, below the minimum', ok({ size: '1008x640' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    ['1024x624 = 638,976 px, below the minimum', ok({ size: '1024x624' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    ['624x1024 below the minimum', ok({ size: '624x1024' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    ['512x512 below the minimum (dall-e-2 size on gpt-image-2)', ok({ size: '512x512' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    ['3840x2176 = 8,355,840 px, above the maximum', ok({ size: '3840x2176' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    ['2176x3840 above the maximum', ok({ size: '2176x3840' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    ['2896x2896 = 8,386,816 px, above the maximum', ok({ size: '2896x2896' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    ['2880x2896 = 8,340,480 px, above the maximum', ok({ size: '2880x2896' }), 400, IRE, 'invalid_value', 'size', PIXELS],
    // aspect ratio
    ['2320x768 is above 3:1', ok({ size: '2320x768' }), 400, IRE, 'invalid_value', 'size', ASPECT],
    ['768x2320 is above 1:3', ok({ size: '768x2320' }), 400, IRE, 'invalid_value', 'size', ASPECT],
    ['3840x1264 is above 3:1', ok({ size: '3840x1264' }), 400, IRE, 'invalid_value', 'size', ASPECT],
    // long edge
    ['3856x1296 long edge above 3840', ok({ size: '3856x1296' }), 400, IRE, 'invalid_value', 'size', EDGE],
    ['1296x3856 long edge above 3840', ok({ size: '1296x3856' }), 400, IRE, 'invalid_value', 'size', EDGE],
    ['4096x2304 long edge above 3840', ok({ size: '4096x2304' }), 400, IRE, 'invalid_value', 'size', EDGE],
    // multiples of 16
    ['1000x1000 is not a multiple of 16', ok({ size: '1000x1000' }), 400, IRE, 'invalid_value', 'size', MULTIPLE],
    ['1024x1000 height not a multiple of 16', ok({ size: '1024x1000' }), 400, IRE, 'invalid_value', 'size', MULTIPLE],
    ['1032x1024 width not a multiple of 16', ok({ size: '1032x1024' }), 400, IRE, 'invalid_value', 'size', MULTIPLE],
    ['1920x1080 height not a multiple of 16', ok({ size: '1920x1080' }), 400, IRE, 'invalid_value', 'size', MULTIPLE],
    // malformed sizes
    ['size word', ok({ size: 'big' }), 400, IRE, 'invalid_value', 'size'],
    ['size with *', ok({ size: '1024*1024' }), 400, IRE, 'invalid_value', 'size'],
    ['size with a zero edge', ok({ size: '0x1024' }), 400, IRE, 'invalid_value', 'size'],
    ['size with a negative edge', ok({ size: '-1024x1024' }), 400, IRE, 'invalid_value', 'size'],
    ['size with a decimal edge', ok({ size: '1024.5x1024' }), 400, IRE, 'invalid_value', 'size'],
    ['size empty string', ok({ size: '' }), 400, IRE, 'invalid_value', 'size'],
    ['size as a number', ok({ size: 1024 }), 400, IRE, 'invalid_type', 'size'],
    // names with their own size list
    ['-1k 2048x2048', ok({ model: 'gpt-image-2-1k', size: '2048x2048' }), 400, IRE, 'invalid_value', 'size'],
    ['-1k refuses custom sizes', ok({ model: 'gpt-image-2-1k', size: '1024x640' }), 400, IRE, 'invalid_value', 'size'],
    ['-2k 1024x1024', ok({ model: 'gpt-image-2-2k', size: '1024x1024' }), 400, IRE, 'invalid_value', 'size'],
    ['-2k 3840x2160', ok({ model: 'gpt-image-2-2k', size: '3840x2160' }), 400, IRE, 'invalid_value', 'size'],
    ['-4k 2048x2048', ok({ model: 'gpt-image-2-4k', size: '2048x2048' }), 400, IRE, 'invalid_value', 'size'],
    ['-4k 1024x1024', ok({ model: 'gpt-image-2-4k', size: '1024x1024' }), 400, IRE, 'invalid_value', 'size'],
    // gpt-image-1 family sizes
    ['gpt-image-1 2048x2048', ok({ model: 'gpt-image-1', size: '2048x2048' }), 400, IRE, 'invalid_value', 'size'],
    ['gpt-image-1.5 custom 1024x640', ok({ model: 'gpt-image-1.5', size: '1024x640' }), 400, IRE, 'invalid_value', 'size'],
    ['gpt-image-1-mini 1792x1024', ok({ model: 'gpt-image-1-mini', size: '1792x1024' }), 400, IRE, 'invalid_value', 'size'],
    // dall-e sizes
    ['dall-e-2 1536x1024', ok({ model: 'dall-e-2', size: '1536x1024' }), 400, IRE, 'invalid_value', 'size'],
    ['dall-e-2 auto', ok({ model: 'dall-e-2', size: 'auto' }), 400, IRE, 'invalid_value', 'size'],
    ['dall-e-3 512x512', ok({ model: 'dall-e-3', size: '512x512' }), 400, IRE, 'invalid_value', 'size'],
    ['dall-e-3 1024x1536', ok({ model: 'dall-e-3', size: '1024x1536' }), 400, IRE, 'invalid_value', 'size'],
    // quality
    ['gpt-image-2 quality standard', ok({ quality: 'standard' }), 400, IRE, 'invalid_value', 'quality'],
    ['gpt-image-2 quality ultra', ok({ quality: 'ultra' }), 400, IRE, 'invalid_value', 'quality'],
    ['gpt-image-1 quality hd', ok({ model: 'gpt-image-1', quality: 'hd' }), 400, IRE, 'invalid_value', 'quality'],
    ['gpt-image-2-1k quality hd', ok({ model: 'gpt-image-2-1k', quality: 'hd' }), 400, IRE, 'invalid_value', 'quality'],
    ['dall-e-3 quality high', ok({ model: 'dall-e-3', quality: 'high' }), 400, IRE, 'invalid_value', 'quality'],
    ['dall-e-2 quality hd', ok({ model: 'dall-e-2', quality: 'hd' }), 400, IRE, 'invalid_value', 'quality'],
    ['quality as a number', ok({ quality: 5 }), 400, IRE, 'invalid_type', 'quality'],
    // response_format
    ['response_format png', ok({ response_format: 'png' }), 400, IRE, 'invalid_value', 'response_format'],
    ['response_format is case-sensitive', ok({ response_format: 'URL' }), 400, IRE, 'invalid_value', 'response_format'],
    ['response_format toString (an Object.prototype key)', ok({ response_format: 'toString' }), 400, IRE, 'invalid_value', 'response_format'],
    ['response_format constructor (an Object.prototype key)', ok({ response_format: 'constructor' }), 400, IRE, 'invalid_value', 'response_format'],
    ['response_format as a boolean', ok({ response_format: true }), 400, IRE, 'invalid_type', 'response_format'],
    // background / output_format / output_compression / moderation on GPT models
    ['gpt-image-2 transparent background', ok({ background: 'transparent' }), 400, IRE, 'invalid_value', 'background'],
    [
      'gpt-image-2-vip transparent background',
      ok({ model: 'gpt-image-2-vip', background: 'transparent', output_format: 'png' }),
      400,
      IRE,
      'invalid_value',
      'background',
    ],
    [
      'gpt-image-2-2026-04-21 transparent background',
      ok({ model: 'gpt-image-2-2026-04-21', background: 'transparent' }),
      400,
      IRE,
      'invalid_value',
      'background',
    ],
    ['gpt-image-2-4k transparent background', ok({ model: 'gpt-image-2-4k', background: 'transparent' }), 400, IRE, 'invalid_value', 'background'],
    [
      'gpt-image-1.5 transparent with jpeg',
      ok({ model: 'gpt-image-1.5', background: 'transparent', output_format: 'jpeg' }),
      400,
      IRE,
      'invalid_value',
      'output_format',
    ],
    [
      'gpt-image-1 transparent with jpeg',
      ok({ model: 'gpt-image-1', background: 'transparent', output_format: 'jpeg' }),
      400,
      IRE,
      'invalid_value',
      'output_format',
    ],
    ['background white', ok({ background: 'white' }), 400, IRE, 'invalid_value', 'background'],
    ['output_format gif', ok({ output_format: 'gif' }), 400, IRE, 'invalid_value', 'output_format'],
    ['output_format jpg (not jpeg)', ok({ output_format: 'jpg' }), 400, IRE, 'invalid_value', 'output_format'],
    ['output_compression without output_format (png)', ok({ output_compression: 50 }), 400, IRE, 'invalid_value', 'output_compression'],
    ['output_compression with png', ok({ output_format: 'png', output_compression: 50 }), 400, IRE, 'invalid_value', 'output_compression'],
    ['output_compression 101', ok({ output_format: 'jpeg', output_compression: 101 }), 400, IRE, 'invalid_value', 'output_compression'],
    ['output_compression -1', ok({ output_format: 'webp', output_compression: -1 }), 400, IRE, 'invalid_value', 'output_compression'],
    ['output_compression 50.5', ok({ output_format: 'jpeg', output_compression: 50.5 }), 400, IRE, 'invalid_value', 'output_compression'],
    ['output_compression as a string', ok({ output_format: 'jpeg', output_compression: '50' }), 400, IRE, 'invalid_type', 'output_compression'],
    ['moderation high', ok({ moderation: 'high' }), 400, IRE, 'invalid_value', 'moderation'],
    // GPT-only options on dall-e
    ['dall-e-3 output_format', ok({ model: 'dall-e-3', output_format: 'png' }), 400, IRE, 'unsupported_parameter', 'output_format'],
    ['dall-e-3 output_compression', ok({ model: 'dall-e-3', output_compression: 50 }), 400, IRE, 'unsupported_parameter', 'output_compression'],
    ['dall-e-3 background', ok({ model: 'dall-e-3', background: 'transparent' }), 400, IRE, 'unsupported_parameter', 'background'],
    ['dall-e-2 background opaque', ok({ model: 'dall-e-2', background: 'opaque' }), 400, IRE, 'unsupported_parameter', 'background'],
    ['dall-e-2 moderation', ok({ model: 'dall-e-2', moderation: 'low' }), 400, IRE, 'unsupported_parameter', 'moderation'],
    ['dall-e-2 output_format', ok({ model: 'dall-e-2', output_format: 'webp' }), 400, IRE, 'unsupported_parameter', 'output_format'],
    ['dall-e-3 stream', ok({ model: 'dall-e-3', stream: true }), 400, IRE, 'unsupported_parameter', 'stream'],
    ['dall-e-2 partial_images', ok({ model: 'dall-e-2', partial_images: 1 }), 400, IRE, 'unsupported_parameter', 'partial_images'],
    // not served yet / wrong types
    ['stream for dall-e-2', ok({ model: 'dall-e-2', stream: true }), 400, IRE, 'unsupported_parameter', 'stream'],
    ['stream as a string', ok({ stream: 'true' }), 400, IRE, 'invalid_type', 'stream'],
    ['stream as a string', ok({ stream: 'yes' }), 400, IRE, 'invalid_type', 'stream'],
    ['partial_images 4', ok({ partial_images: 4 }), 400, IRE, 'invalid_value', 'partial_images'],
    ['reference images for dall-e-3', ok({ model: 'dall-e-3', image: ['https://example.com/a.png'] }), 400, IRE, 'invalid_value', 'image'],
    ['a reference image that is a number', ok({ image: ['https://example.com/a.png', 7] }), 400, IRE, 'invalid_type', 'image[1]'],
    ['a reference image by ftp', ok({ image: ['ftp://example.com/a.png'] }), 400, IRE, 'invalid_image_url', 'image[0]'],
    ['17 reference images', ok({ image: Array.from({ length: 17 }, () => 'https://example.com/a.png') }), 400, IRE, 'too_many_images', 'image'],
    ['an empty reference image list', ok({ image: [] }), 400, IRE, 'invalid_value', 'image'],
    ['dall-e-3 style cartoon', ok({ model: 'dall-e-3', style: 'cartoon' }), 400, IRE, 'invalid_value', 'style'],
    ['watermark as a string', ok({ watermark: 'true' }), 400, IRE, 'invalid_type', 'watermark'],
    ['user as a number', ok({ user: 123 }), 400, IRE, 'invalid_type', 'user'],
  ];

  it('has at least 40 rows', () => {
    expect(REFUSED.length).toBeGreaterThanOrEqual(40);
  });

  it.each(REFUSED)('%s', (_name, body, status, type, code, param, messagePart) => {
    const err = refusal(body);
    expect({ status: err.status, type: err.type, code: err.code, param: err.param }).toEqual({ status, type, code, param });
    if (messagePart !== undefined) expect(err.message).toContain(messagePart);
    expect(err.toEnvelope()).toEqual({ error: { message: err.message, type, param, code } });
  });
});

describe('parseSize', () => {
  it.each([
    ['1024x1024', { width: 1024, height: 1024 }],
    ['1536x864', { width: 1536, height: 864 }],
    ['256x256', { width: 256, height: 256 }],
    ['01024x0640', { width: 1024, height: 640 }],
    ['99999x1', { width: 99_999, height: 1 }],
  ])('%s -> %o', (size, expected) => {
    expect(parseSize(size)).toEqual(expected);
  });

  it.each([
    'auto',
    '',
    '0x1024',
    '1024x0',
    '1024',
    'x1024',
    '1024x',
    '1024X1024',
    ' 1024x1024',
    '1024x1024 ',
    '1024*1024',
    '1024 x 1024',
    '-1x1',
    '1.5x2',
    '123456x1',
    '1024x1024x1',
  ])('%j -> null', (size) => {
    expect(parseSize(size)).toBeNull();
  });

  it('formatSize is its inverse', () => {
    expect(formatSize({ width: 1536, height: 864 })).toBe('1536x864');
    const dims = parseSize('2160x3840');
    expect(dims && formatSize(dims)).toBe('2160x3840');
  });
});

describe('gptImage2SizeProblem', () => {
  it('has the documented limits', () => {
    expect(GPT_IMAGE_2_LIMITS).toEqual({ edgeMultiple: 16, maxEdge: 3840, maxAspect: 3, minPixels: 655_360, maxPixels: 8_294_400 });
  });

  const PIXELS = 'total pixel count must be between 655,360 and 8,294,400';
  const CASES: [width: number, height: number, problem: string | null][] = [
    [1024, 640, null], // 655,360: the minimum
    [640, 1024, null],
    [1008, 640, PIXELS], // 645,120
    [1024, 624, PIXELS], // 638,976
    [1024, 656, null], // 671,744
    [16, 16, PIXELS],
    [3840, 2160, null], // 8,294,400: the maximum
    [2160, 3840, null],
    [2880, 2880, null], // 8,294,400 as a square
    [3840, 2176, PIXELS], // 8,355,840
    [2896, 2896, PIXELS], // 8,386,816
    [2880, 2896, PIXELS], // 8,340,480
    [2304, 768, null], // exactly 3:1
    [768, 2304, null],
    [3840, 1280, null], // 3:1 at the longest edge
    [2320, 768, 'aspect ratio must be at most 3:1'],
    [768, 2320, 'aspect ratio must be at most 3:1'],
    [3840, 1264, 'aspect ratio must be at most 3:1'],
    [3840, 1296, null],
    [3856, 1296, 'long edge must be at most 3840 pixels'],
    [1296, 3856, 'long edge must be at most 3840 pixels'],
    [4000, 4000, 'long edge must be at most 3840 pixels'],
    [1000, 1000, 'both edges must be multiples of 16'],
    [1024, 1000, 'both edges must be multiples of 16'],
    [1032, 1024, 'both edges must be multiples of 16'],
    [1008, 1008, null],
  ];

  it.each(CASES)('%ix%i -> %s', (width, height, problem) => {
    const result = gptImage2SizeProblem({ width, height });
    if (problem === null) expect(result).toBeNull();
    else expect(result).toContain(problem);
  });

  it('every enumerated gpt-image-2 size also passes the custom-size rules', () => {
    const enumerated = FAMILY_RULES['gpt-image-2'].sizes.filter((s) => s !== 'auto');
    expect(enumerated).toHaveLength(7);
    for (const size of enumerated) {
      const dims = parseSize(size) as Dimensions;
      expect(gptImage2SizeProblem(dims), size).toBeNull();
    }
  });
});

describe('ModelCatalogue.withAliases', () => {
  const ALIASES: ModelAlias[] = [
    { name: 'house-4k', base: 'gpt-image-2-4k', params: { quality: 'high', watermark: false } },
    { name: 'cheap', base: 'gpt-image-1', upstreamModel: 'gpt-image-1-mini', description: 'Cheap line' },
    { name: 'poster', base: 'dall-e-3', params: { style: 'vivid' } },
    { name: 'house-4k-natural', base: 'house-4k', params: { style: 'natural' } },
  ];
  const withAliases = ModelCatalogue.withAliases(ALIASES);

  it('keeps every built-in model', () => {
    for (const spec of BUILTIN_MODELS) expect(withAliases.get(spec.id)).toEqual(spec);
    expect(withAliases.list()).toHaveLength(BUILTIN_MODELS.length + ALIASES.length);
    expect(ModelCatalogue.withAliases([]).list()).toHaveLength(BUILTIN_MODELS.length);
  });

  it('an alias keeps its base rules, sizes and defaults; params become fixedParams', () => {
    const base = withAliases.get('gpt-image-2-4k');
    const alias = withAliases.get('house-4k');
    expect(alias).toEqual({
      ...base,
      id: 'house-4k',
      description: `${base?.description} (alias)`,
      upstreamModel: 'gpt-image-2',
      fixedParams: { quality: 'high', watermark: false },
    });
    expect(alias?.family).toBe('gpt-image-2');
    expect(alias?.sizes).toEqual(['3840x2160', '2160x3840']);
    expect(alias?.defaults).toEqual({ size: '3840x2160', quality: 'medium' });
  });

  it('upstreamModel and description can be overridden', () => {
    expect(withAliases.get('cheap')).toMatchObject({
      id: 'cheap',
      family: 'gpt-image-1',
      upstreamModel: 'gpt-image-1-mini',
      description: 'Cheap line',
      fixedParams: {},
    });
  });

  it('an alias of an alias merges the fixed params', () => {
    expect(withAliases.get('house-4k-natural')).toMatchObject({
      upstreamModel: 'gpt-image-2',
      fixedParams: { quality: 'high', watermark: false, style: 'natural' },
    });
  });

  it('requests to an alias follow the base rules', () => {
    const job = parse({ model: 'house-4k', prompt: PROMPT, size: 'auto' }, withAliases);
    expect(resolved(job)).toEqual({
      model: 'house-4k',
      upstreamModel: 'gpt-image-2',
      size: '3840x2160',
      quality: 'medium',
      n: 1,
      responseFormat: 'url',
    });
    expect(refusal({ model: 'house-4k', prompt: PROMPT, size: '1024x1024' }, withAliases)).toMatchObject({ status: 400, code: 'invalid_value', param: 'size' });
    expect(refusal({ model: 'poster', prompt: PROMPT, n: 2 }, withAliases)).toMatchObject({ status: 400, code: 'invalid_value', param: 'n' });
    expect(refusal({ model: 'cheap', prompt: PROMPT, size: '2048x2048' }, withAliases)).toMatchObject({ status: 400, code: 'invalid_value', param: 'size' });
    expect(parse({ model: 'cheap', prompt: PROMPT, background: 'transparent' }, withAliases).background).toBe('transparent');
  });

  it('aliases are unknown to a catalogue without them', () => {
    expect(refusal({ model: 'house-4k', prompt: PROMPT })).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
  });

  it('an unknown base throws', () => {
    expect(() => ModelCatalogue.withAliases([{ name: 'x', base: 'gpt-image-9' }])).toThrow(/unknown base model 'gpt-image-9'/);
  });
});

describe('parseGenerationRequest: stream', () => {
  it.each([
    [{ stream: true }, { partialImages: 0 }],
    [{ stream: true, partial_images: 3 }, { partialImages: 3 }],
    [{ stream: false, partial_images: 2 }, undefined],
    [{ stream: null }, undefined],
  ])('%j -> %j', (fields, expected) => {
    expect(parse({ prompt: PROMPT, ...fields }).stream).toEqual(expected);
  });
});
