/**
 * OpenAI's public list prices for every catalogue model, in micro-dollars (1 USD = 1,000,000).
 * They are the client price unless the operator's `pricing:` overrides them, and always the
 * operator's cost basis (times a channel's cost_ratio). Pure data.
 *
 * Sources (checked 2026; openai.com itself is not in the reference corpus, so these are
 * pages quoting OpenAI's pricing page / model pages / image calculator, each cross-checked
 * against at least one other):
 * - gpt-image-1: per image 0.011/0.042/0.167 (1024x1024) and 0.016/0.063/0.25 (1024x1536,
 *   1536x1024); tokens $5 text in, $10 image in, $40 image out per 1M. burncloud.com and
 *   findllms.com model pages; fal.ai; community.openai.com/t/1275254 (output token counts).
 * - gpt-image-1-mini: 0.005/0.011/0.036 and 0.006/0.015/0.052; tokens $2 / $2.50 / $8.
 *   aifreeapi.com (gpt-image-1-mini pricing, Mar 2026), howtonotcode.com, docs.apiyi.com.
 * - gpt-image-1.5: 0.009/0.034/0.133 and 0.013/0.05/0.2; tokens $5 / $8 / $32 (text output
 *   $10). llmreference.com, aifreeapi.com, imagine.art (quoting the pricing page).
 * - gpt-image-2: tokens $5 text in, $8 image in, $30 image out (text output $10) per 1M:
 *   xairouter.com ("updated from OpenAI's official model page ... and pricing page"),
 *   llmreference.com, robotsatlas.com, ai-primer.com. OpenAI publishes no per-image table
 *   for it, only a calculator in the image generation guide; its output token count is
 *   `gptImage2OutputTokens` below (community.openai.com/t/1382699, which reproduces the
 *   calculator's code; it matches every calculator figure quoted in
 *   community.openai.com/t/1379464: 1024x1024 high 7,024 tokens, 1536x1024 5,488,
 *   1792x1024 5,063, 3584x2048 12,329). Per-image prices here are those tokens x $30/1M,
 *   rounded up to whole micros, e.g. 1024x1024 low/medium/high = $0.00588/$0.05268/$0.21072
 *   (OpenAI's calculator shows $0.006/$0.053/$0.211), 1024x1536 = $0.00474/$0.04116/$0.16464
 *   ($0.005/$0.041/$0.165). Larger sizes cost far less than their pixel count suggests:
 *   3840x2160 high is 13,342 tokens ($0.40026), not 7.9 x the 1024x1024 price.
 * - dall-e-3: standard 0.04 (1024x1024) / 0.08 (1792x1024, 1024x1792); hd 0.08 / 0.12.
 * - dall-e-2: 0.016 (256x256), 0.018 (512x512), 0.02 (1024x1024).
 *   Both from docs.dev.xavier.icvr.xyz model pages (quoting OpenAI) and OpenAI's long-standing
 *   list; unchanged since 2023.
 * The gpt-image-2 snapshot and relay names (gpt-image-2-vip, -pro, -beta, -1k, -2k, -4k, the
 * dated snapshot) have no entry: Pricing falls back from them to their upstream model
 * gpt-image-2. Cached-input discounts are not modelled (usage does not report cached tokens
 * for the Image API), so cached tokens are priced as uncached: the client never pays less
 * than the list, the operator may pay less.
 *
 * Recraft (per image, the same at every size; raster and vector models are priced apart, 1,000
 * API units = $1): Recraft's API price list, recraft.ai/docs/api-reference/pricing (V3 raster
 * $0.04, V3 vector $0.08, V2 raster $0.022, V2 vector $0.044, V4.1 $0.035, V4.1 Pro $0.21), and
 * its model pages recraft.ai/docs/api-reference/models/recraft-v4 (V4 $0.04, V4 Vector $0.08,
 * V4 Pro $0.25, V4 Pro Vector $0.30) and .../recraft-v4-1 (V4.1 Vector $0.08). Recraft has no
 * quality: its one column is the catalogue's default quality, `standard`.
 *
 * Midjourney (no vendor API price: relays' per-job prices, new-api's mj_imagine $0.10 and mj_upscale
 * $0.05, read 2026-11-30): catalogue/midjourney.ts, per image and quality (standard: a quarter of an
 * imagine; hd: that and one upscale).
 *
 * Google (per 1M tokens for Gemini's image models, per image for Imagen; Google's Gemini Developer
 * API price list, ai.google.dev/gemini-api/docs/pricing, as quoted by discuss.ai.google.dev/t/101173
 * and aifreeapi.com's Gemini 3 Pro Image pages, checked 2026; Vertex AI lists the same):
 * - gemini-2.5-flash-image: input (text, image) $0.30, text output $2.50, image output $30; an image
 *   is 1,290 output tokens at every size, $0.039;
 * - gemini-3-pro-image-preview: input $2, text output (thinking included) $12, image output $120; an
 *   image is 1,120 tokens at 1K and 2K ($0.134), 2,000 at 4K ($0.24);
 * - Imagen 4 Fast $0.02, Imagen 4 $0.04, Imagen 4 Ultra $0.06 per image, at 1K and 2K alike.
 * Gemini's per-image cells are what its token counts cost (charged by tokens when the answer
 * reports them); `auto` is priced as 1K, the size Gemini makes when no ratio or tier is sent.
 *
 * ByteDance Seedream (per image, the same at every size; custom sizes too, core/pricing.ts): BytePlus
 * ModelArk's USD list, as quoted by relays that mirror it (docs.gogogotoken.ai "BytePlus ModelArk
 * official USD list, 2026-06": 5.0 Lite $0.035, 4.5 $0.04; vercel.com/ai-gateway and docs.apiyi.com:
 * 4.0 $0.03; docs.dev.xavier.icvr.xyz's BytePlus model pages: 3.0 $0.03, 4.0 $0.03, 4.5 $0.04,
 * 5.0 $0.035). One relay (help.apiyi.com) gives 4.5 as $0.045: the list's $0.04 is kept. Volcengine
 * Ark bills in CNY (4.0 ¥0.2 per image, docs.kapon.cloud): set an ark channel's cost_ratio to its
 * price over these. Ark reports tokens too (usage.output_tokens) but bills per image: no token prices.
 *
 * Alibaba DashScope (Model Studio's Models page, international deployment (Singapore), per
 * successfully generated image, the same at every size; mainland China (Beijing) lists prices in
 * CNY, set a channel's cost_ratio for it): qwen-image $0.035, qwen-image-plus $0.03,
 * qwen-image-edit $0.045, qwen-image-edit-plus $0.03, wan2.5-t2i-preview $0.03, wan2.2-t2i-flash
 * $0.025, wan2.2-t2i-plus $0.05, wanx2.1-t2i-turbo $0.025, wanx2.1-t2i-plus $0.05; wanx2.1-imageedit,
 * offered in mainland China only, $0.02007 (its API reference's USD price). DashScope has
 * no quality: the one column is `standard`, as Recraft's.
 *
 * Black Forest Labs FLUX (BFL's pricing page, read 2026-11-30): catalogue/bfl.ts holds the rates and
 * their source; FLUX.2 per megapixel of output, each listed size its own figure (a custom size
 * costs its listed sizes' dearest, as Seedream's; an edit's input megapixels are not added), the
 * FLUX.1 models one price per image.
 *
 * Stability AI (credits per successful call, 1 credit = $0.01, read 2026-11-30): catalogue/stability.ts
 * holds them and their source; one price per image at every size (Ultra $0.08, SD 3.5 Large $0.065,
 * Large Turbo $0.04, Medium $0.035, Flash $0.025, Core $0.03; the Inpaint and Search and Replace
 * services, each its own model, $0.05).
 */
