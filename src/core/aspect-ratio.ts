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
 * Model names with their own size list (gpt-image-2-1k/-2k/-4k), and models an operator gave
 * their own sizes, pick the nearest of those. The tables are each family's capabilities
 * (`aspectRatioSizes` in core/models.ts).
 */
import { invalidRequest } from './errors.js';
import { FAMILY_RULES, type ModelCapabilities, type ModelFamily, type ModelSpec } from './models.js';
import { parseSize } from './sizes.js';

/** The ratios a client may send, `auto` first. */
export const ASPECT_RATIOS = ['auto', '1:1', '3:2', '2:3', '4:3', '3:4', '5:4', '4:5', '16:9', '9:16', '21:9', '9:21'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

const PARAM = 'aspect_ratio';

/**
 * family -> ratio -> size; null where the family cannot make that shape (the request is a 400).
 * The tables are the families' capabilities (core/models.ts); exported here for the docs;
 * test/aspect-ratio.test.ts checks every entry against the family's rules.
 */
export const ASPECT_RATIO_SIZES: Readonly<Record<ModelFamily, Readonly<Record<AspectRatio, string | null>>>> = Object.fromEntries(
  (Object.keys(FAMILY_RULES) as ModelFamily[]).map((family) => [family, FAMILY_RULES[family].aspectRatioSizes ?? nearestTable(FAMILY_RULES[family])]),
) as Record<ModelFamily, Record<AspectRatio, string | null>>;

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
  return sizeFromTable(ratio, FAMILY_RULES[family], `${family}`);
}

function sizeFromTable(ratio: string, capabilities: ModelCapabilities, name: string): string {
  const parsed = parseAspectRatio(ratio);
  const size = (capabilities.aspectRatioSizes ?? nearestTable(capabilities))[parsed];
  if (size === null) {
    // A model whose only size is auto answers in its input image's shape (DashScope's Qwen-Image Edit).
    if (capabilities.sizes.every((s) => s === 'auto')) {
      throw invalidRequest(PARAM, 'invalid_value', `${name} answers in its input image's shape; ${PARAM} '${parsed}' is not available (use auto).`);
    }
    const squareOnly = capabilities.sizes.every((s) => s === 'auto' || isSquare(s));
    const why = squareOnly ? `${name} makes square images only` : `${name} has no size shaped like ${parsed}`;
    throw invalidRequest(PARAM, 'invalid_value', `${why}; ${PARAM} '${parsed}' is not available (use 1:1 or auto).`);
  }
  return size;
}

/**
 * For a model: its capabilities' table, or, for a name with its own size list (or a model
 * without a table), the nearest of its sizes (`auto` stays auto: the parser turns it into the
 * default). A ratio exactly between two of its sizes is refused rather than guessed.
 */
export function sizeForModel(ratio: string, model: Pick<ModelSpec, 'id' | 'capabilities' | 'sizes'>): string {
  if (!model.sizes && model.capabilities.aspectRatioSizes) return sizeFromTable(ratio, model.capabilities, model.id);
  const sizes = model.sizes ?? model.capabilities.sizes;
  const parsed = parseAspectRatio(ratio);
  if (parsed === 'auto') return sizes.includes('auto') || model.sizes ? 'auto' : model.capabilities.defaultSize;
  const best = nearestSize(sizes, ratioValue(parsed));
  if (best === undefined) {
    throw invalidRequest(PARAM, 'invalid_value', `${model.id} has no size shaped like ${parsed}. Supported sizes: ${sizes.join(', ')}; send size instead.`);
  }
  return best;
}

/** The enumerated size nearest in shape; undefined when none is, or two are equally near. */
function nearestSize(sizes: readonly string[], target: number): string | undefined {
  const ranked = sizes
    .flatMap((size) => {
      const dims = parseSize(size);
      return dims ? [{ size, distance: shapeDistance(dims.width / dims.height, target) }] : [];
    })
    .sort((a, b) => a.distance - b.distance);
  const [best, next] = ranked;
  if (!best || (next && Math.abs(next.distance - best.distance) < 1e-9)) return undefined;
  return best.size;
}

/**
 * A table for sizes without one of their own: each ratio's nearest size (null when there is none);
 * `auto` is auto where the model takes it, else its default size (Recraft's models have no auto).
 */
function nearestTable({ sizes, defaultSize }: Pick<ModelCapabilities, 'sizes' | 'defaultSize'>): Record<AspectRatio, string | null> {
  const table = {} as Record<AspectRatio, string | null>;
  for (const ratio of ASPECT_RATIOS)
    table[ratio] = ratio === 'auto' ? (sizes.includes('auto') ? 'auto' : defaultSize) : (nearestSize(sizes, ratioValue(ratio)) ?? null);
  return table;
}

function isSquare(size: string): boolean {
  const dims = parseSize(size);
  return dims !== null && dims.width === dims.height;
}
