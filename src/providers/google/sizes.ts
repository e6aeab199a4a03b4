/**
 * A size of Google's (core/models.ts lists them: one per aspect ratio and resolution tier) as the
 * two fields Google takes instead: the aspect ratio, the nearest in shape among those the API
 * names (its sizes are rounded to multiples of 16 or so, e.g. 864x1184 is 3:4), and the tier from
 * the long edge (1K up to about 1,600 px, 2K up to about 3,200, 4K beyond).
 */
import { shapeDistance } from '../../core/aspect-ratio.js';
import { parseSize } from '../../core/sizes.js';

/** generateContent's imageConfig.aspectRatio values. */
export const GEMINI_ASPECT_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] as const;
/** Imagen's parameters.aspectRatio values. */
export const IMAGEN_ASPECT_RATIOS = ['1:1', '3:4', '4:3', '9:16', '16:9'] as const;

export type ResolutionTier = '1K' | '2K' | '4K';

export interface GoogleShape {
  readonly aspectRatio: string;
  readonly tier: ResolutionTier;
}

/** Google's sizes are within 0.07 (on the log scale) of their ratio; a size further from every ratio has none. */
const MAX_SHAPE_DISTANCE = 0.1;

export function googleShape(size: string, ratios: readonly string[]): GoogleShape | undefined {
  const dims = parseSize(size);
  if (!dims) return undefined;
  const shape = dims.width / dims.height;
  let best: { ratio: string; distance: number } | undefined;
  for (const ratio of ratios) {
    const distance = shapeDistance(shape, ratioOf(ratio));
    if (!best || distance < best.distance) best = { ratio, distance };
  }
  if (!best || best.distance > MAX_SHAPE_DISTANCE) return undefined;
  const long = Math.max(dims.width, dims.height);
  return { aspectRatio: best.ratio, tier: long <= 1_700 ? '1K' : long <= 3_500 ? '2K' : '4K' };
}

function ratioOf(ratio: string): number {
  const [w, h] = ratio.split(':').map(Number);
  return (w ?? 1) / (h ?? 1);
}