import { MIDJOURNEY_PRICES_USD } from './catalogue/midjourney.js';
import { BUILTIN_MODELS, GEMINI_25_FLASH_IMAGE_SIZES, GEMINI_3_PRO_IMAGE_SIZES, VENDOR_PRICES_USD, type GoogleSizeTable } from './models.js';
import type { PriceTable, TokenPrices } from './pricing.js';
import { FLUX2_RATES, flux2PriceUsd, type Flux2Rates } from './catalogue/bfl.js';
import { parseSize } from './sizes.js';

/** micros from a USD literal; Math.round because 0.011 * 1e6 is 11000.000000000002. */
const usd = (value: number): number => Math.round(value * 1_000_000);

type Cells = Record<string, number>;

/** The same three-quality row for the two 1.5-megapixel sizes. */
function gptTable(square: [number, number, number], oblong: [number, number, number]): Record<string, Cells> {
  const row = ([low, medium, high]: [number, number, number]): Cells => ({ low: usd(low), medium: usd(medium), high: usd(high) });
  return { '1024x1024': row(square), '1536x1024': row(oblong), '1024x1536': row(oblong) };
}

const tokens = (textInput: number, imageInput: number, imageOutput: number, textOutput?: number): TokenPrices => ({
  textInput: usd(textInput),
  imageInput: usd(imageInput),
  imageOutput: usd(imageOutput),
  ...(textOutput !== undefined ? { textOutput: usd(textOutput) } : {}),
});

/** One price at every size a catalogue model takes (Recraft's and DashScope's models: one price per image). */
function flatPrice(modelId: string, price: number): Record<string, Cells> {
  const spec = BUILTIN_MODELS.find((m) => m.id === modelId);
  if (!spec) throw new Error(`no catalogue model ${modelId} to price`);
  return Object.fromEntries(spec.capabilities.sizes.map((size) => [size, { [spec.capabilities.defaultQuality]: usd(price) }]));
}

