/**
 * The model catalogue: every public model name, the family it started from, the upstream model it
 * becomes, the defaults it fills in, and its capabilities: every rule the gateway applies to a
 * model (sizes, qualities, n, output options, streaming, input images, variations, style, what
 * api.openai.com accepts, how it is billed) is a field here. Code elsewhere reads these fields and
 * never compares a family name or a model id. Pure data plus lookups.
 *
 * An operator adds names from the config file's `models:` list: an alias of a catalogue model, or
 * a new model with its base's capabilities plus overrides (`capabilities:`, parsed here by
 * parseCapabilityOverrides with the same keys GET /v1/models/{id} shows).
 */
import type { AspectRatio } from './aspect-ratio.js';
import { VENDOR_MODEL_DEFAULTS, type VendorModel, WHOLE_IMAGE_STREAMING } from './catalogue/vendor-catalogue.js';
import type { InputFormat } from './image-input.js';
import type { Background, Moderation, OutputFormat } from './job.js';
import { BFL_CATALOGUE } from './catalogue/bfl.js';
import { IDEOGRAM_CATALOGUE } from './catalogue/ideogram.js';
import { MIDJOURNEY_CATALOGUE } from './catalogue/midjourney.js';
import { STABILITY_CATALOGUE } from './catalogue/stability.js';
import { formatSize, GPT_IMAGE_2_LIMITS, parseSize, type CustomSizeLimits } from './sizes.js';

/** A catalogue label: which built-in rule set a model started from (pricing falls back to it by name). */
export type ModelFamily =
  | 'gpt-image-2'
  | 'gpt-image-1'
  | 'dall-e-2'
  | 'dall-e-3'
  | 'seedream-5.0-lite'
  | 'seedream-4.5'
  | 'seedream-4.0'
  | 'seedream-3.0'
  | 'recraft-v4'
  | 'recraft-v4-vector'
  | 'recraft-v4-pro'
  | 'recraft-v4-pro-vector'
  | 'recraft-v3'
  | 'recraft-v3-vector'
  | 'recraft-v2'
  | 'gemini-2.5-flash-image'
  | 'gemini-3-pro-image'
  | 'imagen-4'
  | 'imagen-4-fast'
  | 'recraft-v2-vector'
  | 'qwen-image'
  | 'qwen-image-edit'
  | 'qwen-image-edit-plus'
  | 'wan-t2i'
  | 'wan2.5-t2i'
  | 'wanx-imageedit'
  | VendorCatalogueFamily;

/** The vendors whose part of the catalogue lives in its own file (core/catalogue/). */
const VENDOR_CATALOGUES = [BFL_CATALOGUE, IDEOGRAM_CATALOGUE, STABILITY_CATALOGUE, MIDJOURNEY_CATALOGUE] as const;

type VendorCatalogueFamily =
  | keyof typeof BFL_CATALOGUE.rules
  | keyof typeof IDEOGRAM_CATALOGUE.rules
  | keyof typeof STABILITY_CATALOGUE.rules
  | keyof typeof MIDJOURNEY_CATALOGUE.rules;

/**
 * Whose API makes a model. A channel that speaks one vendor's own API (openai, azure-openai:
 * OpenAI's; recraft: Recraft's; gemini, vertex-ai: Google's two image APIs, generateContent and
 * Imagen's predict) serves only that vendor's models, whatever its `models` list says;
 * relays (openai-compatible, newapi-async, task-api) may front any vendor.
 */
export type ModelVendor =
  | 'openai'
  | 'recraft'
  | 'google-gemini'
  | 'google-imagen'
  | 'bytedance'
  | 'dashscope'
  | 'bfl'
  | 'ideogram'
  | 'stability'
  | 'midjourney';

/** What a model accepts as input images for one operation (OpenAI's documented limits). */
export interface InputRules {
  readonly maxImages: number;
  readonly maxBytesEach: number;
  readonly formats: readonly InputFormat[];
  /** The image must be square (dall-e-2). */
  readonly square: boolean;
  /** Edits without a mask: the image's own transparency is the mask (dall-e-2). */
  readonly alphaWithoutMask: boolean;
  /** Bounds on the dimensions an image's header declares, checked before anything decodes it. */
  readonly maxSide: number;
  readonly maxPixels: number;
}

/** How a model may be billed: per image (always), and by tokens when the upstream reports usage. */
export type PriceUnit = 'image' | 'token';

/** Everything the gateway checks or fills in for a model. */
export interface ModelCapabilities {
  /** Enumerated sizes; `auto` among them when the model picks a size itself. */
  readonly sizes: readonly string[];
  /** Any WIDTHxHEIGHT within `customSizeLimits` is accepted too. */
  readonly customSizes: boolean;
  readonly customSizeLimits?: CustomSizeLimits;
  readonly defaultSize: string;
  /**
   * The task API's aspect_ratio -> size; null where the model has no size of that shape (a 400).
   * Absent: the nearest of the enumerated sizes.
   */
  readonly aspectRatioSizes?: Readonly<Record<AspectRatio, string | null>>;
  readonly qualities: readonly string[];
  readonly defaultQuality: string;
  /** `quality: auto` is sent upstream as `defaultQuality` (dall-e: auto means standard). */
  readonly autoQualityIsDefault: boolean;
  readonly maxPromptChars: number;
  readonly maxN: number;
  /** output_format values taken; none: the field is refused. */
  readonly outputFormats: readonly OutputFormat[];
  /** The format an answer reports when neither the client nor the upstream named one; unset: none reported. */
  readonly defaultOutputFormat?: OutputFormat;
  /** output_compression (with a lossy output_format). */
  readonly outputCompression: boolean;
  /** background values taken; none: the field is refused. */
  readonly backgrounds: readonly Background[];
  /** The background stream events report when neither the client nor the upstream named one. */
  readonly defaultBackground?: Background;
  /** moderation values taken; none: the field is refused. */
  readonly moderations: readonly Moderation[];
  /**
   * `stream: true` with up to this many partial images; null: stream and partial_images are refused.
   * `fromWholeAnswer`: the upstream has no stream for this model, so none is asked of it and the
   * events are made from its whole answer.
   */
  readonly streaming: { readonly maxPartialImages: number; readonly fromWholeAnswer?: boolean } | null;
  /** Input images of an edit (an /edits call, or a generation with reference images); null: none taken. */
  readonly edits: InputRules | null;
  /** /images/variations; null: refused. */
  readonly variations: InputRules | null;
  /** input_fidelity on edits. */
  readonly inputFidelity: boolean;
  /** The style enum; empty: the field is refused; unset: style is passed through untouched (to relays). */
  readonly styles?: readonly string[];
  /** Fields api.openai.com accepts for this model beyond the common ones (it refuses the others). */
  readonly officialFields: {
    /** response_format (the gateway asks for b64_json so it holds the bytes). */
    readonly responseFormat: boolean;
    readonly style: boolean;
  };
  readonly priceUnits: readonly PriceUnit[];
}

/** The former name of ModelCapabilities: the rules of a family. */
export type FamilyRules = ModelCapabilities;

const MB = 1024 * 1024;
/** The largest input image any model accepts; multipart parsing stops reading a file beyond it. */
export const MAX_INPUT_IMAGE_BYTES = 50 * MB;
export const MAX_INPUT_IMAGES = 16;
/** Every model's mask limit. */
export const MAX_MASK_BYTES = 4 * MB;

/**
 * GPT image models: only a byte limit is documented, no pixel limit. They work at 4K at most
 * (gpt-image-2's largest output is 3840 px, 8.3 MP) and scale larger inputs down, so bounds well
 * above that lose no real picture: 16,384 px a side admits long panoramas (WebP itself stops at
 * 16,383) and 64 MP admits phone and most camera photos, while a 50 MB PNG that claims more is
 * a decompression bomb rather than a picture.
 */
const GPT_INPUTS: InputRules = {
  maxImages: MAX_INPUT_IMAGES,
  maxBytesEach: MAX_INPUT_IMAGE_BYTES,
  formats: ['png', 'webp', 'jpeg'],
  square: false,
  alphaWithoutMask: false,
  maxSide: 16_384,
  maxPixels: 8192 * 8192,
};
/**
 * dall-e-2: a square PNG under 4 MB whose output is at most 1024x1024. A real picture that fits
 * 4 MB as PNG is about 1200 px a side; 4096 leaves room for flat artwork and is 4x its output.
 */
