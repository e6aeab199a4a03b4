/**
 * The task API's `aspect_ratio` -> an OpenAI `size` the model's family accepts. Pure.
 *
 * Each family has one size per ratio, the one nearest in shape among what the family can make
 * (compared on a log scale, so 2:1 and 1:2 are equally far from 1:1):
 * - gpt-image-2 takes custom sizes, so every ratio is exact, at about 1-1.6 MP with edges that
 *   are multiples of 16 (core/sizes.ts `gptImage2SizeProblem`);
 * - gpt-image-1 has 1024x1024, 1536x1024, 1024x1536 and auto;
 * - dall-e-3 has 1024x1024, 1792x1024, 1024x1792 (no auto: auto is its default, 1024x1024);
 * - dall-e-2 makes squares only: any other ratio is refused rather than silently squared.
 * Model names with their own size list (gpt-image-2-1k/-2k/-4k) pick the nearest of those.
 */
import { invalidRequest } from './errors.js';
import type { ModelFamily, ModelSpec } from './models.js';
import { parseSize } from './sizes.js';

/** The ratios a client may send, `auto` first. */
export const ASPECT_RATIOS = ['auto', '1:1', '3:2', '2:3', '4:3', '3:4', '5:4', '4:5', '16:9', '9:16', '21:9', '9:21'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

const PARAM = 'aspect_ratio';

/**
 * family -> ratio -> size; null where the family cannot make that shape (the request is a 400).
 * Exported for the docs; test/aspect-ratio.test.ts checks every entry against the family's rules.
 */
export const ASPECT_RATIO_SIZES: Readonly<Record<ModelFamily, Readonly<Record<AspectRatio, string | null>>>> = {
  'gpt-image-2': {
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
  },
  'gpt-image-1': {
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
  },
  'dall-e-3': {
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
  },
  'dall-e-2': {
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
  },
};

export function isAspectRatio(value: string): value is AspectRatio {
  return (ASPECT_RATIOS as readonly string[]).includes(value);
}

/** The ratio's width / height; `auto` has none. */
export function ratioValue(ratio: Exclude<AspectRatio, 'auto'>): number {
  const [w, h] = ratio.split(':').map(Number);
  return (w ?? 1) / (h ?? 1);
}

/** How far apart two shapes are: |ln(a / b)|, so a ratio and its inverse are equally far from 1:1. */
export function shapeDistance(a: number, b: number): number {
  return Math.abs(Math.log(a) - Math.log(b));
}

/** The client's value as one of ASPECT_RATIOS, or a 400 naming `aspect_ratio`. */
export function parseAspectRatio(value: unknown): AspectRatio {
  if (typeof value !== 'string') throw invalidRequest(PARAM, 'invalid_type', `${PARAM} must be a string such as '16:9'.`);
  const ratio = value.trim().toLowerCase();
  if (!isAspectRatio(ratio)) {
    throw invalidRequest(PARAM, 'invalid_value', `Invalid ${PARAM} '${value}'. Supported: ${ASPECT_RATIOS.join(', ')}.`);
  }
  return ratio;
}

/** The size of `family` nearest to `ratio`; 400 (param aspect_ratio) for an unknown ratio or a shape the family lacks. */
export function sizeForAspectRatio(ratio: string, family: ModelFamily): string {
  const parsed = parseAspectRatio(ratio);
  const size = ASPECT_RATIO_SIZES[family][parsed];
  if (size === null) {
    throw invalidRequest(PARAM, 'invalid_value', `${family} makes square images only; ${PARAM} '${parsed}' is not available (use 1:1 or auto).`);
  }
  return size;
}

/**
 * For a model: the family's table, or, for a name with its own size list, the nearest of its
 * sizes (`auto` stays auto: the parser turns it into the name's default). A ratio exactly between
 * two of its sizes is refused rather than guessed.
 */
export function sizeForModel(ratio: string, model: Pick<ModelSpec, 'id' | 'family' | 'sizes'>): string {
  if (!model.sizes) return sizeForAspectRatio(ratio, model.family);
  const parsed = parseAspectRatio(ratio);
  if (parsed === 'auto') return 'auto';
  const target = ratioValue(parsed);
  const ranked = model.sizes
    .flatMap((size) => {
      const dims = parseSize(size);
      return dims ? [{ size, distance: shapeDistance(dims.width / dims.height, target) }] : [];
    })
    .sort((a, b) => a.distance - b.distance);
  const [best, next] = ranked;
  if (!best || (next && Math.abs(next.distance - best.distance) < 1e-9)) {
    throw invalidRequest(PARAM, 'invalid_value', `${model.id} has no size shaped like ${parsed}. Supported sizes: ${model.sizes.join(', ')}; send size instead.`);
  }
  return best.size;
}
