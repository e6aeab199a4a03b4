/**
 * Black Forest Labs' FLUX models, as BFL's own API serves them (the `bfl` channel kind; fal,
 * Replicate and OpenRouter channels map these same ids to their names for them). Every id's
 * `upstreamModel` is BFL's endpoint, `POST /v1/{upstreamModel}`.
 *
 * Rules (BFL's API reference and its published API skill, read 2026-11-30):
 * - FLUX.2 (pro, max, flex, klein 4B/9B): `width`/`height`, both multiples of 16, from 64x64 up to
 *   4 megapixels (2048x2048); any such size is taken. Input images (`input_image`,
 *   `input_image_2`, ...): up to 8 references (klein: 4); an edit without a size answers in its
 *   first input's size (`auto`). Prompts up to 32K tokens.
 * - FLUX.1 Kontext (pro, max): `aspect_ratio` (21:9 to 9:21) at about one megapixel, the sizes of
 *   BFL's Kontext resolution list; one `input_image`, whose shape an edit keeps (`auto`).
 * - FLUX1.1 [pro]: `width`/`height`, multiples of 32, 256-1440 px a side; no input images here.
 * - FLUX1.1 [pro] Ultra: `aspect_ratio` at about 4 megapixels (and `raw`, passed through).
 * BFL answers JPEG or PNG (`output_format`; Kontext WebP too); the gateway converts to WebP
 * elsewhere when asked. One image per task: n is 1. No quality, background, moderation or style.
 * A stream waits for the task (keep-alive comments) and gets the image as its completed event.
 *
 * Prices (BFL's pricing page and API skill, read 2026-11-30; 1 credit = $0.01): FLUX.2 is priced per
 * megapixel of output, the first megapixel at one rate and each further one at another (pro 3c +
 * 1.5c, max 7c + 3c, flex 5c + 5c, klein 4B 1.4c + 0.1c, klein 9B 1.5c + 0.2c), plus input
 * megapixels of an edit at the second rate: `flux2PriceUsd` gives each size's figure (output only),
 * default-prices.ts lays it over every listed size. FLUX.1 models are priced per image: Kontext pro
 * $0.04, Kontext max $0.08, FLUX1.1 [pro] $0.04, FLUX1.1 [pro] Ultra $0.06.
 */
import type { AspectRatio } from '../aspect-ratio.js';
import type { InputRules, ModelCapabilities } from '../models.js';
import type { CustomSizeLimits } from '../sizes.js';
import { type VendorCatalogue, VENDOR_MODEL_DEFAULTS, WHOLE_IMAGE_STREAMING } from './vendor-catalogue.js';

const MB = 1024 * 1024;

/** BFL takes input images up to 20 MB and 20 megapixels, as URLs or base64. */
const BFL_INPUTS: InputRules = {
  maxImages: 8,
  maxBytesEach: 20 * MB,
  formats: ['png', 'jpeg', 'webp'],
  square: false,
  alphaWithoutMask: false,
  maxSide: 8192,
  maxPixels: 20_000_000,
};

export const FLUX2_LIMITS = {
  edgeMultiple: 16,
  maxEdge: 2048,
  maxAspect: 32,
  minPixels: 64 * 64,
  maxPixels: 2048 * 2048,
} as const satisfies CustomSizeLimits;

export const FLUX_11_PRO_LIMITS = {
  edgeMultiple: 32,
  maxEdge: 1440,
  maxAspect: 1440 / 256,
  minPixels: 256 * 256,
  maxPixels: 1440 * 1440,
} as const satisfies CustomSizeLimits;

/** FLUX.2's listed sizes (any other within FLUX2_LIMITS is taken too): about 1, 2 and 4 megapixels. */
export const FLUX2_SIZES = [
  'auto',
  '1024x1024',
  '1248x832',
  '832x1248',
  '1152x864',
  '864x1152',
  '1360x768',
  '768x1360',
  '1440x1440',
  '1920x1088',
  '1088x1920',
  '2048x2048',
] as const;

/** The task API's aspect_ratio on FLUX.2: each ratio at about one megapixel, exact in multiples of 16. */
const FLUX2_RATIOS = {
  auto: 'auto',
  '1:1': '1024x1024',
  '3:2': '1248x832',
  '2:3': '832x1248',
  '4:3': '1152x864',
  '3:4': '864x1152',
  '5:4': '1120x896',
  '4:5': '896x1120',
  '16:9': '1280x720',
  '9:16': '720x1280',
  '21:9': '1568x672',
  '9:21': '672x1568',
} as const satisfies Record<AspectRatio, string>;

