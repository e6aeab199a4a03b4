/**
 * A Midjourney grid cut into its four images (quality standard): 2x2, left to right then top to
 * bottom, as U1-U4 number them. sharp is loaded at first use (core/sharp-loader.ts); the grid's
 * pixels are bounded before it decodes, so a hostile answer cannot claim a huge picture.
 */
import { loadSharp } from '../../core/sharp-loader.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';

/** Twice Midjourney's largest image a side (1456 px) at 2x upscales, with room to spare. */
const MAX_GRID_PIXELS = 8192 * 8192;

/** The first `count` quarters of the grid, as PNGs (lossless: output/ converts once, to the format asked). */
export async function splitGrid(grid: Buffer, count: number): Promise<Buffer[]> {
  const sharp = await loadSharp();
  let width: number;
  let height: number;
  try {
    const meta = await sharp(grid, { limitInputPixels: MAX_GRID_PIXELS }).metadata();
    width = meta.width ?? 0;
    height = meta.height ?? 0;
  } catch {
    throw new UpstreamFailure('protocol', 'the Midjourney grid could not be decoded');
  }
  const half = { width: Math.floor(width / 2), height: Math.floor(height / 2) };
  if (half.width < 1 || half.height < 1) throw new UpstreamFailure('protocol', `the Midjourney grid is ${width}x${height}: too small to split`);
  return Promise.all(
    Array.from({ length: count }, (_, index) =>
      sharp(grid, { limitInputPixels: MAX_GRID_PIXELS })
        .extract({ left: (index % 2) * half.width, top: Math.floor(index / 2) * half.height, ...half })
        .png()
        .toBuffer(),
    ),
  );
}