const DALLE2_MAX_SIDE = 4096;
const DALLE2_EDIT: InputRules = {
  maxImages: 1,
  maxBytesEach: 4 * MB,
  formats: ['png'],
  square: true,
  alphaWithoutMask: true,
  maxSide: DALLE2_MAX_SIDE,
  maxPixels: DALLE2_MAX_SIDE * DALLE2_MAX_SIDE,
};
const DALLE2_VARIATION: InputRules = { ...DALLE2_EDIT, alphaWithoutMask: false };

const GPT_SIZES = ['auto', '1024x1024', '1536x1024', '1024x1536'] as const;
const GPT_QUALITIES = ['auto', 'low', 'medium', 'high'] as const;

/** What the GPT image models share. */
const GPT_IMAGE = {
  defaultSize: 'auto',
  qualities: GPT_QUALITIES,
  defaultQuality: 'auto',
  autoQualityIsDefault: false,
  maxPromptChars: 32_000,
  maxN: 10,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultOutputFormat: 'png',
  outputCompression: true,
  defaultBackground: 'auto',
  moderations: ['low', 'auto'],
  streaming: { maxPartialImages: 3 },
  edits: GPT_INPUTS,
  variations: null,
  inputFidelity: true,
  officialFields: { responseFormat: false, style: false },
  priceUnits: ['image', 'token'],
} as const satisfies Partial<ModelCapabilities>;

/** What the dall-e models share: none of the GPT options, response_format upstream, per-image prices. */
const DALL_E = {
  customSizes: false,
  defaultSize: '1024x1024',
  defaultQuality: 'standard',
  autoQualityIsDefault: true,
  outputFormats: [],
  outputCompression: false,
  backgrounds: [],
  moderations: [],
  streaming: null,
  inputFidelity: false,
  priceUnits: ['image'],
} as const satisfies Partial<ModelCapabilities>;

/**
 * The aspect-ratio tables: each family has one size per ratio, the one nearest in shape among
 * what it can make (compared on a log scale, so 2:1 and 1:2 are equally far from 1:1):
 * - gpt-image-2 takes custom sizes, so every ratio is exact, at about 1-1.6 MP with edges that
 *   are multiples of 16;
 * - gpt-image-1 has 1024x1024, 1536x1024, 1024x1536 and auto;
 * - dall-e-3 has 1024x1024, 1792x1024, 1024x1792 (no auto: auto is its default, 1024x1024);
 * - dall-e-2 makes squares only: any other ratio is refused rather than silently squared.
 */
const GPT_IMAGE_2_RATIOS = {
  auto: 'auto',
  '1:1': '1024x1024',
  '3:2': '1536x1024',
  '2:3': '1024x1536',
  '4:3': '1280x960',
  '3:4': '960x1280',
  '5:4': '1280x1024',
  '4:5': '1024x1280',
  '16:9': '1536x864',
  '9:16': '864x1536',
  '21:9': '1680x720',
  '9:21': '720x1680',
} as const;
const GPT_IMAGE_1_RATIOS = {
  auto: 'auto',
  '1:1': '1024x1024',
  '3:2': '1536x1024',
  '2:3': '1024x1536',
  '4:3': '1536x1024',
  '3:4': '1024x1536',
  '5:4': '1536x1024',
  '4:5': '1024x1536',
  '16:9': '1536x1024',
  '9:16': '1024x1536',
  '21:9': '1536x1024',
  '9:21': '1024x1536',
} as const;
const DALL_E_3_RATIOS = {
  auto: '1024x1024',
  '1:1': '1024x1024',
  '3:2': '1792x1024',
  '2:3': '1024x1792',
  // 4:3 is a hair nearer 7:4 (1792x1024) than 1:1 on the log scale.
  '4:3': '1792x1024',
  '3:4': '1024x1792',
  '5:4': '1024x1024',
  '4:5': '1024x1024',
  '16:9': '1792x1024',
  '9:16': '1024x1792',
  '21:9': '1792x1024',
  '9:21': '1024x1792',
} as const;
const DALL_E_2_RATIOS = {
  auto: '1024x1024',
  '1:1': '1024x1024',
  '3:2': null,
  '2:3': null,
  '4:3': null,
  '3:4': null,
  '5:4': null,
  '4:5': null,
  '16:9': null,
  '9:16': null,
  '21:9': null,
  '9:21': null,
} as const;

/**
 * Recraft (its API reference, recraft.ai/docs/api-reference: Endpoints, Appendix, Styles). Sizes are
 * its lists of WxH per model generation; no quality (the one price column is `standard`, which
 * a client cannot send: `qualities: []` refuses the field); n up to 6; no background, moderation or
 * compression. Recraft does not stream: a stream gets each whole image as its completed event.
 * Raster models answer PNG or WebP (`image_format`), vector models (`_vector`) SVG. Styles are V2/V3 only ("Styles are not supported for V4 models"), each model
 * its style families (raster styles on raster models, vector styles on vector models); a
 * substyle or a custom `style_id` goes through as Recraft's own field. Recraft's image-to-image,
 * inpainting, background and vectorize endpoints are not mapped: no input images.
 */
export const RECRAFT_V2_V3_SIZES = [
  '1024x1024',
  '1365x1024',
  '1024x1365',
  '1536x1024',
  '1024x1536',
  '1820x1024',
  '1024x1820',
  '1024x2048',
  '2048x1024',
  '1434x1024',
  '1024x1434',
  '1024x1280',
  '1280x1024',
  '1024x1707',
  '1707x1024',
] as const;
export const RECRAFT_V4_SIZES = [
  '1024x1024',
  '1536x768',
  '768x1536',
  '1280x832',
  '832x1280',
  '1216x896',
  '896x1216',
  '1152x896',
  '896x1152',
  '832x1344',
  '1280x896',
  '896x1280',
  '1344x768',
  '768x1344',
] as const;
export const RECRAFT_V4_PRO_SIZES = [
  '2048x2048',
  '3072x1536',
  '1536x3072',
  '2560x1664',
  '1664x2560',
  '2432x1792',
  '1792x2432',
  '2304x1792',
  '1792x2304',
  '1664x2688',
  '2560x1792',
  '1792x2560',
  '2688x1536',
  '1536x2688',
] as const;

const RECRAFT = {
  ...VENDOR_MODEL_DEFAULTS,
  customSizes: false,
  defaultSize: '1024x1024',
  maxN: 6,
  outputCompression: false,
  streaming: WHOLE_IMAGE_STREAMING,
} as const satisfies Partial<ModelCapabilities>;

const RECRAFT_RASTER = { ...RECRAFT, outputFormats: ['png', 'webp'], defaultOutputFormat: 'png' } as const satisfies Partial<ModelCapabilities>;
const RECRAFT_VECTOR = { ...RECRAFT, outputFormats: ['svg'], defaultOutputFormat: 'svg' } as const satisfies Partial<ModelCapabilities>;
const RECRAFT_V4 = { maxPromptChars: 10_000, styles: [] } as const;
const RECRAFT_V2_V3 = { sizes: RECRAFT_V2_V3_SIZES, maxPromptChars: 1_000 } as const;

const RECRAFT_RULES = {
  'recraft-v4': { ...RECRAFT_RASTER, ...RECRAFT_V4, sizes: RECRAFT_V4_SIZES },
  'recraft-v4-vector': { ...RECRAFT_VECTOR, ...RECRAFT_V4, sizes: RECRAFT_V4_SIZES },
  'recraft-v4-pro': { ...RECRAFT_RASTER, ...RECRAFT_V4, sizes: RECRAFT_V4_PRO_SIZES, defaultSize: '2048x2048' },
  'recraft-v4-pro-vector': { ...RECRAFT_VECTOR, ...RECRAFT_V4, sizes: RECRAFT_V4_PRO_SIZES, defaultSize: '2048x2048' },
  'recraft-v3': { ...RECRAFT_RASTER, ...RECRAFT_V2_V3, styles: ['realistic_image', 'digital_illustration', 'logo_raster'] },
  'recraft-v3-vector': { ...RECRAFT_VECTOR, ...RECRAFT_V2_V3, styles: ['vector_illustration'] },
  'recraft-v2': { ...RECRAFT_RASTER, ...RECRAFT_V2_V3, styles: ['realistic_image', 'digital_illustration'] },
  'recraft-v2-vector': { ...RECRAFT_VECTOR, ...RECRAFT_V2_V3, styles: ['vector_illustration', 'icon'] },
} as const satisfies Readonly<Record<string, ModelCapabilities>>;