/**
 * BFL's Kontext resolutions (about one megapixel, 21:9 to 9:21), each sent as an aspect ratio
 * whose nearest Kontext resolution is that size (BFL makes the listed size nearest the ratio asked).
 */
export const KONTEXT_SIZES: Readonly<Record<string, string>> = {
  '1568x672': '21:9',
  '1504x688': '94:43',
  '1456x720': '2:1',
  '1392x752': '16:9',
  '1328x800': '5:3',
  '1248x832': '3:2',
  '1184x880': '4:3',
  '1104x944': '7:6',
  '1024x1024': '1:1',
  '944x1104': '6:7',
  '880x1184': '3:4',
  '832x1248': '2:3',
  '800x1328': '3:5',
  '752x1392': '9:16',
  '720x1456': '1:2',
  '688x1504': '43:94',
  '672x1568': '9:21',
};

/** FLUX1.1 [pro] Ultra's sizes (about four megapixels), each sent as its aspect ratio. */
export const ULTRA_SIZES: Readonly<Record<string, string>> = {
  '2048x2048': '1:1',
  '2496x1664': '3:2',
  '1664x2496': '2:3',
  '2368x1792': '4:3',
  '1792x2368': '3:4',
  '2752x1536': '16:9',
  '1536x2752': '9:16',
  '3136x1344': '21:9',
  '1344x3136': '9:21',
};

/** The task API's aspect_ratio on FLUX1.1 [pro]: each ratio exact in multiples of 32, within its 256-1440 px sides. */
const FLUX_11_PRO_RATIOS = {
  auto: '1024x768',
  '1:1': '1024x1024',
  '3:2': '1152x768',
  '2:3': '768x1152',
  '4:3': '1024x768',
  '3:4': '768x1024',
  '5:4': '1280x1024',
  '4:5': '1024x1280',
  '16:9': '1024x576',
  '9:16': '576x1024',
  '21:9': '1344x576',
  '9:21': '576x1344',
} as const satisfies Record<AspectRatio, string>;

const KONTEXT_RATIOS = {
  auto: 'auto',
  '1:1': '1024x1024',
  '3:2': '1248x832',
  '2:3': '832x1248',
  '4:3': '1184x880',
  '3:4': '880x1184',
  '5:4': '1104x944',
  '4:5': '944x1104',
  '16:9': '1392x752',
  '9:16': '752x1392',
  '21:9': '1568x672',
  '9:21': '672x1568',
} as const satisfies Record<AspectRatio, string>;

const ULTRA_RATIOS = {
  auto: '2048x2048',
  '1:1': '2048x2048',
  '3:2': '2496x1664',
  '2:3': '1664x2496',
  '4:3': '2368x1792',
  '3:4': '1792x2368',
  '5:4': '2368x1792',
  '4:5': '1792x2368',
  '16:9': '2752x1536',
  '9:16': '1536x2752',
  '21:9': '3136x1344',
  '9:21': '1344x3136',
} as const satisfies Record<AspectRatio, string>;

const FLUX = {
  ...VENDOR_MODEL_DEFAULTS,
  maxN: 1,
  outputFormats: ['jpeg', 'png', 'webp'],
  outputCompression: true,
  streaming: WHOLE_IMAGE_STREAMING,
} as const satisfies Partial<ModelCapabilities>;

const FLUX2 = {
  ...FLUX,
  sizes: FLUX2_SIZES,
  customSizes: true,
  customSizeLimits: FLUX2_LIMITS,
  defaultSize: '1024x1024',
  aspectRatioSizes: FLUX2_RATIOS,
  maxPromptChars: 32_000,
  defaultOutputFormat: 'jpeg',
  edits: BFL_INPUTS,
} as const satisfies ModelCapabilities;

type BflFamily = 'flux-2' | 'flux-2-flex' | 'flux-2-klein' | 'flux-kontext' | 'flux-1.1-pro' | 'flux-1.1-pro-ultra';

/** One FLUX.2 model's megapixel rates, in US dollars. */
export interface Flux2Rates {
  readonly firstMegapixel: number;
  readonly extraMegapixel: number;
}