const RECRAFT_PRICES: Readonly<Record<string, number>> = {
  recraftv4_1: 0.035,
  recraftv4_1_vector: 0.08,
  recraftv4_1_pro: 0.21,
  recraftv4: 0.04,
  recraftv4_vector: 0.08,
  recraftv4_pro: 0.25,
  recraftv4_pro_vector: 0.3,
  recraftv3: 0.04,
  recraftv3_vector: 0.08,
  recraftv2: 0.022,
  recraftv2_vector: 0.044,
};

const DASHSCOPE_PRICES: Readonly<Record<string, number>> = {
  'qwen-image': 0.035,
  'qwen-image-plus': 0.03,
  'qwen-image-edit': 0.045,
  'qwen-image-edit-plus': 0.03,
  'wan2.5-t2i-preview': 0.03,
  'wan2.2-t2i-flash': 0.025,
  'wan2.2-t2i-plus': 0.05,
  'wanx2.1-t2i-turbo': 0.025,
  'wanx2.1-t2i-plus': 0.05,
  'wanx2.1-imageedit': 0.02007,
};

/** One price per quality at every size a catalogue model takes (Midjourney's: standard and hd). */
function perQualityPrice(modelId: string, perQuality: Readonly<Record<string, number>>): Record<string, Cells> {
  const spec = BUILTIN_MODELS.find((m) => m.id === modelId);
  if (!spec) throw new Error(`no catalogue model ${modelId} to price`);
  const cells = Object.fromEntries(Object.entries(perQuality).map(([quality, price]) => [quality, usd(price)]));
  return Object.fromEntries(spec.capabilities.sizes.map((size) => [size, cells]));
}

/** Seedream, per image (BytePlus ModelArk's USD list; see the sources above). */
const SEEDREAM_PRICES: Readonly<Record<string, number>> = {
  'seedream-5.0-lite': 0.035,
  'seedream-4.5': 0.04,
  'seedream-4.0': 0.03,
  'seedream-3.0': 0.03,
};

/** Google's Gemini image models: tokens per the list, and the per-image cells (1K, 2K, 4K) those tokens make. */
function geminiTable(modelId: string, perTier: Readonly<Record<string, number>>, table: GoogleSizeTable): Record<string, Cells> {
  const spec = BUILTIN_MODELS.find((m) => m.id === modelId);
  if (!spec) throw new Error(`no catalogue model ${modelId} to price`);
  const quality = spec.capabilities.defaultQuality;
  const cells: Record<string, Cells> = { auto: { [quality]: usd(perTier['1K'] ?? 0) } };
  for (const row of Object.values(table)) for (const [tier, size] of Object.entries(row)) cells[size] = { [quality]: usd(perTier[tier] ?? 0) };
  return cells;
}

/** FLUX.2, priced per megapixel (catalogue/bfl.ts): each listed size's figure, rounded up to micros; `auto` the largest. */
function flux2Table(modelId: string, rates: Flux2Rates): Record<string, Cells> {
  const spec = BUILTIN_MODELS.find((m) => m.id === modelId);
  if (!spec) throw new Error(`no catalogue model ${modelId} to price`);
  const quality = spec.capabilities.defaultQuality;
  const cells: Record<string, Cells> = {};
  for (const size of spec.capabilities.sizes) {
    const dims = parseSize(size);
    if (dims) cells[size] = { [quality]: Math.ceil(flux2PriceUsd(rates, dims.width, dims.height) * 1_000_000 - 1e-6) };
  }
  return cells;
}

const IMAGEN_PRICES: Readonly<Record<string, number>> = {
  'imagen-4.0-generate-001': 0.04,
  'imagen-4.0-ultra-generate-001': 0.06,
  'imagen-4.0-fast-generate-001': 0.02,
};

/** gpt-image-2's quality factor in OpenAI's calculator. */
const GPT_IMAGE_2_QUALITY_FACTORS: Readonly<Record<string, number>> = { low: 16, medium: 48, high: 96 };

/**
 * Image output tokens of one gpt-image-2 image: OpenAI's image calculator (see the sources
 * above). Integer arithmetic throughout, as in the calculator. Undefined for a quality it
 * does not know (`auto` is the caller's to expand).
 */
export function gptImage2OutputTokens(quality: string, width: number, height: number): number | undefined {
  const factor = GPT_IMAGE_2_QUALITY_FACTORS[quality];
  if (factor === undefined) return undefined;
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  const shortFactor = Math.floor((2 * factor * short + long) / (2 * long));
  // At most 96 * 96 * (2e6 + 8.3e6) ~ 9.5e10: exact in a double.
  return Math.ceil((factor * shortFactor * (2_000_000 + width * height)) / 4_000_000);
}