/**
 * Alibaba Cloud Model Studio (DashScope): Qwen-Image and Wan (Model Studio's Qwen-Image, Qwen-Image
 * Edit and Wan text-to-image API references). DashScope answers PNG at the size asked; the gateway
 * converts to jpeg or webp when asked (so output_format and output_compression are offered). No
 * quality, background, moderation or style. DashScope does not stream: a stream waits for the call
 * (or the task) and gets each whole image as its completed event. Sizes are DashScope's `W*H` lists, as WxH:
 * - qwen-image, qwen-image-plus: five fixed sizes, one image per call (n above 1: one call per image);
 * - qwen-image-edit: one input image, one image per call; qwen-image-edit-plus: 1-3 input images,
 *   n 1-6; both answer in the last input's shape (size `auto` only);
 * - wan2.2/wanx2.1 text-to-image: 512-1440 px a side (DashScope's recommended sizes listed),
 *   n 1-4, asynchronous; wan2.5-t2i-preview: 768*768 to 1440*1440 pixels, ratio 1:4 to 4:1;
 * - wanx2.1-imageedit (mainland China only): one input image and, for an inpainting, a mask, n 1-4,
 *   asynchronous, in the input's shape.
 */
export const QWEN_IMAGE_SIZES = ['1328x1328', '1664x928', '928x1664', '1472x1140', '1140x1472'] as const;
export const WAN_T2I_SIZES = ['1024x1024', '1280x720', '720x1280', '1152x864', '864x1152', '1344x768', '768x1344', '1440x720', '720x1440'] as const;
export const WAN25_T2I_SIZES = ['1280x1280', '1696x960', '960x1696', '1472x1104', '1104x1472'] as const;

/** DashScope's input images: JPEG, PNG or WEBP, up to 10 MB, 384-3072 px a side (Qwen-Image Edit's limits). */
const DASHSCOPE_INPUTS: InputRules = {
  maxImages: 1,
  maxBytesEach: 10 * MB,
  formats: ['png', 'jpeg', 'webp'],
  square: false,
  alphaWithoutMask: false,
  maxSide: 3072,
  maxPixels: 3072 * 3072,
};

const DASHSCOPE = {
  ...VENDOR_MODEL_DEFAULTS,
  customSizes: false,
  maxN: 4,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultOutputFormat: 'png',
  outputCompression: true,
  streaming: WHOLE_IMAGE_STREAMING,
} as const satisfies Partial<ModelCapabilities>;

const DASHSCOPE_RULES = {
  'qwen-image': { ...DASHSCOPE, sizes: QWEN_IMAGE_SIZES, defaultSize: '1328x1328', maxPromptChars: 800 },
  'qwen-image-edit': { ...DASHSCOPE, sizes: ['auto'], defaultSize: 'auto', maxPromptChars: 800, edits: DASHSCOPE_INPUTS },
  'qwen-image-edit-plus': { ...DASHSCOPE, sizes: ['auto'], defaultSize: 'auto', maxPromptChars: 800, maxN: 6, edits: { ...DASHSCOPE_INPUTS, maxImages: 3 } },
  'wan-t2i': { ...DASHSCOPE, sizes: WAN_T2I_SIZES, defaultSize: '1024x1024', maxPromptChars: 500 },
  'wan2.5-t2i': { ...DASHSCOPE, sizes: WAN25_T2I_SIZES, defaultSize: '1280x1280', maxPromptChars: 2_000 },
  // Wan's image editor takes 512-4096 px a side.
  'wanx-imageedit': {
    ...DASHSCOPE,
    sizes: ['auto'],
    defaultSize: 'auto',
    maxPromptChars: 800,
    edits: { ...DASHSCOPE_INPUTS, maxSide: 4096, maxPixels: 4096 * 4096 },
  },
} as const satisfies Readonly<Record<string, ModelCapabilities>>;

/**
 * ByteDance Seedream (Volcengine Ark's and BytePlus ModelArk's image generation API: the same wire,
 * providers/seedream/). Sizes: Ark takes a tier (1K/2K/4K, 5.0 Lite 2K/3K/4K) or any WxH whose
 * pixels and shape are within bounds; the gateway sends WxH, so the listed sizes are Ark's
 * recommended ones per shape and tier and any other WxH within the bounds is a custom size
 * (4.0: 1280x720 to 4096x4096 pixels; 4.5 and 5.0 Lite: 2560x1440 to 4096x4096; ratio up to 16:1).
 * `auto` (their default) is Ark's 2K tier: the model picks the shape from the prompt and the input
 * images (an edit comes back in its input's shape), about 4 megapixels.
 * Ark answers JPEG (5.0 Lite also PNG, its output_format); no quality, background, moderation,
 * compression or style. Input images (reference images, edits): up to 14, JPEG/PNG/WebP up to
 * 10 MB, at most 6000x6000 pixels. Streams carry each finished image (Ark has no previews:
 * partial_images 0). Ark has no `n`: the provider makes one call per image. Seedream 3.0 is
 * text-to-image only, at sizes 512-2048 px a side (its recommended ones listed); Ark streams
 * nothing for it, so its stream waits for the answer and gets each whole image as its completed event. Ark recommends
 * prompts under 600 words and documents no hard limit: 4,000 characters here.
 */
const SEEDREAM_INPUTS: InputRules = {
  maxImages: 14,
  maxBytesEach: 10 * MB,
  formats: ['png', 'jpeg', 'webp'],
  square: false,
  alphaWithoutMask: false,
  maxSide: 24_000,
  maxPixels: 6000 * 6000,
};
const SEEDREAM_4_LIMITS = { edgeMultiple: 1, maxEdge: 16_384, maxAspect: 16, minPixels: 1280 * 720, maxPixels: 4096 * 4096 } as const;
const SEEDREAM_45_LIMITS = { ...SEEDREAM_4_LIMITS, minPixels: 2560 * 1440 } as const;

/** Ark's recommended sizes: Seedream 4.0's 1K and 2K tiers (1:1, 4:3, 3:4, 16:9, 9:16, 3:2, 2:3, 21:9) and 4K square. */
export const SEEDREAM_4_SIZES = [
  'auto',
  '2048x2048',
  '2304x1728',
  '1728x2304',
  '2560x1440',
  '1440x2560',
  '2496x1664',
  '1664x2496',
  '3024x1296',
  '1024x1024',
  '1152x864',
  '864x1152',
  '1280x720',
  '720x1280',
  '1248x832',
  '832x1248',
  '1512x648',
  '4096x4096',
] as const;
/** Seedream 4.5's and 5.0 Lite's 2K tier and 4K square. */
export const SEEDREAM_45_SIZES = [
  'auto',
  '2048x2048',
  '2304x1728',
  '1728x2304',
  '2848x1600',
  '1600x2848',
  '2496x1664',
  '1664x2496',
  '3136x1344',
  '4096x4096',
] as const;
/** Seedream 5.0 Lite's 3K tier besides. */
export const SEEDREAM_5_LITE_SIZES = [
  ...SEEDREAM_45_SIZES,
  '3072x3072',
  '3456x2592',
  '2592x3456',
  '4096x2304',
  '2304x4096',
  '3744x2496',
  '2496x3744',
  '4704x2016',
] as const;
/** Seedream 3.0 text-to-image's recommended sizes. */
export const SEEDREAM_3_SIZES = ['1024x1024', '1152x864', '864x1152', '1280x720', '720x1280', '1248x832', '832x1248', '1512x648'] as const;

