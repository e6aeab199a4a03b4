/**
 * Pricing (core/pricing.ts) and the list prices (core/default-prices.ts): every default, the
 * fallback chain, worst-case reservations, delivered-count and token charges, the cap at the
 * reservation, the operator's cost, and the config file's `pricing:` section.
 * Money is micro-dollars: 1 USD = 1,000,000 micros.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { DEFAULT_PRICES, gptImage2OutputTokens } from '../src/core/default-prices.js';
import { NO_INPUTS, type InputImage } from '../src/core/image-input.js';
import { inMemoryBytes } from '../src/core/input-bytes.js';
import type { ImageJob, ImageUsage } from '../src/core/job.js';
import { BUILTIN_MODELS, ModelCatalogue, type ModelAlias, type ModelSpec } from '../src/core/models.js';
import { formatMicros, Pricing, usdToMicros, type PriceTable } from '../src/core/pricing.js';
import { writeConfigFile } from './helpers/config-file.js';

const PROMPT = 'a lighthouse at dusk'; // 20 UTF-8 bytes

function spec(id: string, catalogue = new ModelCatalogue(BUILTIN_MODELS)): ModelSpec {
  const found = catalogue.get(id);
  if (!found) throw new Error(`no model ${id}`);
  return found;
}

function job(model: string | ModelSpec, overrides: Partial<ImageJob> = {}): ImageJob {
  return {
    id: 'req_test',
    operation: 'generate',
    model: typeof model === 'string' ? spec(model) : model,
    prompt: PROMPT,
    inputs: NO_INPUTS,
    n: 1,
    size: '1024x1024',
    quality: 'high',
    responseFormat: 'url',
    passthrough: {},
    ...overrides,
  };
}

function usage(text: number, image: number, output: number): ImageUsage {
  return {
    total_tokens: text + image + output,
    input_tokens: text + image,
    output_tokens: output,
    input_tokens_details: { text_tokens: text, image_tokens: image },
  };
}

function inputImage(width: number, height: number): InputImage {
  return { param: 'image', bytes: inMemoryBytes(Buffer.alloc(0)), format: 'png', width, height, hasAlpha: false };
}

const listPricing = new Pricing(undefined, new ModelCatalogue(BUILTIN_MODELS));

// What a token-priced model reserves per image for the prompt: (UTF-8 bytes + 64 overhead
// tokens) x the text input price. PROMPT: (20 + 64) tokens x $5/1M = 420 micros, the 420 below.

describe('default prices: OpenAI list prices in micros', () => {
  const cases: [model: string, size: string, quality: string, micros: number][] = [
    ['gpt-image-1', '1024x1024', 'low', 11_000],
    ['gpt-image-1', '1024x1024', 'medium', 42_000],
    ['gpt-image-1', '1024x1024', 'high', 167_000],
    ['gpt-image-1', '1024x1536', 'low', 16_000],
    ['gpt-image-1', '1536x1024', 'medium', 63_000],
    ['gpt-image-1', '1536x1024', 'high', 250_000],
    ['gpt-image-1-mini', '1024x1024', 'low', 5_000],
    ['gpt-image-1-mini', '1024x1024', 'medium', 11_000],
    ['gpt-image-1-mini', '1024x1024', 'high', 36_000],
    ['gpt-image-1-mini', '1536x1024', 'low', 6_000],
    ['gpt-image-1-mini', '1024x1536', 'medium', 15_000],
    ['gpt-image-1-mini', '1024x1536', 'high', 52_000],
    ['gpt-image-1.5', '1024x1024', 'low', 9_000],
    ['gpt-image-1.5', '1024x1024', 'medium', 34_000],
    ['gpt-image-1.5', '1024x1024', 'high', 133_000],
    ['gpt-image-1.5', '1536x1024', 'low', 13_000],
    ['gpt-image-1.5', '1024x1536', 'medium', 50_000],
    ['gpt-image-1.5', '1536x1024', 'high', 200_000],
    // gpt-image-2: OpenAI's calculator tokens x $30/1M, e.g. 1024x1024 high 7,024 x 30 = 210,720.
    ['gpt-image-2', '1024x1024', 'low', 196 * 30],
    ['gpt-image-2', '1024x1024', 'medium', 1_756 * 30],
    ['gpt-image-2', '1024x1024', 'high', 7_024 * 30],
    ['gpt-image-2', '1536x1024', 'low', 158 * 30],
    ['gpt-image-2', '1024x1536', 'medium', 1_372 * 30],
    ['gpt-image-2', '1024x1536', 'high', 5_488 * 30],
    ['gpt-image-2', '2048x2048', 'high', 14_272 * 30],
    ['gpt-image-2', '2048x1152', 'high', 5_650 * 30],
    ['gpt-image-2', '3840x2160', 'high', 13_342 * 30],
    ['gpt-image-2', '2160x3840', 'medium', 3_336 * 30],
    ['dall-e-3', '1024x1024', 'standard', 40_000],
    ['dall-e-3', '1792x1024', 'standard', 80_000],
    ['dall-e-3', '1024x1792', 'standard', 80_000],
    ['dall-e-3', '1024x1024', 'hd', 80_000],
    ['dall-e-3', '1792x1024', 'hd', 120_000],
    ['dall-e-3', '1024x1792', 'hd', 120_000],
    ['dall-e-2', '256x256', 'standard', 16_000],
    ['dall-e-2', '512x512', 'standard', 18_000],
    ['dall-e-2', '1024x1024', 'standard', 20_000],
  ];

  it.each(cases)('%s %s %s = %i micros per image', (model, size, quality, micros) => {
    // No usage reported: one delivered image at its per-image price (under the reservation).
    expect(listPricing.finalPriceMicros(job(model, { size, quality }), 1)).toBe(micros);
    expect(listPricing.priceOf(spec(model)).perImage?.[size]?.[quality]).toBe(micros);
  });

  it('token prices per 1M tokens', () => {
    expect(DEFAULT_PRICES['gpt-image-1']?.tokens).toEqual({ textInput: 5_000_000, imageInput: 10_000_000, imageOutput: 40_000_000 });
    expect(DEFAULT_PRICES['gpt-image-1-mini']?.tokens).toEqual({ textInput: 2_000_000, imageInput: 2_500_000, imageOutput: 8_000_000 });
    expect(DEFAULT_PRICES['gpt-image-1.5']?.tokens).toEqual({ textInput: 5_000_000, imageInput: 8_000_000, imageOutput: 32_000_000, textOutput: 10_000_000 });
    expect(DEFAULT_PRICES['gpt-image-2']?.tokens).toEqual({ textInput: 5_000_000, imageInput: 8_000_000, imageOutput: 30_000_000, textOutput: 10_000_000 });
    expect(DEFAULT_PRICES['dall-e-3']?.tokens).toBeUndefined();
    expect(DEFAULT_PRICES['dall-e-2']?.tokens).toBeUndefined();
  });

  it('gpt-image-2 output tokens match every figure quoted from OpenAI’s calculator', () => {
    expect(gptImage2OutputTokens('high', 1024, 1024)).toBe(7_024);
    expect(gptImage2OutputTokens('high', 1536, 1024)).toBe(5_488);
    expect(gptImage2OutputTokens('high', 1792, 1024)).toBe(5_063);
    expect(gptImage2OutputTokens('high', 3584, 2048)).toBe(12_329);
    // And the per-image figures it shows, to the tenth of a cent: $0.006 / $0.053 / $0.211.
    expect([196, 1_756, 7_024].map((t) => Math.round((t * 30) / 1000) / 1000)).toEqual([0.006, 0.053, 0.211]);
    expect(gptImage2OutputTokens('auto', 1024, 1024)).toBeUndefined();
  });

  it('every catalogue model has a price for every size and quality it accepts', () => {
    for (const model of BUILTIN_MODELS) {
      expect(listPricing.maxPriceMicros(job(model, { size: 'auto', quality: 'auto' }))).toBeGreaterThan(0);
    }
  });
});

describe('fallback: relay names, snapshots and aliases', () => {
  it.each(['gpt-image-2-vip', 'gpt-image-2-pro', 'gpt-image-2-beta', 'gpt-image-2-2026-04-21', 'gpt-image-2-1k'])('%s is priced as gpt-image-2', (model) => {
    expect(listPricing.finalPriceMicros(job(model, { quality: 'medium' }), 1)).toBe(52_680);
    expect(listPricing.priceOf(spec(model))).toEqual(listPricing.priceOf(spec('gpt-image-2')));
  });

  it('the 2k and 4k relay names price their own sizes', () => {
    expect(listPricing.finalPriceMicros(job('gpt-image-2-2k', { size: '2048x2048', quality: 'medium' }), 1)).toBe(107_040);
    expect(listPricing.finalPriceMicros(job('gpt-image-2-4k', { size: '3840x2160', quality: 'high' }), 1)).toBe(400_260);
  });

  const aliases: ModelAlias[] = [
    { name: 'cheap', base: 'gpt-image-1-mini', upstreamModel: 'relay-mini-v2' },
    { name: 'cheaper', base: 'cheap' },
    { name: 'poster', base: 'gpt-image-2-vip' },
  ];
  const catalogue = ModelCatalogue.withAliases(aliases);

  it('an alias falls back to its base (and its base’s base), not to its upstream name or family', () => {
    const pricing = new Pricing(undefined, catalogue, aliases);
    expect(pricing.finalPriceMicros(job(spec('cheap', catalogue), { quality: 'low' }), 1)).toBe(5_000); // mini, not gpt-image-1's 11,000
    expect(pricing.finalPriceMicros(job(spec('cheaper', catalogue), { quality: 'low' }), 1)).toBe(5_000);
    expect(pricing.finalPriceMicros(job(spec('poster', catalogue), { quality: 'high' }), 1)).toBe(210_720);
  });

  it('without the alias list an alias still reaches its upstream model, then its family', () => {
    const pricing = new Pricing(undefined, catalogue);
    expect(pricing.finalPriceMicros(job(spec('poster', catalogue), { quality: 'high' }), 1)).toBe(210_720); // upstream gpt-image-2
    expect(pricing.finalPriceMicros(job(spec('cheap', catalogue), { quality: 'low' }), 1)).toBe(11_000); // family gpt-image-1
  });

  it('operator prices: cells inherit one by one; nearer names win; tokens are taken whole', () => {
    const overrides: PriceTable = {
      'gpt-image-2': { perImage: { '1024x1024': { high: 250_000 } } },
      'gpt-image-1': { perImage: { '1024x1024': { low: 1 } } },
      cheap: { perImage: { '1024x1024': { medium: 20_000 } }, tokens: null },
    };
    const pricing = new Pricing(overrides, catalogue, aliases);
    const vip = pricing.priceOf(spec('gpt-image-2-vip', catalogue));
    expect(vip.perImage?.['1024x1024']).toEqual({ low: 5_880, medium: 52_680, high: 250_000 });
    expect(vip.tokens).toEqual(DEFAULT_PRICES['gpt-image-2']?.tokens);
    // gpt-image-1's override does not reach gpt-image-1-mini, whose own list price is nearer.
    expect(pricing.priceOf(spec('gpt-image-1-mini', catalogue)).perImage?.['1024x1024']?.low).toBe(5_000);
    expect(pricing.priceOf(spec('gpt-image-1', catalogue)).perImage?.['1024x1024']?.low).toBe(1);
    const cheaper = pricing.priceOf(spec('cheaper', catalogue));
    expect(cheaper.perImage?.['1024x1024']).toEqual({ low: 5_000, medium: 20_000, high: 36_000 });
    expect(cheaper.tokens).toBeNull();
    // The list view ignores the operator.
    expect(pricing.priceOf(spec('cheaper', catalogue), 'list').perImage?.['1024x1024']?.medium).toBe(11_000);
  });

  it('overrides must name catalogue models', () => {
    expect(() => new Pricing({ 'gpt-image-9': { tokens: null } }, catalogue)).toThrow(/unknown model 'gpt-image-9'/);
  });
});

describe('maxPriceMicros: the reservation', () => {
  it('per-image models: n images at the job’s size and quality', () => {
    expect(listPricing.maxPriceMicros(job('dall-e-3', { size: '1792x1024', quality: 'hd' }))).toBe(120_000);
    expect(listPricing.maxPriceMicros(job('dall-e-2', { n: 4, size: '512x512', quality: 'standard' }))).toBe(4 * 18_000);
  });

  it('token models add the prompt: (UTF-8 bytes + 64) tokens at the text input price, per image', () => {
    // gpt-image-1 1024x1024 high, n=3: 3 x (167,000 + (20 + 64) x $5/1M) = 3 x (167,000 + 420)
    expect(listPricing.maxPriceMicros(job('gpt-image-1', { n: 3 }))).toBe(3 * (167_000 + 420));
    // Non-ASCII prompts count bytes: 'éé' is 4 bytes, '🙂' is 4: (8 + 64) x 5 = 360.
    expect(listPricing.maxPriceMicros(job('gpt-image-1', { prompt: 'éé🙂' }))).toBe(167_000 + 360);
  });

  it('auto quality reserves the most expensive quality; auto size the most expensive size', () => {
    // Each plus the prompt: 84 tokens x $5/1M = 420 (gpt-image-1-mini: x $2/1M = 168).
    const cases: [model: string, size: string, quality: string, reserved: number][] = [
      ['gpt-image-1', '1024x1024', 'auto', 167_000 + 420],
      ['gpt-image-1', 'auto', 'low', 16_000 + 420],
      ['gpt-image-1', 'auto', 'auto', 250_000 + 420],
      ['gpt-image-1-mini', 'auto', 'auto', 52_000 + 168],
      ['gpt-image-2', '1536x1024', 'auto', 164_640 + 420],
      // gpt-image-2's dearest size is 2048x2048 (14,272 tokens at high), not 4K (13,342).
      ['gpt-image-2', 'auto', 'auto', 428_160 + 420],
      // A relay name that narrows the sizes only considers its own.
      ['gpt-image-2-1k', 'auto', 'high', 210_720 + 420],
      ['dall-e-3', '1024x1024', 'auto', 80_000],
      ['dall-e-3', 'auto', 'auto', 120_000],
      ['dall-e-2', '256x256', 'auto', 16_000],
    ];
    for (const [model, size, quality, reserved] of cases) {
      expect(listPricing.maxPriceMicros(job(model, { size, quality })), `${model} ${size} ${quality}`).toBe(reserved);
    }
  });

  it('custom gpt-image-2 sizes scale the 1024x1024 price by output tokens', () => {
    // 1280x720 high: 3,787 tokens; 210,720 x 3,787 / 7,024 = 113,610 (= 3,787 x $30/1M).
    expect(listPricing.finalPriceMicros(job('gpt-image-2', { size: '1280x720' }), 1)).toBe(113_610);
    expect(listPricing.maxPriceMicros(job('gpt-image-2', { size: '1280x720', quality: 'auto' }))).toBe(113_610 + 420);
    // The operator's 1024x1024 price scales the same way: 300,000 x 3,787 / 7,024 = 161,745.44 -> 161,746.
    const pricing = new Pricing({ 'gpt-image-2': { perImage: { '1024x1024': { high: 300_000 } } } }, new ModelCatalogue(BUILTIN_MODELS));
    expect(pricing.finalPriceMicros(job('gpt-image-2', { size: '1280x720' }), 1)).toBe(161_746);
  });

  it('an operator price for size auto replaces the worst case of a per-image model', () => {
    const catalogue = new ModelCatalogue(BUILTIN_MODELS);
    const perImage = new Pricing({ 'gpt-image-1': { perImage: { auto: { high: 170_000 } }, tokens: null } }, catalogue);
    expect(perImage.maxPriceMicros(job('gpt-image-1', { size: 'auto' }))).toBe(170_000);
    // Low has no auto price of its own: worst case over the sizes.
    expect(perImage.maxPriceMicros(job('gpt-image-1', { size: 'auto', quality: 'low' }))).toBe(16_000);
    // While tokens are charged, the reservation still covers the list's worst case (6,240 tokens
    // of a 1536x1024 high image bill $0.2496 whatever the per-image table says).
    const tokens = new Pricing({ 'gpt-image-1': { perImage: { auto: { high: 170_000 } } } }, catalogue);
    expect(tokens.maxPriceMicros(job('gpt-image-1', { size: 'auto' }))).toBe(250_000 + 420);
    expect(tokens.finalPriceMicros(job('gpt-image-1', { size: 'auto' }), 1)).toBe(170_000); // no usage: the table
  });

  it('edits reserve their input images; streams their partial images', () => {
    // gpt-image-1, n=2, one 1024x1024 input, a 1024x1024 mask, 2 partial images per image:
    //   per image 167,000
    //   prompt (20 + 64) x $5/1M = 420
    //   inputs 2 x 3,050 tokens x $10/1M = 61,000
    //   partials 2 x 100 tokens x $40/1M = 8,000
    //   x 2 images = 2 x 236,420 = 472,840
    const edit = job('gpt-image-1', {
      operation: 'edit',
      n: 2,
      inputs: { images: [inputImage(1024, 1024)], mask: inputImage(1024, 1024) },
      stream: { partialImages: 2 },
    });
    expect(listPricing.maxPriceMicros(edit)).toBe(472_840);
    // Inputs above 2048x2048 count as 2048x2048: 4 x 3,050 = 12,200 tokens x $10/1M = 122,000.
    const big = job('gpt-image-1', { operation: 'edit', inputs: { images: [inputImage(4096, 4096)] } });
    expect(listPricing.maxPriceMicros(big)).toBe(167_000 + 420 + 122_000);
    // dall-e-2 edits are per image only.
    const dalle = job('dall-e-2', { operation: 'edit', quality: 'standard', inputs: { images: [inputImage(1024, 1024)] } });
    expect(listPricing.maxPriceMicros(dalle)).toBe(20_000);
  });

  it('raising only the token prices raises the reservation with them', () => {
    // image output $80/1M is twice the list's $40: reserve max(167,000, 167,000 x 80/40) = 334,000,
    // plus the prompt at the operator's text price: (20 + 64) x $6/1M = 504.
    const pricing = new Pricing(
      { 'gpt-image-1': { tokens: { textInput: 6_000_000, imageInput: 10_000_000, imageOutput: 80_000_000 } } },
      new ModelCatalogue(BUILTIN_MODELS),
    );
    expect(pricing.maxPriceMicros(job('gpt-image-1'))).toBe(334_000 + 504);
  });
});

describe('finalPriceMicros: the charge', () => {
  it('per image: only the delivered images are charged', () => {
    const fourAsked = job('dall-e-2', { n: 4, quality: 'standard' });
    expect(listPricing.finalPriceMicros(fourAsked, 1)).toBe(20_000);
    expect(listPricing.finalPriceMicros(fourAsked, 4)).toBe(80_000);
    expect(listPricing.finalPriceMicros(fourAsked, 0)).toBe(0);
    // An upstream that returned more than asked is charged for what was asked.
    expect(listPricing.finalPriceMicros(fourAsked, 6)).toBe(80_000);
    expect(() => listPricing.finalPriceMicros(fourAsked, -1)).toThrow(RangeError);
    // gpt-image-1 without usage (a relay that reports none): per image too.
    expect(listPricing.finalPriceMicros(job('gpt-image-1', { n: 4, quality: 'medium' }), 1)).toBe(42_000);
  });

  it('per image at the size and quality the upstream reports', () => {
    const auto = job('gpt-image-1', { size: 'auto', quality: 'auto' });
    expect(listPricing.maxPriceMicros(auto)).toBe(250_000 + 420);
    expect(listPricing.finalPriceMicros(auto, 1, undefined, { size: '1024x1024', quality: 'low' })).toBe(11_000);
    expect(listPricing.finalPriceMicros(auto, 1, undefined, { quality: 'medium' })).toBe(63_000); // size still auto: worst case
    // A size the model has no price for falls back to the job's.
    expect(listPricing.finalPriceMicros(auto, 1, undefined, { size: '640x480', quality: 'low' })).toBe(16_000);
  });

  it('tokens: gpt-image-1, 50 text tokens, no input image, 4,160 output tokens', () => {
    //   text input    50 tokens x  $5 / 1M = $0.00025
    //   image output 4,160 tokens x $40 / 1M = $0.1664
    //   total $0.16665 = 166,650 micros
    // In micros per 1M tokens: (50 x 5,000,000 + 4,160 x 40,000,000) / 1,000,000
    //   = (250,000,000 + 166,400,000,000) / 1,000,000 = 166,650.
    const charge = listPricing.finalPriceMicros(job('gpt-image-1'), 1, usage(50, 0, 4_160));
    expect(charge).toBe(166_650);
    expect(formatMicros(charge)).toBe('$0.16665');
    // Under the reservation (167,000 + 420), so not capped.
    expect(charge).toBeLessThan(listPricing.maxPriceMicros(job('gpt-image-1')));
  });

  it('tokens: image input, text output and rounding up to whole micros', () => {
    // gpt-image-1.5 edit: 7 text x $5 + 3,050 image x $8 + 1,056 image out x $32 + 11 text out x $10, per 1M:
    //   35 + 24,400 + 33,792 + 110 = 58,337 micros exactly.
    const edit = job('gpt-image-1.5', { operation: 'edit', quality: 'medium', inputs: { images: [inputImage(1024, 1024)] } });
    const reported: ImageUsage = {
      ...usage(7, 3_050, 1_067),
      output_tokens_details: { image_tokens: 1_056, text_tokens: 11 },
    };
    expect(listPricing.finalPriceMicros(edit, 1, reported)).toBe(58_337);
    // gpt-image-1-mini: 3 text tokens x $2/1M = 6 micros; 1 output token x $8/1M = 8 micros: 14.
    // 1 text token x $2/1M = 2 micros; 1 input-image token x $2.5/1M = 2.5 -> 3 (rounded up).
    expect(listPricing.finalPriceMicros(job('gpt-image-1-mini'), 1, usage(3, 0, 1))).toBe(14);
    expect(listPricing.finalPriceMicros(job('gpt-image-1-mini'), 1, usage(0, 1, 0))).toBe(3);
  });

  it('tokens without details: input tokens are image tokens when the job had input images', () => {
    const bare: ImageUsage = { total_tokens: 1_100, input_tokens: 100, output_tokens: 1_000 };
    // 100 x $5 + 1,000 x $40 per 1M = 500 + 40,000
    expect(listPricing.finalPriceMicros(job('gpt-image-1'), 1, bare)).toBe(40_500);
    const edit = job('gpt-image-1', { operation: 'edit', inputs: { images: [inputImage(1024, 1024)] } });
    // 100 x $10 + 1,000 x $40 per 1M = 1,000 + 40,000
    expect(listPricing.finalPriceMicros(edit, 1, bare)).toBe(41_000);
  });

  it('malformed usage falls back to the per-image price', () => {
    const broken = { total_tokens: 1, input_tokens: -1, output_tokens: 2 } as ImageUsage;
    expect(listPricing.finalPriceMicros(job('gpt-image-1', { quality: 'low' }), 1, broken)).toBe(11_000);
  });

  it('tokens: null charges per image even when the upstream reports usage', () => {
    const pricing = new Pricing({ 'gpt-image-1': { tokens: null } }, new ModelCatalogue(BUILTIN_MODELS));
    expect(pricing.finalPriceMicros(job('gpt-image-1'), 1, usage(50, 0, 4_160))).toBe(167_000);
    expect(pricing.maxPriceMicros(job('gpt-image-1'))).toBe(167_000); // no token estimates either
  });

  it('the charge never exceeds the reservation for the delivered images', () => {
    // Asked for low (reserved 11,000 + 420) but the upstream billed high-quality tokens.
    const low = job('gpt-image-1', { quality: 'low' });
    expect(listPricing.finalPriceMicros(low, 1, usage(50, 0, 4_160))).toBe(11_420);
    // n=4 reserved 4 x 167,420; tokens for 4 images, but only 1 delivered: capped at 1 image's reservation.
    const four = job('gpt-image-1', { n: 4 });
    expect(listPricing.finalPriceMicros(four, 1, usage(50, 0, 4 * 4_160))).toBe(167_420);
    // All 4 delivered: 50 x $5/1M + 16,640 x $40/1M = 250 + 665,600, under the 4 x 167,420 reserved.
    expect(listPricing.finalPriceMicros(four, 4, usage(50, 0, 4 * 4_160))).toBe(665_850);
    // A relay that answered a bigger size than asked, no usage: capped at the asked size.
    expect(listPricing.finalPriceMicros(low, 1, undefined, { size: '1536x1024', quality: 'low' })).toBe(11_420);
    for (const j of [low, four]) {
      expect(listPricing.finalPriceMicros(j, j.n, usage(10_000, 10_000, 100_000))).toBe(listPricing.maxPriceMicros(j));
    }
  });
});

describe('costMicros: the operator’s cost', () => {
  it('list prices times the channel’s cost ratio', () => {
    // The token example above at list, x 0.8: 166,650 x 0.8 = 133,320.
    expect(listPricing.costMicros(job('gpt-image-1'), 1, usage(50, 0, 4_160), undefined, 0.8)).toBe(133_320);
    expect(listPricing.costMicros(job('gpt-image-1'), 1, usage(50, 0, 4_160))).toBe(166_650);
    // Per image: dall-e-3 hd 1024x1792 = 120,000 x 0.8 = 96,000.
    expect(listPricing.costMicros(job('dall-e-3', { size: '1024x1792', quality: 'hd' }), 1, undefined, undefined, 0.8)).toBe(96_000);
    expect(listPricing.costMicros(job('dall-e-3'), 0, undefined, undefined, 0.8)).toBe(0);
    expect(() => listPricing.costMicros(job('dall-e-3'), 1, undefined, undefined, -1)).toThrow(RangeError);
  });

  it('ignores the operator’s prices and is not capped: margin = price - cost', () => {
    const pricing = new Pricing(
      { 'gpt-image-1': { perImage: { '1024x1024': { low: 20_000 } }, tokens: { textInput: 10_000_000, imageInput: 20_000_000, imageOutput: 80_000_000 } } },
      new ModelCatalogue(BUILTIN_MODELS),
    );
    const j = job('gpt-image-1');
    const used = usage(50, 0, 4_160);
    const price = pricing.finalPriceMicros(j, 1, used); // (50 x 10 + 4,160 x 80) = 333,300
    const cost = pricing.costMicros(j, 1, used, undefined, 0.8); // 166,650 x 0.8 = 133,320
    expect([price, cost, price - cost]).toEqual([333_300, 133_320, 199_980]);
    // Asked for low, billed high: the client pays at most its reservation, the operator pays the upstream.
    const low = job('gpt-image-1', { quality: 'low' });
    expect(pricing.finalPriceMicros(low, 1, used)).toBe(pricing.maxPriceMicros(low)); // max(20,000, 11,000 x 2) + 84 x 10 = 22,840
    expect(pricing.maxPriceMicros(low)).toBe(22_840);
    expect(pricing.costMicros(low, 1, used)).toBe(166_650);
  });
});

describe('config: pricing', () => {
  async function load(pricing: unknown, models?: unknown): Promise<ReturnType<typeof loadConfig>> {
    return loadConfig({ IMAGEGATE_CONFIG: await writeConfigFile({ ...(models ? { models } : {}), pricing }) });
  }

  async function error(pricing: unknown, models?: unknown): Promise<string> {
    try {
      await load(pricing, models);
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    throw new Error('expected a ConfigError');
  }

  it('is unset without a pricing section', () => {
    expect(loadConfig({}).pricing).toBeUndefined();
  });

  it('USD in the file become micros; aliases may be priced', async () => {
    const config = await load(
      {
        'gpt-image-2': {
          per_image: { '1024x1024': { low: 0.01, medium: 0.04, high: 0.16 }, '1536x1024': { high: 0.24 }, '1280x720': { high: 0.1 }, auto: { medium: 0.05 } },
        },
        'my-alias': { tokens: { text_input: 5, image_input: 10, image_output: 40, text_output: 10 } },
        'dall-e-3': { per_image: { '1024x1024': { standard: 0.05, auto: 0.05 } } },
        'gpt-image-1': { tokens: null },
      },
      [{ name: 'my-alias', base: 'gpt-image-1' }],
    );
    expect(config.pricing).toEqual({
      'gpt-image-2': {
        perImage: {
          '1024x1024': { low: 10_000, medium: 40_000, high: 160_000 },
          '1536x1024': { high: 240_000 },
          '1280x720': { high: 100_000 },
          auto: { medium: 50_000 },
        },
      },
      'my-alias': { tokens: { textInput: 5_000_000, imageInput: 10_000_000, imageOutput: 40_000_000, textOutput: 10_000_000 } },
      'dall-e-3': { perImage: { '1024x1024': { standard: 50_000, auto: 50_000 } } },
      'gpt-image-1': { tokens: null },
    });
    // And Pricing takes it as it is.
    const catalogue = ModelCatalogue.withAliases(config.modelAliases);
    const pricing = new Pricing(config.pricing, catalogue, config.modelAliases);
    expect(pricing.finalPriceMicros(job('gpt-image-2', { size: '1536x1024' }), 1)).toBe(240_000);
    expect(pricing.finalPriceMicros(job(spec('my-alias', catalogue)), 1, usage(50, 0, 4_160))).toBe(166_650);
  });

  it('usdToMicros rounds to whole micros', () => {
    expect([usdToMicros(0.011), usdToMicros(0.0000004), usdToMicros(0.0000005), usdToMicros(1.5)]).toEqual([11_000, 0, 1, 1_500_000]);
    expect([formatMicros(1_500_000), formatMicros(0), formatMicros(5), formatMicros(-250_000)]).toEqual(['$1.50', '$0.00', '$0.000005', '-$0.25']);
  });

  const cases: [what: string, pricing: unknown, message: string][] = [
    ['not a mapping', ['gpt-image-2'], 'IMAGEGATE_CONFIG: pricing must be a mapping of model names to prices'],
    [
      'an unknown model',
      { 'gpt-image-9': { tokens: null } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-9: unknown model (price a built-in model or a name from models:)',
    ],
    ['an entry that is not a mapping', { 'gpt-image-2': 0.04 }, 'IMAGEGATE_CONFIG: pricing.gpt-image-2: must be a mapping with per_image and/or tokens'],
    ['an empty entry', { 'gpt-image-2': {} }, 'IMAGEGATE_CONFIG: pricing.gpt-image-2: sets neither per_image nor tokens'],
    ['an unknown key', { 'gpt-image-2': { perImage: {} } }, 'IMAGEGATE_CONFIG: pricing.gpt-image-2.perImage: unknown key (use per_image or tokens)'],
    [
      'per_image not a mapping',
      { 'gpt-image-2': { per_image: 0.04 } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-2.per_image: must be a mapping of sizes (WIDTHxHEIGHT or auto) to { quality: USD }',
    ],
    [
      'a size that is not WxH',
      { 'gpt-image-2': { per_image: { big: { high: 1 } } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-2.per_image.big: a size must be WIDTHxHEIGHT or auto',
    ],
    [
      'a size the family does not have',
      { 'dall-e-3': { per_image: { '512x512': { standard: 0.01 } } } },
      'IMAGEGATE_CONFIG: pricing.dall-e-3.per_image.512x512: not a size of dall-e-3 models (use 1024x1024, 1792x1024, 1024x1792)',
    ],
    [
      'an invalid gpt-image-2 size',
      { 'gpt-image-2-vip': { per_image: { '1000x1000': { high: 0.1 } } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-2-vip.per_image.1000x1000: not a valid gpt-image-2 size: both edges must be multiples of 16',
    ],
    [
      'an unknown quality',
      { 'gpt-image-1': { per_image: { '1024x1024': { hd: 0.1 } } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.per_image.1024x1024.hd: unknown quality for gpt-image-1 models (use auto, low, medium, high)',
    ],
    [
      'a negative price',
      { 'gpt-image-1': { per_image: { '1024x1024': { low: -0.01 } } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.per_image.1024x1024.low: must be a number of USD from 0 to 1000000 (got -0.01)',
    ],
    [
      'a price as a string',
      { 'gpt-image-1': { per_image: { '1024x1024': { low: '0.01' } } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.per_image.1024x1024.low: must be a number of USD from 0 to 1000000 (got "0.01")',
    ],
    [
      'an empty quality row',
      { 'gpt-image-1': { per_image: { '1024x1024': {} } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.per_image.1024x1024: must be a mapping of qualities (auto, low, medium, high) to USD',
    ],
    [
      'a missing token price',
      { 'gpt-image-1': { tokens: { text_input: 5, image_output: 40 } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.tokens.image_input: is required (USD per 1M tokens)',
    ],
    [
      'an unknown token key',
      { 'gpt-image-1': { tokens: { text_input: 5, image_input: 10, image_output: 40, cached_input: 1 } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.tokens.cached_input: unknown key (use text_input, image_input, image_output, text_output)',
    ],
    [
      'an infinite token price',
      { 'gpt-image-1': { tokens: { text_input: 5, image_input: 10, image_output: Number.POSITIVE_INFINITY } } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.tokens.image_output: must be a number of USD from 0 to 1000000 (got Infinity)',
    ],
    ['tokens on dall-e', { 'dall-e-3': { tokens: null } }, 'IMAGEGATE_CONFIG: pricing.dall-e-3.tokens: dall-e-3 models are priced per image only'],
    [
      'tokens not a mapping',
      { 'gpt-image-1': { tokens: 40 } },
      'IMAGEGATE_CONFIG: pricing.gpt-image-1.tokens: must be a mapping { text_input, image_input, image_output } of USD per 1M tokens, or null',
    ],
  ];

  it.each(cases)('refuses %s', async (_what, pricing, message) => {
    expect(await error(pricing)).toBe(message);
  });

  it('checks an alias against its base’s family', async () => {
    expect(await error({ poster: { per_image: { '1024x1024': { standard: 0.04 } } } }, [{ name: 'poster', base: 'gpt-image-2' }])).toBe(
      'IMAGEGATE_CONFIG: pricing.poster.per_image.1024x1024.standard: unknown quality for gpt-image-2 models (use auto, low, medium, high)',
    );
  });
});
