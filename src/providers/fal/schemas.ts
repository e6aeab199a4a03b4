/**
 * The input schema families of the fal apps the gateway maps (fal's model pages and the typed
 * endpoint map of its JS client, @fal-ai/client). Each app takes `prompt` and a few of these:
 * - `image_size`: one of fal's names (square_hd, landscape_4_3, ...) or `{width, height}`; the
 *   gateway always sends the exact `{width, height}` it was asked (FLUX, Seedream, Ideogram,
 *   Recraft); Seedream's and FLUX.2 edits' `auto` are fal's own values;
 * - `aspect_ratio` instead (FLUX Kontext, FLUX1.1 Ultra, Imagen 4), the nearest of the app's list;
 *   Imagen 4 adds `resolution` 1K or 2K;
 * - `num_images` (not FLUX.2, nor Recraft: one image per request there);
 * - `output_format` jpeg or png (FLUX); other apps answer PNG or JPEG of their own;
 * - `enable_safety_checker` (FLUX, Seedream, Recraft), always true unless a channel's params say;
 * - input images of an edit app, as data URIs: `image_urls` (FLUX.2, Seedream) or one `image_url`
 *   (Kontext);
 * - their own fields, which a client may send as they are (seed, negative_prompt, ...): `own`.
 */

export type FalSchemaName = 'flux' | 'flux-2' | 'flux-kontext' | 'flux-ultra' | 'seedream' | 'imagen4' | 'ideogram-v3' | 'recraft-v3' | 'generic';

export interface FalSchema {
  readonly name: FalSchemaName;
  /** How the size goes. */
  readonly size: 'image_size' | 'aspect_ratio';
  /** What `auto` is sent as (image_size); unset: not sent, the app picks. */
  readonly autoSize?: string;
  /** aspect_ratio values the app takes. */
  readonly aspectRatios?: readonly string[];
  /** Imagen 4's `resolution` (1K, 2K) beside the ratio. */
  readonly resolution?: boolean;
  readonly numImages: boolean;
  /** output_format values the app takes; empty: none (output/ converts). */
  readonly outputFormats: readonly string[];
  readonly safetyChecker: boolean;
  /** How an edit app takes its input images. */
  readonly inputImages: 'image_urls' | 'image_url' | null;
  readonly maxInputImages: number;
  /** The app's own fields a client may send as they are; null: any (an operator's app, unknown to the gateway). */
  readonly own: readonly string[] | null;
  /** `style` values (Recraft); none: style refused. */
  readonly styles: readonly string[];
}

const KONTEXT_RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21'] as const;

const BASE = {
  size: 'image_size',
  numImages: true,
  outputFormats: [],
  safetyChecker: false,
  inputImages: null,
  maxInputImages: 0,
  styles: [],
} as const satisfies Partial<FalSchema>;

export const FAL_SCHEMAS: Readonly<Record<FalSchemaName, FalSchema>> = {
  flux: { ...BASE, name: 'flux', outputFormats: ['jpeg', 'png'], safetyChecker: true, own: ['seed', 'safety_tolerance', 'enhance_prompt'] },
  'flux-2': {
    ...BASE,
    name: 'flux-2',
    autoSize: 'auto',
    numImages: false,
    outputFormats: ['jpeg', 'png'],
    safetyChecker: true,
    inputImages: 'image_urls',
    maxInputImages: 8,
    own: ['seed', 'safety_tolerance'],
  },
  'flux-kontext': {
    ...BASE,
    name: 'flux-kontext',
    size: 'aspect_ratio',
    aspectRatios: KONTEXT_RATIOS,
    outputFormats: ['jpeg', 'png'],
    inputImages: 'image_url',
    maxInputImages: 1,
    own: ['seed', 'safety_tolerance', 'guidance_scale', 'enhance_prompt'],
  },
  'flux-ultra': {
    ...BASE,
    name: 'flux-ultra',
    size: 'aspect_ratio',
    aspectRatios: KONTEXT_RATIOS,
    outputFormats: ['jpeg', 'png'],
    safetyChecker: true,
    own: ['seed', 'safety_tolerance', 'enhance_prompt', 'raw'],
  },
  seedream: {
    ...BASE,
    name: 'seedream',
    autoSize: 'auto_2K',
    safetyChecker: true,
    inputImages: 'image_urls',
    maxInputImages: 10,
    own: ['seed', 'enhance_prompt_mode'],
  },
  imagen4: {
    ...BASE,
    name: 'imagen4',
    size: 'aspect_ratio',
    aspectRatios: ['1:1', '16:9', '9:16', '3:4', '4:3'],
    resolution: true,
    own: ['seed', 'negative_prompt'],
  },
  'ideogram-v3': { ...BASE, name: 'ideogram-v3', own: ['seed', 'negative_prompt', 'expand_prompt', 'style_codes', 'color_palette'] },
  'recraft-v3': {
    ...BASE,
    name: 'recraft-v3',
    numImages: false,
    safetyChecker: true,
    own: ['style_id', 'colors'],
    styles: ['any', 'realistic_image', 'digital_illustration', 'vector_illustration'],
  },
  generic: { ...BASE, name: 'generic', outputFormats: ['jpeg', 'png'], safetyChecker: true, own: null },
};