/** The task API's aspect_ratio on Seedream 4.x/5.0 at the 2K tier: Ark's sizes, exact custom ones for the shapes it does not list. */
const seedreamRatios = (wide: string, tall: string, ultraWide: string, ultraTall: string) =>
  ({
    auto: 'auto',
    '1:1': '2048x2048',
    '3:2': '2496x1664',
    '2:3': '1664x2496',
    '4:3': '2304x1728',
    '3:4': '1728x2304',
    '5:4': '2240x1792',
    '4:5': '1792x2240',
    '16:9': wide,
    '9:16': tall,
    '21:9': ultraWide,
    '9:21': ultraTall,
  }) as const;

const SEEDREAM = {
  ...VENDOR_MODEL_DEFAULTS,
  customSizes: true,
  defaultSize: 'auto',
  maxPromptChars: 4_000,
  maxN: 10,
  outputFormats: ['jpeg'],
  defaultOutputFormat: 'jpeg',
  outputCompression: false,
  streaming: { maxPartialImages: 0 },
  edits: SEEDREAM_INPUTS,
} as const satisfies Partial<ModelCapabilities>;

const SEEDREAM_RULES = {
  'seedream-5.0-lite': {
    ...SEEDREAM,
    sizes: SEEDREAM_5_LITE_SIZES,
    customSizeLimits: SEEDREAM_45_LIMITS,
    aspectRatioSizes: seedreamRatios('2560x1440', '1440x2560', '3136x1344', '1344x3136'),
    outputFormats: ['jpeg', 'png'],
  },
  'seedream-4.5': {
    ...SEEDREAM,
    sizes: SEEDREAM_45_SIZES,
    customSizeLimits: SEEDREAM_45_LIMITS,
    aspectRatioSizes: seedreamRatios('2560x1440', '1440x2560', '3136x1344', '1344x3136'),
  },
  'seedream-4.0': {
    ...SEEDREAM,
    sizes: SEEDREAM_4_SIZES,
    customSizeLimits: SEEDREAM_4_LIMITS,
    aspectRatioSizes: seedreamRatios('2560x1440', '1440x2560', '3024x1296', '1296x3024'),
  },
  'seedream-3.0': {
    ...SEEDREAM,
    sizes: SEEDREAM_3_SIZES,
    customSizes: false,
    defaultSize: '1024x1024',
    maxN: 10,
    streaming: WHOLE_IMAGE_STREAMING,
    edits: null,
  },
} as const satisfies Readonly<Record<string, ModelCapabilities>>;

/**
 * Google (issue 18): Gemini's image models (the Gemini API's and Vertex AI's generateContent, images
 * as inlineData parts) and Imagen 4 (their :predict). Sizes are Google's own output sizes, one per
 * aspect ratio and resolution tier (the Gemini API's image-generation guide and Imagen guide):
 * the gateway sends the ratio (and the tier above 1K) and the image comes back at exactly that
 * size, so no other WxH is taken (a 400 naming `size`). No quality, background, moderation or
 * style; Google answers PNG (Gemini) or PNG/JPEG (Imagen), the gateway converts to what
 * output_format asks. Gemini makes one image per call (n: one call per image), takes reference
 * images beside the prompt (no mask), and its stream delivers the final image as the completed
 * event (Gemini has no partial images: partial_images 0 only). Imagen takes no input images and
 * does not stream: a stream waits for the predict answer and gets each image as its completed
 * event; sampleCount is n, 1-4.
 */
/** Google's table: aspect ratio -> resolution tier (1K, 2K, 4K) -> WxH. */
export type GoogleSizeTable = Readonly<Record<string, Readonly<Record<string, string>>>>;

export const GEMINI_25_FLASH_IMAGE_SIZES: GoogleSizeTable = {
  '1:1': { '1K': '1024x1024' },
  '2:3': { '1K': '832x1248' },
  '3:2': { '1K': '1248x832' },
  '3:4': { '1K': '864x1184' },
  '4:3': { '1K': '1184x864' },
  '4:5': { '1K': '896x1152' },
  '5:4': { '1K': '1152x896' },
  '9:16': { '1K': '768x1344' },
  '16:9': { '1K': '1344x768' },
  '21:9': { '1K': '1536x672' },
};
export const GEMINI_3_PRO_IMAGE_SIZES: GoogleSizeTable = {
  '1:1': { '1K': '1024x1024', '2K': '2048x2048', '4K': '4096x4096' },
  '2:3': { '1K': '848x1264', '2K': '1696x2528', '4K': '3392x5056' },
  '3:2': { '1K': '1264x848', '2K': '2528x1696', '4K': '5056x3392' },
  '3:4': { '1K': '896x1200', '2K': '1792x2400', '4K': '3584x4800' },
  '4:3': { '1K': '1200x896', '2K': '2400x1792', '4K': '4800x3584' },
  '4:5': { '1K': '928x1152', '2K': '1856x2304', '4K': '3712x4608' },
  '5:4': { '1K': '1152x928', '2K': '2304x1856', '4K': '4608x3712' },
  '9:16': { '1K': '768x1376', '2K': '1536x2752', '4K': '3072x5504' },
  '16:9': { '1K': '1376x768', '2K': '2752x1536', '4K': '5504x3072' },
  '21:9': { '1K': '1584x672', '2K': '3168x1344', '4K': '6336x2688' },
};
export const IMAGEN_4_SIZES: GoogleSizeTable = {
  '1:1': { '1K': '1024x1024', '2K': '2048x2048' },
  '3:4': { '1K': '896x1280', '2K': '1792x2560' },
  '4:3': { '1K': '1280x896', '2K': '2560x1792' },
  '9:16': { '1K': '768x1408', '2K': '1536x2816' },
  '16:9': { '1K': '1408x768', '2K': '2816x1536' },
};

/** Every size of a table, tiers in the order given (1K first). */
export function googleSizes(table: GoogleSizeTable, tiers: readonly string[]): string[] {
  return tiers.flatMap((tier) => Object.values(table).flatMap((row) => (row[tier] ? [row[tier]] : [])));
}

/** Gemini's reference images: PNG, JPEG or WebP inline, 7 MB each (Vertex AI's documented limit for inline images). */
const GEMINI_INPUTS: InputRules = {
  maxImages: 3,
  maxBytesEach: 7 * MB,
  formats: ['png', 'jpeg', 'webp'],
  square: false,
  alphaWithoutMask: false,
  maxSide: 8192,
  maxPixels: 8192 * 8192,
};

const GOOGLE = {
  ...VENDOR_MODEL_DEFAULTS,
  customSizes: false,
  maxN: 4,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultOutputFormat: 'png',
  outputCompression: true,
} as const satisfies Partial<ModelCapabilities>;

/** Gemini picks the shape itself when no ratio is sent (a reference image's, else square): `auto`, the default. */
const GEMINI_IMAGE = {
  ...GOOGLE,
  defaultSize: 'auto',
  maxPromptChars: 32_000,
  streaming: WHOLE_IMAGE_STREAMING,
  priceUnits: ['image', 'token'],
} as const satisfies Partial<ModelCapabilities>;

/** Imagen's default ratio is 1:1; no auto. */
const IMAGEN = {
  ...GOOGLE,
  defaultSize: '1024x1024',
  maxPromptChars: 4_000,
  streaming: WHOLE_IMAGE_STREAMING,
  edits: null,
  priceUnits: ['image'],
} as const satisfies Partial<ModelCapabilities>;

/** The task API's aspect_ratio: each ratio's 1K size (the nearest shape Google has where it lacks the ratio). */
const GEMINI_3_PRO_IMAGE_RATIOS = {
  auto: 'auto',
  '1:1': '1024x1024',
  '3:2': '1264x848',
  '2:3': '848x1264',
  '4:3': '1200x896',
  '3:4': '896x1200',
  '5:4': '1152x928',
  '4:5': '928x1152',
  '16:9': '1376x768',
  '9:16': '768x1376',
  '21:9': '1584x672',
  '9:21': '768x1376',
} as const;
const IMAGEN_4_RATIOS = {
  auto: '1024x1024',
  '1:1': '1024x1024',
  '3:2': '1280x896',
  '2:3': '896x1280',
  '4:3': '1280x896',
  '3:4': '896x1280',
  '5:4': '1280x896',
  '4:5': '896x1280',
  '16:9': '1408x768',
  '9:16': '768x1408',
  '21:9': '1408x768',
  '9:21': '768x1408',
} as const;

