/**
 * OpenAI `size` -> the task API's `aspect_ratio`. Its document lists no enum; its
 * examples use 1:1, 4:3, 3:4 and 16:9. We send only the common GPT Image 2 ratios below.
 */
export const SUPPORTED_ASPECT_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '9:16', '16:9'] as const;
export type AspectRatio = (typeof SUPPORTED_ASPECT_RATIOS)[number];

const RATIO_VALUES: readonly (readonly [AspectRatio, number])[] = SUPPORTED_ASPECT_RATIOS.map((r) => {
  const [w, h] = r.split(':').map(Number);
  return [r, (w ?? 1) / (h ?? 1)] as const;
});

/**
 * The supported ratio nearest to WIDTHxHEIGHT (compared on a log scale, so 2:1 and 1:2 are as far
 * from 1:1). `auto` (and anything unreadable) becomes 1:1: the task API never shows `auto` as a
 * value, and 1:1 is what OpenAI-style upstreams render for `auto` by default.
 */
export function aspectRatioForSize(size: string): AspectRatio {
  const match = /^(\d+)x(\d+)$/.exec(size.trim());
  const width = Number(match?.[1] ?? 0);
  const height = Number(match?.[2] ?? 0);
  if (width <= 0 || height <= 0) return '1:1';
  const target = Math.log(width / height);
  let best: AspectRatio = '1:1';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const [ratio, value] of RATIO_VALUES) {
    const distance = Math.abs(Math.log(value) - target);
    if (distance < bestDistance) {
      best = ratio;
      bestDistance = distance;
    }
  }
  return best;
}
