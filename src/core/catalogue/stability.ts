/**
 * Stability AI's models (its v2beta Stable Image REST API, api.stability.ai; providers/stability/).
 *
 * Generation: Stable Image Ultra (`generate/ultra`), Stable Image Core (`generate/core`) and the
 * Stable Diffusion 3.5 models (`generate/sd3`, the model a form field). Stability takes an
 * `aspect_ratio` of nine (1:1, 16:9, 9:16, 21:9, 9:21, 3:2, 2:3, 5:4, 4:5), not a size: the sizes
 * here are the ~1 megapixel images Ultra and SD3.5 make for each ratio (Stability: "1 megapixel,
 * 1024x1024 by default"), one per ratio, and no other WxH is taken (a 400 naming `size`). Core
 * makes about 1.5 megapixels in the ratio asked: output/ scales it to the size asked, as it does
 * any upstream's other size. `auto`, the default, sends no ratio: Stability's own default, 1:1
 * (Core's at its 1.5 megapixels), or an edit's input's shape; its answer reports the size made.
 * No quality, background, moderation or compression; output_format png, jpeg, webp (Stability's
 * own). A stream gets each whole image as its completed event (Stability does not stream). `style` is Stability's `style_preset` on Ultra and Core. One image per call:
 * n above 1 is one call per image. Ultra and SD3.5 also edit: one input image is their
 * image-to-image (`image` + `strength`).
 *
 * Editing services, one model each, because each is priced on its own: `stable-image-inpaint`
 * (`edit/inpaint`: an image and a mask, or the image's own transparency as the mask) and
 * `stable-image-search-and-replace` (`edit/search-and-replace`: an image, the prompt of what to
 * put in, and `search_prompt`, what to replace). Both answer in the input's shape (size `auto`).
 *
 * Input images: JPEG, PNG or WebP, at least 64 px a side, within Stability's 10 MiB request; its
 * edit services take 4,096 to 9,437,184 pixels, the bound used for every input here.
 *
 * List prices: Stability bills credits per successful call, 1 credit = $0.01 (platform.stability.ai
 * pricing, as quoted by developer.puter.com's "Stability AI API Pricing" (Jun 2026) and
 * aicredits.dev; read 2026-11-30): Ultra 8, SD3.5 Large 6.5, Large Turbo 4, Medium 3.5, Flash 2.5,
 * Core 3; Inpaint 5 and Search and Replace 5 (the edit services' rates on the same list; Locus's
 * resale of Stability marks Inpaint $0.057, 5 credits plus its 15%). Failed generations cost nothing.
 */
import type { InputRules, ModelCapabilities } from '../models.js';
import { type VendorCatalogue, VENDOR_MODEL_DEFAULTS, WHOLE_IMAGE_STREAMING } from './vendor-catalogue.js';

/** Stability's ratios and the image each makes at about 1 megapixel (its SD3 and Ultra outputs). */
export const STABILITY_RATIO_SIZES = {
  '1:1': '1024x1024',
  '16:9': '1344x768',
  '9:16': '768x1344',
  '21:9': '1536x640',
  '9:21': '640x1536',
  '3:2': '1216x832',
  '2:3': '832x1216',
  '5:4': '1088x896',
  '4:5': '896x1088',
} as const;

export type StabilityAspectRatio = keyof typeof STABILITY_RATIO_SIZES;

export const STABILITY_SIZES: readonly string[] = Object.values(STABILITY_RATIO_SIZES);

/** Stability's style_preset values (Ultra and Core). */
export const STABILITY_STYLE_PRESETS = [
  '3d-model',
  'analog-film',
  'anime',
  'cinematic',
  'comic-book',
  'digital-art',
  'enhance',
  'fantasy-art',
  'isometric',
  'line-art',
  'low-poly',
  'modeling-compound',
  'neon-punk',
  'origami',
  'photographic',
  'pixel-art',
  'tile-texture',
] as const;

const MB = 1024 * 1024;

/** One input image, within Stability's 10 MiB request and its edit services' pixel bounds. */
const STABILITY_INPUTS: InputRules = {
  maxImages: 1,
  maxBytesEach: 10 * MB,
  formats: ['png', 'jpeg', 'webp'],
  square: false,
  alphaWithoutMask: false,
  maxSide: 16_384,
  maxPixels: 9_437_184,
};

const STABILITY_BASE = {
  ...VENDOR_MODEL_DEFAULTS,
  customSizes: false,
  maxPromptChars: 10_000,
  maxN: 4,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultOutputFormat: 'png',
  outputCompression: false,
  streaming: WHOLE_IMAGE_STREAMING,
} as const satisfies Partial<ModelCapabilities>;

/** A generation: Stability's ratios as sizes. */
const STABILITY = {
  ...STABILITY_BASE,
  sizes: ['auto', ...STABILITY_SIZES],
  // The task API's aspect_ratio is the nearest of these (4:3 is 3:2's 1216x832): no table of its own.
  defaultSize: 'auto',
} as const satisfies ModelCapabilities;

/** An editing service: one input image, the answer in its shape. */
const EDIT_SERVICE = { ...STABILITY_BASE, sizes: ['auto'], defaultSize: 'auto' } as const satisfies ModelCapabilities;

export const STABILITY_CATALOGUE = {
  vendor: 'stability',
  rules: {
    'stable-image-ultra': { ...STABILITY, styles: STABILITY_STYLE_PRESETS, edits: STABILITY_INPUTS },
    'stable-image-core': { ...STABILITY, styles: STABILITY_STYLE_PRESETS },
    'sd3.5': { ...STABILITY, edits: STABILITY_INPUTS },
    // Without a mask, the image's transparency is the edit area (Stability reads its alpha channel).
    'stable-image-inpaint': { ...EDIT_SERVICE, edits: { ...STABILITY_INPUTS, alphaWithoutMask: true } },
    'stable-image-search-and-replace': { ...EDIT_SERVICE, edits: STABILITY_INPUTS },
  },
  models: [
    { id: 'stable-image-ultra', family: 'stable-image-ultra', description: 'Stable Image Ultra (Stability AI)', usdPerImage: 0.08 },
    { id: 'stable-image-core', family: 'stable-image-core', description: 'Stable Image Core (Stability AI)', usdPerImage: 0.03 },
    { id: 'sd3.5-large', family: 'sd3.5', description: 'Stable Diffusion 3.5 Large (Stability AI)', usdPerImage: 0.065 },
    { id: 'sd3.5-large-turbo', family: 'sd3.5', description: 'Stable Diffusion 3.5 Large Turbo (Stability AI)', usdPerImage: 0.04 },
    { id: 'sd3.5-medium', family: 'sd3.5', description: 'Stable Diffusion 3.5 Medium (Stability AI)', usdPerImage: 0.035 },
    { id: 'sd3.5-flash', family: 'sd3.5', description: 'Stable Diffusion 3.5 Flash (Stability AI)', usdPerImage: 0.025 },
    {
      id: 'stable-image-inpaint',
      family: 'stable-image-inpaint',
      description: 'Stability AI Inpaint: an image and a mask (edits only)',
      usdPerImage: 0.05,
    },
    {
      id: 'stable-image-search-and-replace',
      family: 'stable-image-search-and-replace',
      description: 'Stability AI Search and Replace: an image and search_prompt (edits only)',
      usdPerImage: 0.05,
    },
  ],
} as const satisfies VendorCatalogue<'stable-image-ultra' | 'stable-image-core' | 'sd3.5' | 'stable-image-inpaint' | 'stable-image-search-and-replace'>;