const GOOGLE_RULES = {
  'gemini-2.5-flash-image': { ...GEMINI_IMAGE, sizes: ['auto', ...googleSizes(GEMINI_25_FLASH_IMAGE_SIZES, ['1K'])], edits: GEMINI_INPUTS },
  'gemini-3-pro-image': {
    ...GEMINI_IMAGE,
    sizes: ['auto', ...googleSizes(GEMINI_3_PRO_IMAGE_SIZES, ['1K', '2K', '4K'])],
    aspectRatioSizes: GEMINI_3_PRO_IMAGE_RATIOS,
    edits: { ...GEMINI_INPUTS, maxImages: 14 },
  },
  'imagen-4': { ...IMAGEN, sizes: googleSizes(IMAGEN_4_SIZES, ['1K', '2K']), aspectRatioSizes: IMAGEN_4_RATIOS },
  'imagen-4-fast': { ...IMAGEN, sizes: googleSizes(IMAGEN_4_SIZES, ['1K']), aspectRatioSizes: IMAGEN_4_RATIOS },
} as const satisfies Readonly<Record<string, ModelCapabilities>>;

export const FAMILY_RULES: Readonly<Record<ModelFamily, ModelCapabilities>> = {
  'gpt-image-2': {
    ...GPT_IMAGE,
    sizes: [...GPT_SIZES, '2048x2048', '2048x1152', '3840x2160', '2160x3840'],
    customSizes: true,
    customSizeLimits: GPT_IMAGE_2_LIMITS,
    aspectRatioSizes: GPT_IMAGE_2_RATIOS,
    backgrounds: ['opaque', 'auto'],
  },
  'gpt-image-1': {
    ...GPT_IMAGE,
    sizes: GPT_SIZES,
    customSizes: false,
    aspectRatioSizes: GPT_IMAGE_1_RATIOS,
    backgrounds: ['transparent', 'opaque', 'auto'],
  },
  'dall-e-2': {
    ...DALL_E,
    sizes: ['256x256', '512x512', '1024x1024'],
    aspectRatioSizes: DALL_E_2_RATIOS,
    qualities: ['standard', 'auto'],
    maxPromptChars: 1_000,
    maxN: 10,
    edits: DALLE2_EDIT,
    variations: DALLE2_VARIATION,
    officialFields: { responseFormat: true, style: false },
  },
  'dall-e-3': {
    ...DALL_E,
    sizes: ['1024x1024', '1792x1024', '1024x1792'],
    aspectRatioSizes: DALL_E_3_RATIOS,
    qualities: ['standard', 'hd', 'auto'],
    maxPromptChars: 4_000,
    maxN: 1,
    edits: null,
    variations: null,
    styles: ['vivid', 'natural'],
    officialFields: { responseFormat: true, style: true },
  },
  ...RECRAFT_RULES,
  ...GOOGLE_RULES,
  ...SEEDREAM_RULES,
  ...DASHSCOPE_RULES,
  ...BFL_CATALOGUE.rules,
  ...IDEOGRAM_CATALOGUE.rules,
  ...STABILITY_CATALOGUE.rules,
  ...MIDJOURNEY_CATALOGUE.rules,
};

export interface ModelSpec {
  /** The public name clients send. */
  readonly id: string;
  /** The rule set the model started from: a label (pricing falls back to it by name); its rules are `capabilities`. */
  readonly family: ModelFamily;
  /** Whose API makes it: which channel kinds of a vendor's own may serve it (relays serve any). */
  readonly vendor: ModelVendor;
  /** The model name sent upstream unless a channel maps it otherwise. */
  readonly upstreamModel: string;
  readonly description: string;
  /** What the model can do: its family's rules, or those of an operator's model with overrides. */
  readonly capabilities: ModelCapabilities;
  /** Sizes this name accepts when narrower than its capabilities (the -1k/-2k/-4k relay names); `auto` means the default. */
  readonly sizes?: readonly string[];
  /** Filled in when the client leaves the field out (or sends `auto` for size on a sized name). */
  readonly defaults: { readonly size?: string; readonly quality?: string };
  /** Parameters always sent upstream for this name, overriding the client's. */
  readonly fixedParams: Readonly<Record<string, unknown>>;
}

function model(
  id: string,
  family: ModelFamily,
  description: string,
  extra: Partial<Pick<ModelSpec, 'vendor' | 'upstreamModel' | 'sizes' | 'defaults' | 'fixedParams'>> = {},
): ModelSpec {
  return {
    id,
    family,
    vendor: extra.vendor ?? 'openai',
    description,
    upstreamModel: extra.upstreamModel ?? id,
    capabilities: FAMILY_RULES[family],
    defaults: extra.defaults ?? {},
    fixedParams: extra.fixedParams ?? {},
    ...(extra.sizes ? { sizes: extra.sizes } : {}),
  };
}

const relayName = (id: string, description: string, extra: Parameters<typeof model>[3] = {}): ModelSpec =>
  model(id, 'gpt-image-2', description, { upstreamModel: 'gpt-image-2', ...extra });

/** Recraft's models keep Recraft's own names (its API's `model` values). */
const recraft = (id: string, family: ModelFamily, description: string): ModelSpec => model(id, family, description, { vendor: 'recraft' });

/** Seedream's public names are the gateway's; each is sent as Volcengine Ark's dated model id (BytePlus channels send BytePlus's, providers/seedream/regions.ts). */
const seedream = (id: string, family: ModelFamily, upstreamModel: string, description: string): ModelSpec =>
  model(id, family, description, { vendor: 'bytedance', upstreamModel });

/** DashScope's models keep DashScope's own names (its API's `model` values). */
const dashscope = (id: string, family: ModelFamily, description: string): ModelSpec => model(id, family, description, { vendor: 'dashscope' });

/** Google's models keep Google's names (the model in its URLs); Gemini's and Imagen's are two APIs. */
const gemini = (id: string, family: ModelFamily, description: string): ModelSpec => model(id, family, description, { vendor: 'google-gemini' });
const imagen = (id: string, family: ModelFamily, description: string): ModelSpec => model(id, family, description, { vendor: 'google-imagen' });

