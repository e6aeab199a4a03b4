/**
 * An OpenAI-dialect mask as the vendors that read a black-and-white mask take one (DashScope's
 * `mask_image_url`, Stability's inpaint `mask`). OpenAI's mask marks what to edit by its fully
 * transparent pixels; theirs are white where the image changes and black where it stays. So the
 * mask becomes a grey PNG: white where its alpha is 0, black everywhere else.
 */
import { loadSharp } from '../core/sharp-loader.js';
import { invalidRequest } from '../core/errors.js';
import { inMemoryBytes } from '../core/input-bytes.js';
import type { InputImage } from '../core/image-input.js';
import { wholeInputBytes } from '../spool/input-bytes-io.js';

/** The inputs' own checks bound a mask to the edit's limits; sharp's cap is the same bound again. */
const MAX_MASK_PIXELS = 4096 * 4096;

/** The client's 400 `invalid_mask` when the mask does not decode (inputs/ checked only its header). */
export async function whiteWhereTransparent(mask: InputImage): Promise<InputImage> {
  const bytes = await wholeInputBytes(mask.bytes);
  const sharp = await loadSharp();
  const whiteWhereTransparent = await sharp(bytes, { limitInputPixels: MAX_MASK_PIXELS })
    .ensureAlpha()
    .extractChannel('alpha')
    .negate()
    // Only fully transparent pixels are edited (OpenAI's rule): 255 - alpha is 255 for them alone.
    .threshold(255)
    .png()
    .toBuffer()
    .catch(() => {
      throw invalidRequest('mask', 'invalid_mask', 'The mask could not be decoded as an image.');
    });
  return { ...mask, bytes: inMemoryBytes(whiteWhereTransparent), format: 'png', hasAlpha: false };
}
