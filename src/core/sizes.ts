/** Image sizes: parsing, and the custom-size limits a model's capabilities may carry. Pure. */

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

/** The bounds of the custom WIDTHxHEIGHT sizes a model takes (a field of its capabilities, core/models.ts). */
export interface CustomSizeLimits {
  /** Both edges are multiples of this. */
  readonly edgeMultiple: number;
  readonly maxEdge: number;
  /** Long edge / short edge at most this. */
  readonly maxAspect: number;
  readonly minPixels: number;
  readonly maxPixels: number;
}

/** gpt-image-2's custom-size constraints (OpenAI's spec, as the relays' documents repeat it). */
export const GPT_IMAGE_2_LIMITS = {
  edgeMultiple: 16,
  maxEdge: 3840,
  maxAspect: 3,
  minPixels: 655_360,
  maxPixels: 8_294_400,
} as const satisfies CustomSizeLimits;

/** Returns why a custom size breaks the limits, or null when it is valid. */
export function customSizeProblem({ width, height }: Dimensions, l: CustomSizeLimits): string | null {
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

/** Returns why a custom size breaks gpt-image-2's rules, or null when it is valid. */
export function gptImage2SizeProblem(dims: Dimensions): string | null {
  return customSizeProblem(dims, GPT_IMAGE_2_LIMITS);
}