/** Every model name OpenAI and the relay gateways' documents use, then Recraft's, then DashScope's. */
export const BUILTIN_MODELS: readonly ModelSpec[] = [
  model('gpt-image-2', 'gpt-image-2', 'GPT Image 2'),
  model('gpt-image-2-2026-04-21', 'gpt-image-2', 'GPT Image 2 snapshot 2026-04-21'),
  relayName('gpt-image-2-vip', 'GPT Image 2 (relay name: vip line)'),
  relayName('gpt-image-2-pro', 'GPT Image 2 (relay name: pro line)'),
  relayName('gpt-image-2-beta', 'GPT Image 2 (relay name: beta)'),
  relayName('gpt-image-2-1k', 'GPT Image 2 at 1K sizes, quality medium by default', {
    sizes: ['1024x1024', '1536x1024', '1024x1536'],
    defaults: { size: '1024x1024', quality: 'medium' },
  }),
  relayName('gpt-image-2-2k', 'GPT Image 2 at 2K sizes, quality medium by default', {
    sizes: ['2048x2048', '2048x1152'],
    defaults: { size: '2048x2048', quality: 'medium' },
  }),
  relayName('gpt-image-2-4k', 'GPT Image 2 at 4K sizes, quality medium by default', {
    sizes: ['3840x2160', '2160x3840'],
    defaults: { size: '3840x2160', quality: 'medium' },
  }),
  model('gpt-image-1.5', 'gpt-image-1', 'GPT Image 1.5'),
  model('gpt-image-1', 'gpt-image-1', 'GPT Image 1'),
  model('gpt-image-1-mini', 'gpt-image-1', 'GPT Image 1 mini'),
  model('dall-e-3', 'dall-e-3', 'DALL·E 3'),
  model('dall-e-2', 'dall-e-2', 'DALL·E 2'),
  recraft('recraftv4_1', 'recraft-v4', 'Recraft V4.1 (raster, 1K)'),
  recraft('recraftv4_1_vector', 'recraft-v4-vector', 'Recraft V4.1 Vector (SVG)'),
  recraft('recraftv4_1_pro', 'recraft-v4-pro', 'Recraft V4.1 Pro (raster, 2K)'),
  recraft('recraftv4', 'recraft-v4', 'Recraft V4 (raster, 1K)'),
  recraft('recraftv4_vector', 'recraft-v4-vector', 'Recraft V4 Vector (SVG)'),
  recraft('recraftv4_pro', 'recraft-v4-pro', 'Recraft V4 Pro (raster, 2K)'),
  recraft('recraftv4_pro_vector', 'recraft-v4-pro-vector', 'Recraft V4 Pro Vector (SVG)'),
  recraft('recraftv3', 'recraft-v3', 'Recraft V3 (raster styles)'),
  recraft('recraftv3_vector', 'recraft-v3-vector', 'Recraft V3 Vector (SVG, vector styles)'),
  recraft('recraftv2', 'recraft-v2', 'Recraft V2 (raster styles)'),
  recraft('recraftv2_vector', 'recraft-v2-vector', 'Recraft V2 Vector (SVG, vector and icon styles)'),
  gemini('gemini-2.5-flash-image', 'gemini-2.5-flash-image', 'Gemini 2.5 Flash Image, "Nano Banana" (Google)'),
  gemini('gemini-3-pro-image-preview', 'gemini-3-pro-image', 'Gemini 3 Pro Image preview, "Nano Banana Pro": 1K, 2K, 4K (Google)'),
  imagen('imagen-4.0-generate-001', 'imagen-4', 'Imagen 4: 1K, 2K (Google)'),
  imagen('imagen-4.0-ultra-generate-001', 'imagen-4', 'Imagen 4 Ultra: 1K, 2K (Google)'),
  imagen('imagen-4.0-fast-generate-001', 'imagen-4-fast', 'Imagen 4 Fast: 1K (Google)'),
  seedream('seedream-5.0-lite', 'seedream-5.0-lite', 'doubao-seedream-5-0-260128', 'ByteDance Seedream 5.0 Lite (Volcengine Ark, BytePlus ModelArk)'),
  seedream('seedream-4.5', 'seedream-4.5', 'doubao-seedream-4-5-251128', 'ByteDance Seedream 4.5 (Volcengine Ark, BytePlus ModelArk)'),
  seedream('seedream-4.0', 'seedream-4.0', 'doubao-seedream-4-0-250828', 'ByteDance Seedream 4.0 (Volcengine Ark, BytePlus ModelArk)'),
  seedream('seedream-3.0', 'seedream-3.0', 'doubao-seedream-3-0-t2i-250415', 'ByteDance Seedream 3.0 text-to-image (Volcengine Ark, BytePlus ModelArk)'),
  dashscope('qwen-image', 'qwen-image', 'Qwen-Image (Alibaba DashScope)'),
  dashscope('qwen-image-plus', 'qwen-image', 'Qwen-Image Plus (Alibaba DashScope)'),
  dashscope('qwen-image-edit', 'qwen-image-edit', 'Qwen-Image Edit: one input image (Alibaba DashScope)'),
  dashscope('qwen-image-edit-plus', 'qwen-image-edit-plus', 'Qwen-Image Edit Plus: 1-3 input images (Alibaba DashScope)'),
  dashscope('wan2.5-t2i-preview', 'wan2.5-t2i', 'Wan 2.5 text-to-image preview (Alibaba DashScope, asynchronous)'),
  dashscope('wan2.2-t2i-flash', 'wan-t2i', 'Wan 2.2 text-to-image Flash (Alibaba DashScope, asynchronous)'),
  dashscope('wan2.2-t2i-plus', 'wan-t2i', 'Wan 2.2 text-to-image Plus (Alibaba DashScope, asynchronous)'),
  dashscope('wanx2.1-t2i-turbo', 'wan-t2i', 'Wan 2.1 text-to-image Turbo (Alibaba DashScope, asynchronous)'),
  dashscope('wanx2.1-t2i-plus', 'wan-t2i', 'Wan 2.1 text-to-image Plus (Alibaba DashScope, asynchronous)'),
  dashscope('wanx2.1-imageedit', 'wanx-imageedit', 'Wan 2.1 image editing, with a mask: inpainting (Alibaba DashScope, mainland China, asynchronous)'),
  ...VENDOR_CATALOGUES.flatMap(vendorModels),
];

function vendorModels(catalogue: (typeof VENDOR_CATALOGUES)[number]): ModelSpec[] {
  const models: readonly VendorModel<ModelFamily>[] = catalogue.models;
  return models.map((m) => model(m.id, m.family, m.description, { vendor: catalogue.vendor, upstreamModel: m.upstreamModel ?? m.id }));
}

/** The list prices (US dollars per image) the vendors' catalogue files give. */
export const VENDOR_PRICES_USD: Readonly<Record<string, number>> = Object.fromEntries(
  VENDOR_CATALOGUES.flatMap((catalogue) => {
    const models: readonly VendorModel<ModelFamily>[] = catalogue.models;
    return models.flatMap((m) => (m.usdPerImage !== undefined ? [[m.id, m.usdPerImage] as const] : []));
  }),
);

/** Missing `model` means gpt-image-2 (as new-api relays document it), not OpenAI's dall-e-2. */
export const DEFAULT_MODEL = 'gpt-image-2';

/** Missing `model` on /images/variations: OpenAI's default there, the one built-in model that makes them. */
export const DEFAULT_VARIATION_MODEL = 'dall-e-2';

// ---------------------------------------------------------------------------
// Reading a model's rules

/** The sizes a client may send for this name (`auto` among them when it is taken). */
export function acceptedSizes(spec: ModelSpec): readonly string[] {
  return spec.sizes ?? spec.capabilities.sizes;
}

/** Whether this name takes custom WIDTHxHEIGHT sizes (a name with its own size list takes only those). */
export function acceptsCustomSizes(spec: ModelSpec): boolean {
  return !spec.sizes && spec.capabilities.customSizes;
}

/** The input-image rules of an operation; null: the model does not take it. */
export function inputRulesOf(capabilities: ModelCapabilities, operation: 'edit' | 'variation'): InputRules | null {
  return operation === 'edit' ? capabilities.edits : capabilities.variations;
}

/**
 * Whose rules a model follows, for messages: `gpt-image-1` (its family's, unchanged) or the
 * model's own id (an operator's model with its own capabilities).
 */
export function rulesOwner(spec: ModelSpec): { name: string; isFamily: boolean } {
  const isFamily = spec.capabilities === FAMILY_RULES[spec.family];
  return { name: isFamily ? spec.family : spec.id, isFamily };
}

// ---------------------------------------------------------------------------
// GET /v1/models/{id}: the `capabilities` extension field

/** The capabilities of a model as GET /v1/models/{id} shows them (snake_case; the keys the config's overrides use). */
export function describeCapabilities(spec: ModelSpec): Record<string, unknown> {
  const c = spec.capabilities;
  const limits = acceptsCustomSizes(spec) ? c.customSizeLimits : undefined;
  const inputs = (rules: InputRules | null) =>
    rules && {
      max_images: rules.maxImages,
      max_bytes: rules.maxBytesEach,
      formats: rules.formats,
      max_side: rules.maxSide,
      max_pixels: rules.maxPixels,
      square: rules.square,
    };
  return {
    family: spec.family,
    sizes: acceptedSizes(spec),
    custom_sizes: limits
      ? {
          edge_multiple: limits.edgeMultiple,
          max_edge: limits.maxEdge,
          max_aspect: limits.maxAspect,
          min_pixels: limits.minPixels,
          max_pixels: limits.maxPixels,
        }
      : false,
    default_size: spec.defaults.size ?? c.defaultSize,
    qualities: c.qualities,
    default_quality: spec.defaults.quality ?? c.defaultQuality,
    max_n: c.maxN,
    max_prompt_chars: c.maxPromptChars,
    output_formats: c.outputFormats,
    default_output_format: c.defaultOutputFormat ?? null,
    output_compression: c.outputCompression,
    backgrounds: c.backgrounds,
    moderations: c.moderations,
    styles: c.styles ?? null,
    streaming: c.streaming ? { max_partial_images: c.streaming.maxPartialImages } : false,
    edits: inputs(c.edits) ?? false,
    input_fidelity: c.inputFidelity,
    variations: inputs(c.variations) ?? false,
    price_units: c.priceUnits,
  };
}

