/**
 * An OpenAI-dialect mask as Wan's image editor reads one: DashScope's `mask_image_url` is black and
 * white, white where the image changes (the image editor's API reference), so OpenAI's transparent
 * edit area becomes white (../white-edit-mask.ts, which Stability's inpaint shares).
 */
export { whiteWhereTransparent as dashscopeMask } from '../white-edit-mask.js';
