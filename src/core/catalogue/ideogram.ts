/**
 * Ideogram's models. Ideogram 3.0 comes in three rendering speeds, each its own public name here
 * (Turbo, Balanced, Quality: Ideogram's `rendering_speed`); fal serves all three as one app
 * (`fal-ai/ideogram/v3`, its rendering_speed set per model in providers/fal/apps.ts). Ideogram's API takes
 * one of its listed resolutions; the sizes here are the common shapes among them (1:1, 4:3, 3:2,
 * 5:3, 16:9, 5:4, 12:5 and their portraits). n 1-8; a negative prompt and a seed go through as
 * Ideogram's own fields. Ideogram answers PNG; the gateway converts to jpeg or webp when asked. No
 * quality (the speed is the model), background, moderation or input images (Ideogram's edit needs
 * a mask of its own convention, not mapped). A stream gets each whole image as its completed event.
 *
 * Prices (Ideogram's API price list as Puter's Ideogram API pricing guide of June 2026 quotes it,
 * read 2026-11-30; a flat fee per output image at every size): 3.0 Turbo $0.03, Default (Balanced)
 * $0.06, Quality $0.09. fal charges the same for its Ideogram V3 app (Balanced $0.06 an image).
 * Ideogram 4.0 (the same tiers at $0.03/$0.06/$0.10) is not here: fal has no app for it yet.
 */
import type { ModelCapabilities } from '../models.js';
import { type VendorCatalogue, VENDOR_MODEL_DEFAULTS, WHOLE_IMAGE_STREAMING } from './vendor-catalogue.js';

/** Resolutions of Ideogram 3.0's list (its `resolution` enum), one or two per common shape. */
export const IDEOGRAM_V3_SIZES = [
  '1024x1024',
  '1152x864',
  '864x1152',
  '1248x832',
  '832x1248',
  '1280x768',
  '768x1280',
  '1312x736',
  '736x1312',
  '1120x896',
  '896x1120',
  '1536x640',
  '640x1536',
] as const;

const IDEOGRAM_V3: ModelCapabilities = {
  ...VENDOR_MODEL_DEFAULTS,
  sizes: IDEOGRAM_V3_SIZES,
  customSizes: false,
  defaultSize: '1024x1024',
  aspectRatioSizes: {
    auto: '1024x1024',
    '1:1': '1024x1024',
    '3:2': '1248x832',
    '2:3': '832x1248',
    '4:3': '1152x864',
    '3:4': '864x1152',
    '5:4': '1120x896',
    '4:5': '896x1120',
    '16:9': '1312x736',
    '9:16': '736x1312',
    '21:9': '1536x640',
    '9:21': '640x1536',
  },
  maxPromptChars: 10_000,
  maxN: 8,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultOutputFormat: 'png',
  outputCompression: true,
  streaming: WHOLE_IMAGE_STREAMING,
};

export const IDEOGRAM_CATALOGUE = {
  vendor: 'ideogram',
  rules: { 'ideogram-v3': IDEOGRAM_V3 },
  models: [
    { id: 'ideogram-v3-turbo', family: 'ideogram-v3', description: 'Ideogram 3.0 Turbo: fastest (Ideogram)', usdPerImage: 0.03 },
    { id: 'ideogram-v3', family: 'ideogram-v3', description: 'Ideogram 3.0 Balanced: text and typography (Ideogram)', usdPerImage: 0.06 },
    { id: 'ideogram-v3-quality', family: 'ideogram-v3', description: 'Ideogram 3.0 Quality: highest quality (Ideogram)', usdPerImage: 0.09 },
  ],
} as const satisfies VendorCatalogue<'ideogram-v3'>;