// ---------------------------------------------------------------------------
// The config file's `models:` entries

/** An operator's model from the config file: a catalogue model (`base`), renamed, with fixed parameters and optional capability overrides. */
export interface ModelAlias {
  name: string;
  /** The catalogue model (built-in or an earlier entry) whose rules, prices and upstream model apply unless overridden. */
  base: string;
  upstreamModel?: string;
  description?: string;
  params?: Record<string, unknown>;
  /** Changes to the base's capabilities: this entry is then a model of its own. */
  capabilities?: CapabilityOverrides;
}

/** The `capabilities:` of a config entry, checked for form (parseCapabilityOverrides); against the base when applied. */
export interface CapabilityOverrides {
  readonly sizes?: readonly string[];
  readonly customSizes?: boolean;
  readonly defaultSize?: string;
  readonly qualities?: readonly string[];
  readonly defaultQuality?: string;
  readonly maxN?: number;
  readonly maxPromptChars?: number;
  readonly outputFormats?: readonly OutputFormat[];
  readonly defaultOutputFormat?: OutputFormat;
  readonly backgrounds?: readonly Background[];
  /** null: style is passed through untouched. */
  readonly styles?: readonly string[] | null;
  /** false: no streaming. */
  readonly streaming?: false | { readonly maxPartialImages: number };
  /** false: no input images. */
  readonly edits?: false | { readonly maxImages?: number };
  readonly variations?: boolean;
}

