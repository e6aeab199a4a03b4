/** Image size rules, per model family. Pure. */

export interface Dimensions {
  width: number;
  height: number;
}

const SIZE_PATTERN = /^(\d{1,5})x(\d{1,5})$/;

export function parseSize(size: string): Dimensions | null {
  const match = SIZE_PATTERN.exec(size);
  if (!match) return null;
  const width = Number(match[1]);
  const height = Number(match[2]);
  if (width <= 0 || height <= 0) return null;
  return { width, height };
}

export function formatSize({ width, height }: Dimensions): string {
  return `${width}x${height}`;
}

/** gpt-image-2's custom-size constraints (OpenAI's spec, as the relays' documents repeat it). */
export const GPT_IMAGE_2_LIMITS = {
  edgeMultiple: 16,
  maxEdge: 3840,
  maxAspect: 3,
  minPixels: 655_360,
  maxPixels: 8_294_400,
} as const;

/** Returns why a custom size breaks gpt-image-2's rules, or null when it is valid. */
export function gptImage2SizeProblem({ width, height }: Dimensions): string | null {
  const l = GPT_IMAGE_2_LIMITS;
  if (width % l.edgeMultiple !== 0 || height % l.edgeMultiple !== 0) {
    return `both edges must be multiples of ${l.edgeMultiple}`;
  }
  if (Math.max(width, height) > l.maxEdge) return `the long edge must be at most ${l.maxEdge} pixels`;
  if (Math.max(width, height) / Math.min(width, height) > l.maxAspect) {
    return `the aspect ratio must be at most ${l.maxAspect}:1`;
  }
  const pixels = width * height;
  if (pixels < l.minPixels || pixels > l.maxPixels) {
    return `the total pixel count must be between ${l.minPixels.toLocaleString('en-US')} and ${l.maxPixels.toLocaleString('en-US')}`;
  }
  return null;
}