export const FLUX2_RATES: Readonly<Record<string, Flux2Rates>> = {
  'flux-2-pro': { firstMegapixel: 0.03, extraMegapixel: 0.015 },
  'flux-2-max': { firstMegapixel: 0.07, extraMegapixel: 0.03 },
  'flux-2-flex': { firstMegapixel: 0.05, extraMegapixel: 0.05 },
  'flux-2-klein-4b': { firstMegapixel: 0.014, extraMegapixel: 0.001 },
  'flux-2-klein-9b': { firstMegapixel: 0.015, extraMegapixel: 0.002 },
};

/** A FLUX.2 image's list price at a size (megapixels of 2^20 pixels, 1024x1024 being one): the first, then the rest pro rata. */
export function flux2PriceUsd(rates: Flux2Rates, width: number, height: number): number {
  const megapixels = (width * height) / (1024 * 1024);
  return rates.firstMegapixel + Math.max(0, megapixels - 1) * rates.extraMegapixel;
}

export const BFL_CATALOGUE = {
  vendor: 'bfl',
  rules: {
    'flux-2': FLUX2,
    // flex's own family: it takes BFL's `steps` and `guidance` besides.
    'flux-2-flex': FLUX2,
    'flux-2-klein': { ...FLUX2, edits: { ...BFL_INPUTS, maxImages: 4 } },
    'flux-kontext': {
      ...FLUX,
      sizes: ['auto', ...Object.keys(KONTEXT_SIZES)],
      customSizes: false,
      defaultSize: 'auto',
      aspectRatioSizes: KONTEXT_RATIOS,
      maxPromptChars: 10_000,
      defaultOutputFormat: 'png',
      edits: { ...BFL_INPUTS, maxImages: 1 },
    },
    'flux-1.1-pro': {
      ...FLUX,
      sizes: ['1024x768', '768x1024', '1024x1024', '1440x1440', '1440x960', '960x1440', '1440x800', '800x1440'],
      customSizes: true,
      customSizeLimits: FLUX_11_PRO_LIMITS,
      defaultSize: '1024x768',
      aspectRatioSizes: FLUX_11_PRO_RATIOS,
      maxPromptChars: 10_000,
      defaultOutputFormat: 'jpeg',
      edits: null,
    },
    'flux-1.1-pro-ultra': {
      ...FLUX,
      sizes: Object.keys(ULTRA_SIZES),
      customSizes: false,
      defaultSize: '2048x2048',
      aspectRatioSizes: ULTRA_RATIOS,
      maxPromptChars: 10_000,
      defaultOutputFormat: 'jpeg',
      edits: null,
    },
  },
  models: [
    { id: 'flux-2-pro', family: 'flux-2', description: 'FLUX.2 [pro]: up to 4 MP, up to 8 reference images (Black Forest Labs)' },
    { id: 'flux-2-max', family: 'flux-2', description: 'FLUX.2 [max]: highest quality, up to 8 reference images (Black Forest Labs)' },
    { id: 'flux-2-flex', family: 'flux-2-flex', description: 'FLUX.2 [flex]: typography, steps and guidance (Black Forest Labs)' },
    { id: 'flux-2-klein-4b', family: 'flux-2-klein', description: 'FLUX.2 [klein] 4B: fastest, up to 4 reference images (Black Forest Labs)' },
    { id: 'flux-2-klein-9b', family: 'flux-2-klein', description: 'FLUX.2 [klein] 9B: fast, up to 4 reference images (Black Forest Labs)' },
    {
      id: 'flux-kontext-pro',
      family: 'flux-kontext',
      description: 'FLUX.1 Kontext [pro]: editing with one reference image (Black Forest Labs)',
      usdPerImage: 0.04,
    },
    { id: 'flux-kontext-max', family: 'flux-kontext', description: 'FLUX.1 Kontext [max]: editing, highest quality (Black Forest Labs)', usdPerImage: 0.08 },
    { id: 'flux-1.1-pro', family: 'flux-1.1-pro', upstreamModel: 'flux-pro-1.1', description: 'FLUX1.1 [pro] (Black Forest Labs)', usdPerImage: 0.04 },
    {
      id: 'flux-1.1-pro-ultra',
      family: 'flux-1.1-pro-ultra',
      upstreamModel: 'flux-pro-1.1-ultra',
      description: 'FLUX1.1 [pro] Ultra: about 4 MP, raw mode (Black Forest Labs)',
      usdPerImage: 0.06,
    },
  ],
} as const satisfies VendorCatalogue<BflFamily>;
