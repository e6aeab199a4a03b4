/**
 * sharp, loaded when an image is first decoded, converted or drawn rather than at start: it maps
 * libvips (about 20 MB of RSS), which a gateway relaying images in the format asked never needs.
 */
import type Sharp from 'sharp';

let loading: Promise<typeof Sharp> | undefined;

export function loadSharp(): Promise<typeof Sharp> {
  loading ??= import('sharp').then((module) => module.default);
  return loading;
}