/**
 * How a custom size's price relates to the 1024x1024 price at the same quality: the ratio of their
 * output tokens. A quality the calculator does not know (an operator's new tier, e.g. `xhigh`)
 * scales as the highest one it knows: the ratio depends on the shape far more than on the factor.
 */
export function gptImage2SizeScale(quality: string, width: number, height: number): { tokens: number; referenceTokens: number } {
  const known = GPT_IMAGE_2_QUALITY_FACTORS[quality] !== undefined ? quality : TOP_QUALITY;
  return { tokens: gptImage2OutputTokens(known, width, height) ?? 1, referenceTokens: gptImage2OutputTokens(known, 1024, 1024) ?? 1 };
}

const TOP_QUALITY = Object.entries(GPT_IMAGE_2_QUALITY_FACTORS).reduce((top, entry) => (entry[1] > top[1] ? entry : top))[0];

export const GPT_IMAGE_2_OUTPUT_PER_MILLION = usd(30);

/** gpt-image-2's enumerated sizes, priced as output tokens x $30/1M rounded up to micros. */
function gptImage2Table(): Record<string, Cells> {
  const sizes = ['1024x1024', '1536x1024', '1024x1536', '2048x2048', '2048x1152', '3840x2160', '2160x3840'];
  const table: Record<string, Cells> = {};
  for (const size of sizes) {
    const [width, height] = size.split('x').map(Number) as [number, number];
    const cells: Cells = {};
    for (const quality of Object.keys(GPT_IMAGE_2_QUALITY_FACTORS)) {
      const outputTokens = gptImage2OutputTokens(quality, width, height) ?? 0;
      cells[quality] = Math.ceil((outputTokens * GPT_IMAGE_2_OUTPUT_PER_MILLION) / 1_000_000);
    }
    table[size] = cells;
  }
  return table;
}

export const DEFAULT_PRICES: PriceTable = {
  'gpt-image-2': {
    perImage: gptImage2Table(),
    tokens: tokens(5, 8, 30, 10),
  },
  'gpt-image-1.5': {
    perImage: gptTable([0.009, 0.034, 0.133], [0.013, 0.05, 0.2]),
    tokens: tokens(5, 8, 32, 10),
  },
  'gpt-image-1': {
    perImage: gptTable([0.011, 0.042, 0.167], [0.016, 0.063, 0.25]),
    tokens: tokens(5, 10, 40),
  },
  'gpt-image-1-mini': {
    perImage: gptTable([0.005, 0.011, 0.036], [0.006, 0.015, 0.052]),
    tokens: tokens(2, 2.5, 8),
  },
  'dall-e-3': {
    perImage: {
      '1024x1024': { standard: usd(0.04), hd: usd(0.08) },
      '1792x1024': { standard: usd(0.08), hd: usd(0.12) },
      '1024x1792': { standard: usd(0.08), hd: usd(0.12) },
    },
  },
  'dall-e-2': {
    perImage: {
      '256x256': { standard: usd(0.016) },
      '512x512': { standard: usd(0.018) },
      '1024x1024': { standard: usd(0.02) },
    },
  },
  ...Object.fromEntries(Object.entries(RECRAFT_PRICES).map(([model, price]) => [model, { perImage: flatPrice(model, price) }])),
  'gemini-2.5-flash-image': {
    perImage: geminiTable('gemini-2.5-flash-image', { '1K': 0.039 }, GEMINI_25_FLASH_IMAGE_SIZES),
    tokens: tokens(0.3, 0.3, 30, 2.5),
  },
  'gemini-3-pro-image-preview': {
    perImage: geminiTable('gemini-3-pro-image-preview', { '1K': 0.134, '2K': 0.134, '4K': 0.24 }, GEMINI_3_PRO_IMAGE_SIZES),
    tokens: tokens(2, 2, 120, 12),
  },
  ...Object.fromEntries(Object.entries(IMAGEN_PRICES).map(([model, price]) => [model, { perImage: flatPrice(model, price) }])),
  ...Object.fromEntries(Object.entries(SEEDREAM_PRICES).map(([model, price]) => [model, { perImage: flatPrice(model, price) }])),
  ...Object.fromEntries(Object.entries(DASHSCOPE_PRICES).map(([model, price]) => [model, { perImage: flatPrice(model, price) }])),
  ...Object.fromEntries(Object.entries(MIDJOURNEY_PRICES_USD).map(([model, prices]) => [model, { perImage: perQualityPrice(model, prices) }])),
  ...Object.fromEntries(Object.entries(VENDOR_PRICES_USD).map(([model, price]) => [model, { perImage: flatPrice(model, price) }])),
  ...Object.fromEntries(Object.entries(FLUX2_RATES).map(([model, rates]) => [model, { perImage: flux2Table(model, rates) }])),
};