/** A bad `models:` entry; `field` is its path below the entry (e.g. `capabilities.default_quality`). */
export class ModelConfigError extends Error {
  override name = 'ModelConfigError';

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const OUTPUT_FORMAT_VALUES: readonly OutputFormat[] = ['png', 'jpeg', 'webp', 'svg'];
const BACKGROUND_VALUES: readonly Background[] = ['transparent', 'opaque', 'auto'];
/** A quality is a price-table key and appears in messages: a short lower-case word. */
const QUALITY_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const MAX_N_LIMIT = 10;
const MAX_PROMPT_LIMIT = 100_000;

const OVERRIDE_KEYS = [
  'sizes',
  'custom_sizes',
  'default_size',
  'qualities',
  'default_quality',
  'max_n',
  'max_prompt_chars',
  'output_formats',
  'default_output_format',
  'backgrounds',
  'styles',
  'streaming',
  'edits',
  'variations',
] as const;

/** The `capabilities:` mapping of a `models:` entry; throws ModelConfigError naming the key. */
export function parseCapabilityOverrides(value: unknown): CapabilityOverrides {
  const where = 'capabilities';
  if (!isRecord(value)) throw new ModelConfigError(where, 'must be a mapping of capability overrides');
  for (const key of Object.keys(value)) {
    if (!(OVERRIDE_KEYS as readonly string[]).includes(key))
      throw new ModelConfigError(`${where}.${key}`, `unknown capability (use ${OVERRIDE_KEYS.join(', ')})`);
  }
  const v = (key: string): unknown => value[key];
  const given = (key: string): boolean => v(key) !== undefined && v(key) !== null;
  const field = (key: string): string => `${where}.${key}`;
  const overrides: {
    -readonly [K in keyof CapabilityOverrides]: CapabilityOverrides[K];
  } = {};
  if (given('sizes')) overrides.sizes = stringList(field('sizes'), v('sizes'), sizeName, 'a size (WIDTHxHEIGHT or auto)');
  if (given('custom_sizes')) overrides.customSizes = bool(field('custom_sizes'), v('custom_sizes'));
  if (given('default_size')) overrides.defaultSize = oneString(field('default_size'), v('default_size'), sizeName, 'a size (WIDTHxHEIGHT or auto)');
  if (given('qualities'))
    overrides.qualities = stringList(
      field('qualities'),
      v('qualities'),
      (q) => (QUALITY_NAME.test(q) ? q : null),
      'a quality name (lower-case letters, digits, - or _)',
    );
  if (given('default_quality')) overrides.defaultQuality = oneString(field('default_quality'), v('default_quality'), (q) => q, 'a quality name');
  if (given('max_n')) overrides.maxN = integer(field('max_n'), v('max_n'), 1, MAX_N_LIMIT);
  if (given('max_prompt_chars')) overrides.maxPromptChars = integer(field('max_prompt_chars'), v('max_prompt_chars'), 1, MAX_PROMPT_LIMIT);
  if (v('output_formats') !== undefined) overrides.outputFormats = enumList(field('output_formats'), v('output_formats'), OUTPUT_FORMAT_VALUES);
  if (given('default_output_format')) overrides.defaultOutputFormat = enumOne(field('default_output_format'), v('default_output_format'), OUTPUT_FORMAT_VALUES);
  if (v('backgrounds') !== undefined) overrides.backgrounds = enumList(field('backgrounds'), v('backgrounds'), BACKGROUND_VALUES);
  if (v('styles') === null) overrides.styles = null;
  else if (given('styles')) overrides.styles = stringList(field('styles'), v('styles'), (s) => s, 'a style name');
  if (given('streaming')) overrides.streaming = parseStreaming(field('streaming'), v('streaming'));
  if (given('edits')) overrides.edits = parseEdits(field('edits'), v('edits'));
  if (given('variations')) overrides.variations = bool(field('variations'), v('variations'));
  return overrides;
}

function parseStreaming(where: string, value: unknown): NonNullable<CapabilityOverrides['streaming']> {
  if (value === false) return false;
  if (isRecord(value) && Object.keys(value).every((k) => k === 'max_partial_images') && value.max_partial_images !== undefined) {
    return { maxPartialImages: integer(`${where}.max_partial_images`, value.max_partial_images, 0, 3) };
  }
  throw new ModelConfigError(where, 'must be false or { max_partial_images: 0-3 }');
}

function parseEdits(where: string, value: unknown): NonNullable<CapabilityOverrides['edits']> {
  if (value === false) return false;
  if (isRecord(value) && Object.keys(value).every((k) => k === 'max_images')) {
    return value.max_images === undefined ? {} : { maxImages: integer(`${where}.max_images`, value.max_images, 1, MAX_INPUT_IMAGES) };
  }
  throw new ModelConfigError(where, 'must be false or { max_images: N }');
}

function sizeName(text: string): string | null {
  const lower = text.trim().toLowerCase();
  if (lower === 'auto') return lower;
  const dims = parseSize(lower);
  return dims ? formatSize(dims) : null;
}

function stringList(where: string, value: unknown, read: (text: string) => string | null, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new ModelConfigError(where, `must be a non-empty list, each ${what}`);
  const list = value.map((item: unknown, i) => oneString(`${where}[${i}]`, item, read, what));
  const twice = list.find((item, i) => list.indexOf(item) !== i);
  if (twice !== undefined) throw new ModelConfigError(where, `lists '${twice}' twice`);
  return list;
}

function oneString(where: string, value: unknown, read: (text: string) => string | null, what: string): string {
  const read_ = typeof value === 'string' && value.trim() !== '' ? read(value.trim()) : null;
  if (read_ === null) throw new ModelConfigError(where, `must be ${what} (got ${JSON.stringify(value) ?? String(value)})`);
  return read_;
}

function enumList<T extends string>(where: string, value: unknown, allowed: readonly T[]): T[] {
  if (!Array.isArray(value)) throw new ModelConfigError(where, `must be a list of ${allowed.join(', ')} (empty: the field is refused)`);
  const list = value.map((item: unknown, i) => enumOne(`${where}[${i}]`, item, allowed));
  return [...new Set(list)];
}

function enumOne<T extends string>(where: string, value: unknown, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new ModelConfigError(where, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value) ?? String(value)})`);
  return found;
}

function integer(where: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ModelConfigError(where, `must be a whole number from ${min} to ${max} (got ${JSON.stringify(value) ?? String(value)})`);
  }
  return value;
}

function bool(where: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ModelConfigError(where, `must be true or false (got ${JSON.stringify(value) ?? String(value)})`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The base's rules with the overrides applied, checked against each other. Size and quality
 * overrides start from what the base name accepts (its own size list and defaults, when it has
 * them) and replace it: the result has no narrower list or defaults of its own. Listing `sizes`
 * means exactly those unless `custom_sizes: true` (which needs a base with custom-size limits).
 */
function withOverrides(base: ModelSpec, o: CapabilityOverrides): Pick<ModelSpec, 'capabilities' | 'sizes' | 'defaults'> {
  const c = base.capabilities;
  let capabilities: ModelCapabilities = { ...c };
  let sizes = base.sizes;
  const defaults = { ...base.defaults };
  const set = (patch: Partial<ModelCapabilities>) => {
    capabilities = { ...capabilities, ...patch };
  };
  const at = (key: string) => `capabilities.${key}`;

  if (o.sizes !== undefined || o.customSizes !== undefined || o.defaultSize !== undefined) {
    const listChanged = o.sizes !== undefined || o.customSizes !== undefined;
    const custom = o.customSizes ?? (o.sizes !== undefined ? false : acceptsCustomSizes(base));
    if (custom && !c.customSizeLimits) throw new ModelConfigError(at('custom_sizes'), `${base.id} has no custom-size limits to take custom sizes within`);
    const list = o.sizes ?? acceptedSizes(base);
    const defaultSize = o.defaultSize ?? defaults.size ?? c.defaultSize;
    const customOk = (size: string) => {
      const dims = parseSize(size);
      return custom && c.customSizeLimits !== undefined && dims !== null && customSizeFits(dims.width, dims.height, c.customSizeLimits);
    };
    if (!list.includes(defaultSize) && !customOk(defaultSize)) {
      throw new ModelConfigError(
        at(o.defaultSize !== undefined ? 'default_size' : 'sizes'),
        `the default size '${defaultSize}' is not among the sizes (${list.join(', ')})${o.defaultSize === undefined ? '; set default_size' : ''}`,
      );
    }
    const { aspectRatioSizes, customSizeLimits, ...rest } = capabilities;
    capabilities = {
      ...rest,
      sizes: list,
      customSizes: custom,
      defaultSize,
      ...(custom && customSizeLimits ? { customSizeLimits } : {}),
      // The family's aspect-ratio table fits its own sizes only; otherwise the nearest listed size.
      ...(!listChanged && aspectRatioSizes ? { aspectRatioSizes } : {}),
    };
    if (listChanged) sizes = undefined;
    delete defaults.size;
  }

  if (o.qualities !== undefined || o.defaultQuality !== undefined) {
    const qualities = o.qualities ?? c.qualities;
    const defaultQuality = o.defaultQuality ?? defaults.quality ?? c.defaultQuality;
    if (!qualities.includes(defaultQuality)) {
      throw new ModelConfigError(
        at(o.defaultQuality !== undefined ? 'default_quality' : 'qualities'),
        `the default quality '${defaultQuality}' is not among the qualities (${qualities.join(', ')})${o.defaultQuality === undefined ? '; set default_quality' : ''}`,
      );
    }
    if (c.autoQualityIsDefault && defaultQuality === 'auto') {
      throw new ModelConfigError(at('default_quality'), `${base.id} sends auto as its default quality, so the default cannot be auto`);
    }
    set({ qualities, defaultQuality });
    delete defaults.quality;
  }

  if (o.maxN !== undefined) set({ maxN: o.maxN });
  if (o.maxPromptChars !== undefined) set({ maxPromptChars: o.maxPromptChars });

  if (o.outputFormats !== undefined || o.defaultOutputFormat !== undefined) {
    const formats = o.outputFormats ?? c.outputFormats;
    const fallback = o.defaultOutputFormat ?? c.defaultOutputFormat;
    if (o.defaultOutputFormat !== undefined && formats.length > 0 && !formats.includes(o.defaultOutputFormat)) {
      throw new ModelConfigError(at('default_output_format'), `'${o.defaultOutputFormat}' is not among the output formats (${formats.join(', ')})`);
    }
    if (formats.length > 0 && fallback === undefined) {
      throw new ModelConfigError(at('output_formats'), `${base.id} has no default output format; set default_output_format`);
    }
    set({ outputFormats: formats, ...(fallback !== undefined ? { defaultOutputFormat: fallback } : {}) });
  }

  if (o.backgrounds !== undefined) set({ backgrounds: o.backgrounds });

  if (o.styles !== undefined) {
    const { styles: _dropped, ...rest } = capabilities;
    capabilities = o.styles === null ? rest : { ...rest, styles: o.styles };
  }

  // A new partial-image limit keeps whether the base's upstream streams at all.
  if (o.streaming !== undefined) {
    set({ streaming: o.streaming === false ? null : { ...capabilities.streaming, maxPartialImages: o.streaming.maxPartialImages } });
  }
  if (o.streaming !== undefined && o.streaming !== false && capabilities.outputFormats.length === 0) {
    throw new ModelConfigError(at('streaming'), `${base.id} has no output formats, which stream events report; streaming needs output_formats`);
  }

  if (o.edits !== undefined) {
    if (o.edits === false) set({ edits: null });
    else {
      if (!c.edits) throw new ModelConfigError(at('edits'), `${base.id} takes no input images; edits can only be turned off or narrowed here`);
      const maxImages = o.edits.maxImages ?? c.edits.maxImages;
      if (maxImages > c.edits.maxImages) throw new ModelConfigError(at('edits.max_images'), `${base.id} takes at most ${c.edits.maxImages} images`);
      set({ edits: { ...c.edits, maxImages } });
    }
  }

  if (o.variations !== undefined) {
    if (o.variations && !c.variations) throw new ModelConfigError(at('variations'), `${base.id} makes no variations; they can only be turned off here`);
    if (!o.variations) set({ variations: null });
  }

  return { capabilities, ...(sizes ? { sizes } : {}), defaults };
}

function customSizeFits(width: number, height: number, l: CustomSizeLimits): boolean {
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  return (
    width % l.edgeMultiple === 0 &&
    height % l.edgeMultiple === 0 &&
    long <= l.maxEdge &&
    long / short <= l.maxAspect &&
    width * height >= l.minPixels &&
    width * height <= l.maxPixels
  );
}

/**
 * Which catalogue models the gateway serves now: those some enabled channel lists (or serves
 * `*`), as routing sees its channels. A request naming another is refused as an unknown model.
 */
export interface ServedModels {
  serves(modelId: string): boolean;
  /** Every served id, in catalogue order (what a refusal names). */
  ids(): string[];
}

export class ModelCatalogue {
  private readonly byId = new Map<string, ModelSpec>();

  constructor(models: readonly ModelSpec[]) {
    for (const spec of models) this.byId.set(spec.id, spec);
  }

  /** The built-in models plus the config's entries, in order (an entry may build on an earlier one). */
  static withAliases(aliases: readonly ModelAlias[]): ModelCatalogue {
    const catalogue = new ModelCatalogue(BUILTIN_MODELS);
    for (const alias of aliases) catalogue.add(alias);
    return catalogue;
  }

  /** Adds a config entry; throws Error for an unknown base, ModelConfigError for capabilities that do not fit it. */
  add(alias: ModelAlias): ModelSpec {
    const spec = this.aliasSpec(alias);
    this.byId.set(alias.name, spec);
    return spec;
  }

  get(id: string): ModelSpec | undefined {
    return this.byId.get(id);
  }

  list(): ModelSpec[] {
    return [...this.byId.values()];
  }

  private aliasSpec(alias: ModelAlias): ModelSpec {
    const base = this.byId.get(alias.base);
    if (!base) throw new Error(`model alias '${alias.name}' names unknown base model '${alias.base}'`);
    const own = alias.capabilities ? withOverrides(base, alias.capabilities) : undefined;
    const { sizes: _baseSizes, ...rest } = base;
    return {
      ...(own ? rest : base),
      ...own,
      id: alias.name,
      description: alias.description ?? `${base.description} (${own ? 'own capabilities' : 'alias'})`,
      upstreamModel: alias.upstreamModel ?? base.upstreamModel,
      fixedParams: { ...base.fixedParams, ...alias.params },
    };
  }
}
