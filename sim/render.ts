// Placeholder image rendering for the simulator: real, decodable images of the
// requested size and format that show the prompt, made quickly with sharp. Edits and
// variations are composed from their input images so a person can see what was done.
// Text is the demo channel's (src/providers/demo/text.ts): its own font, so a prompt in any
// script shows as its glyphs.
import sharp from 'sharp';
import { drawText, textOverlay, type TextBox, type TextStyle } from '../src/providers/demo/text.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface RenderOptions {
  width: number;
  height: number;
  format: ImageFormat;
  /** The prompt to show; escaped, truncated and wrapped here. */
  text: string;
  /** 0-100, jpeg/webp quality. */
  compression?: number;
  /** Alpha background (png/webp only; jpeg has no alpha). */
  transparent?: boolean;
  /** Image index: varies the background colour. */
  variant?: number;
}

/**
 * The most pixels an input image may have: edits and variations decode the caller's images, so
 * a small file that claims a huge size must not reach a decoder unbounded. The same bound as
 * the gateway's for GPT image inputs (8192x8192).
 */
export const MAX_INPUT_PIXELS = 8192 * 8192;
const INPUT_LIMIT = { limitInputPixels: MAX_INPUT_PIXELS } as const;

const MAX_TEXT_CHARS = 200;
// Solid bands instead of an SVG gradient: cairo fills them several times faster
// (a 4K gradient fill alone costs ~100 ms), and they still read as a gradient.
const MAX_BANDS = 96;
/** The prompt in white on a dark halo; on a transparent background, dark on a light one. */
const ON_COLOUR = { colour: '#ffffff', halo: '#000000', haloOpacity: 0.5 } as const;
const ON_CLEAR = { colour: '#1a1a1a', halo: '#ffffff', haloOpacity: 0.6 } as const;

export async function renderImage(opts: RenderOptions): Promise<Buffer> {
  const width = toDimension(opts.width, 'width');
  const height = toDimension(opts.height, 'height');
  const transparent = opts.transparent === true && opts.format !== 'jpeg';
  const variant = opts.variant ?? 0;
  // Drawn in memory, the bands and then the text: no SVG to rasterise, no compositing pass over the whole image.
  // Opaque images are plain RGB like OpenAI's.
  const pixels = transparent
    ? ({ data: Buffer.alloc(width * height * 4), width, height, channels: 4 } as const)
    : ({ data: bandPixels(width, height, variant), width, height, channels: 3 } as const);
  const size = promptSize(width, height);
  await drawText(pixels, prepareText(opts.text), promptBox(width, height, 0), { size, ...(transparent ? ON_CLEAR : ON_COLOUR) });
  const caption = labelSize(size);
  if (caption * 2 <= height)
    await drawText(pixels, `imagegate simulator · ${width}x${height} · #${variant + 1}`, footerBox(width, height, caption), labelStyle(caption));
  return encode(sharp(pixels.data, { raw: { width, height, channels: pixels.channels } }), opts.format, opts.compression).toBuffer();
}

export interface EditRenderOptions {
  width: number;
  height: number;
  format: ImageFormat;
  /** The prompt, overlaid on the edit. */
  text: string;
  /** 0-100, jpeg/webp quality. */
  compression?: number;
  /** png/webp only: a transparent backdrop (inputs keep their alpha) and rounded transparent corners. */
  transparent?: boolean;
  /** The first is edited (it becomes the background); the others show as thumbnails along the bottom. */
  inputs: readonly Buffer[];
  /** OpenAI's mask semantics: its fully transparent areas mark the edit. Same size as inputs[0]. */
  mask?: Buffer;
  /** Image index: varies the colour of the edited area. */
  variant?: number;
}

/**
 * A visible edit: inputs[0] cover-resized as the background, the prompt card's colours where the
 * mask is transparent (a light wash over everything without a mask), the other inputs as
 * thumbnails and the prompt on top. All compositing is sharp's; no per-pixel JS.
 */
export async function renderEdit(opts: EditRenderOptions): Promise<Buffer> {
  const width = toDimension(opts.width, 'width');
  const height = toDimension(opts.height, 'height');
  const [first, ...others] = opts.inputs;
  if (first === undefined) throw new RangeError('renderEdit: needs at least one input image');
  const transparent = opts.transparent === true && opts.format !== 'jpeg';
  const variant = opts.variant ?? 0;
  const [background, edited, thumbnails] = await Promise.all([
    coverLayer(first, width, height),
    editedArea(width, height, variant, opts.mask),
    thumbnailRow(others, width, height),
  ]);
  const overlay = await editOverlay(width, height, opts.text, variant);
  const backdrop = transparent ? { r: 0, g: 0, b: 0, alpha: 0 } : { r: 255, g: 255, b: 255, alpha: 1 };
  const layers = [background, edited, ...thumbnails, ...overlay];
  // A transparent background must really show: cut the edit to a rounded "sticker", even when
  // the inputs are opaque (webp would otherwise drop an alpha channel that is all opaque).
  if (transparent) layers.push({ input: Buffer.from(stickerSvg(width, height), 'utf8'), blend: 'dest-in' });
  const canvas = sharp({ create: { width, height, channels: 4, background: backdrop } });
  const composed = await canvas.composite(layers).raw().toBuffer({ resolveWithObject: true });
  return finish(composed, transparent, opts.format, opts.compression);
}

export interface VariationRenderOptions {
  /** dall-e-2 variations are square. */
  size: number;
  input: Buffer;
  /** Image index: each one shifts the hue differently. */
  variant?: number;
}

/** dall-e-2 style: the input, square, hue-shifted per variant and labelled, as an opaque PNG. */
export async function renderVariation(opts: VariationRenderOptions): Promise<Buffer> {
  const size = toDimension(opts.size, 'size');
  const variant = opts.variant ?? 0;
  const shifted = await sharp(opts.input, INPUT_LIMIT)
    .resize(size, size, { fit: 'cover' })
    .flatten({ background: '#ffffff' })
    .modulate({ hue: (40 + variant * 67) % 360, saturation: 1.2, brightness: 0.94 + 0.03 * (variant % 5) })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const caption = Math.max(6, Math.round(size / 32));
  const label = await textOverlay(`imagegate simulator · variation #${variant + 1}`, footerBox(size, size, caption), labelStyle(caption), size, size);
  if (label === undefined) return finish(shifted, false, 'png', undefined);
  const composed = await sharp(shifted.data, { raw: rawInfo(shifted.info) })
    .composite([label])
    .raw()
    .toBuffer({ resolveWithObject: true });
  return finish(composed, false, 'png', undefined);
}

export interface PreviewOptions {
  /** The final image's size and encoding: a preview is a real image of the same size and format. */
  width: number;
  height: number;
  format: ImageFormat;
  compression?: number;
  transparent?: boolean;
}

/**
 * The size to render streamed preview `index` of `count` at: the last one at 1/4 of the final
 * size, each earlier one half the size of the next, so previews sharpen as they come (as a diffusion
 * model's do). Rendering small is what makes a preview cheap enough to arrive before the final.
 */
export function previewSize(width: number, height: number, index: number, count: number): { width: number; height: number } {
  const scale = 2 ** -(2 + Math.max(0, count - 1 - index));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** A small render enlarged to the final size (soft, as partial images are), encoded like the final. */
export function enlargePreview(preview: Buffer, opts: PreviewOptions): Promise<Buffer> {
  const width = toDimension(opts.width, 'width');
  const height = toDimension(opts.height, 'height');
  const transparent = opts.transparent === true && opts.format !== 'jpeg';
  // `fill`: the preview's rounded size may be a pixel off the final's aspect; the size must be exact.
  let pipeline = sharp(preview).resize(width, height, { fit: 'fill', kernel: 'cubic' });
  if (!transparent) pipeline = pipeline.removeAlpha();
  return encode(pipeline, opts.format, opts.compression).toBuffer();
}

type RawImage = { data: Buffer; info: sharp.OutputInfo };

/** Encodes a composed raw image; a separate pipeline so alpha removal surely follows compositing. */
function finish(image: RawImage, transparent: boolean, format: ImageFormat, compression: number | undefined): Promise<Buffer> {
  let pipeline = sharp(image.data, { raw: rawInfo(image.info) });
  // Opaque images should be plain RGB like OpenAI's.
  if (!transparent) pipeline = pipeline.removeAlpha();
  return encode(pipeline, format, compression).toBuffer();
}

function rawInfo(info: sharp.OutputInfo): { width: number; height: number; channels: 1 | 2 | 3 | 4 } {
  const { channels } = info;
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) throw new Error(`unexpected channel count ${channels}`);
  return { width: info.width, height: info.height, channels };
}

/** `bytes` resized to cover width x height, as sRGB with alpha (grey or opaque inputs included). */
async function coverLayer(bytes: Buffer, width: number, height: number): Promise<sharp.OverlayOptions> {
  const { data, info } = await sharp(bytes, INPUT_LIMIT)
    .resize(width, height, { fit: 'cover' })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { input: data, raw: rawInfo(info) };
}

/**
 * The prompt card's bands cut to the mask's transparent areas: `dest-out` keeps the card where
 * the mask is clear and removes it where the mask is opaque. The mask is cover-resized exactly
 * like inputs[0] (they have the same size), so the two stay aligned.
 */
async function editedArea(width: number, height: number, variant: number, mask: Buffer | undefined): Promise<sharp.OverlayOptions> {
  if (mask === undefined) return { input: Buffer.from(cardSvg(width, height, variant, 0.3), 'utf8') };
  const cutout = await coverLayer(mask, width, height);
  const { data, info } = await sharp(Buffer.from(cardSvg(width, height, variant, 1), 'utf8'))
    .composite([{ ...cutout, blend: 'dest-out' }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { input: data, raw: rawInfo(info) };
}

function cardSvg(width: number, height: number, variant: number, opacity: number): string {
  return `${svgOpen(width, height)}<g shape-rendering="crispEdges" opacity="${opacity}">${backgroundBands(width, height, variant)}</g></svg>`;
}

/** Framed square thumbnails in one row along the bottom, shrunk so that all of them fit. */
async function thumbnailRow(images: readonly Buffer[], width: number, height: number): Promise<sharp.OverlayOptions[]> {
  if (images.length === 0) return [];
  const gap = Math.max(2, Math.round(Math.min(width, height) / 64));
  const border = Math.max(1, Math.round(gap / 3));
  const fitting = Math.floor((width - gap) / images.length) - gap - 2 * border;
  const side = Math.min(Math.round(Math.min(width, height) / 6), fitting);
  const outer = side + 2 * border;
  const top = height - outer - gap;
  if (side < 4 || top < 0) return []; // too small to show anything
  return Promise.all(
    images.map(async (bytes, i): Promise<sharp.OverlayOptions> => {
      const thumb = await sharp(bytes, INPUT_LIMIT)
        .resize(side, side, { fit: 'cover' })
        .extend({ top: border, bottom: border, left: border, right: border, background: '#ffffff' })
        .png({ compressionLevel: 0 })
        .toBuffer();
      return { input: thumb, left: gap + i * (outer + gap), top };
    }),
  );
}

/** A label at the top, then the prompt on a translucent band in the upper part of the image. */
async function editOverlay(width: number, height: number, text: string, variant: number): Promise<sharp.OverlayOptions[]> {
  // Lay the prompt out in the top 40% so the edited image stays visible.
  const band = Math.max(1, Math.round(height * 0.4));
  const size = promptSize(width, band);
  const caption = labelSize(size);
  const offset = Math.round(caption * 2);
  const [prompt, label] = await Promise.all([
    textOverlay(prepareText(text), promptBox(width, band, offset), { size, ...ON_COLOUR }, width, height),
    caption * 3 <= height
      ? textOverlay(
          `imagegate simulator · edit · #${variant + 1}`,
          { left: 0, top: caption * 0.2, width, height: caption * 1.8 },
          labelStyle(caption),
          width,
          height,
        )
      : undefined,
  ]);
  const layers: sharp.OverlayOptions[] = [];
  if (prompt) {
    // The band just behind the prompt's lines.
    const pad = Math.round(size * 0.35);
    const top = Math.max(0, prompt.top - pad);
    const box = `<rect x="0" y="${top}" width="${width}" height="${Math.min(height - top, prompt.raw.height + 2 * pad)}" fill="#000000" fill-opacity="0.35"/>`;
    layers.push({ input: Buffer.from(`${svgOpen(width, height)}${box}</svg>`, 'utf8') }, prompt);
  }
  if (label) layers.push(label);
  return layers;
}

function stickerSvg(width: number, height: number): string {
  const radius = Math.max(1, Math.round(Math.min(width, height) * 0.08));
  return `${svgOpen(width, height)}<rect width="${width}" height="${height}" rx="${radius}" fill="#000000"/></svg>`;
}

function toDimension(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 16384) {
    throw new RangeError(`renderImage: ${name} must be an integer in 1..16384, got ${String(value)}`);
  }
  return value;
}

function encode(pipeline: sharp.Sharp, format: ImageFormat, compression: number | undefined): sharp.Sharp {
  const quality = clampQuality(compression);
  switch (format) {
    case 'png':
      // Low zlib effort: encoding is a third of the time at level 6, sizes stay small.
      return pipeline.png({ compressionLevel: 2, adaptiveFiltering: false });
    case 'jpeg':
      return pipeline.jpeg({ quality });
    case 'webp':
      // effort 0: webp encoding dominates otherwise (4K takes ~0.5 s at default).
      return pipeline.webp({ quality, effort: 0 });
  }
}

function clampQuality(compression: number | undefined): number {
  if (compression === undefined || !Number.isFinite(compression)) return 90;
  return Math.min(100, Math.max(1, Math.round(compression)));
}

function svgOpen(width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`;
}

/** A fourteenth of the image (6 px at least): the prompt's size when it fits, smaller when it does not. */
function promptSize(width: number, height: number): number {
  return Math.max(6, Math.round(Math.min(width, height) / 14));
}

/** The prompt's place in `height` pixels from `offsetY` down: centred, wrapped at 86% of the width, within 80% of the height. */
function promptBox(width: number, height: number, offsetY: number): TextBox {
  return { left: width * 0.07, top: offsetY + height * 0.1, width: width * 0.86, height: height * 0.8 };
}

function labelSize(fontSize: number): number {
  return Math.max(6, Math.round(fontSize * 0.45));
}

/** A caption's place along the foot of a `width` x `height` image. */
function footerBox(width: number, height: number, size: number): TextBox {
  return { left: 0, top: height - size * 2, width, height: size * 1.8 };
}

function labelStyle(size: number): TextStyle {
  return { size, colour: '#ffffff', opacity: 0.7, halo: '#000000', haloOpacity: 0.25 };
}

/** Horizontal bands stepping between two variant-dependent colours: each band's rows and colour. */
function bandRows(height: number, variant: number): { y0: number; y1: number; rgb: Rgb }[] {
  const hue = (210 + variant * 47) % 360;
  const top = hslToRgb(hue, 0.55, 0.32);
  const bottom = hslToRgb((hue + 70) % 360, 0.65, 0.55);
  const count = Math.max(1, Math.min(MAX_BANDS, Math.floor(height / 4)));
  return Array.from({ length: count }, (_, i) => {
    const t = count === 1 ? 0 : i / (count - 1);
    const mixed = (k: 0 | 1 | 2): number => Math.round(top[k] + (bottom[k] - top[k]) * t);
    const rgb: Rgb = [mixed(0), mixed(1), mixed(2)];
    return { y0: Math.floor((i * height) / count), y1: Math.floor(((i + 1) * height) / count), rgb };
  });
}

/** The bands as SVG rectangles. */
function backgroundBands(width: number, height: number, variant: number): string {
  const hex = (rgb: Rgb): string => `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
  return bandRows(height, variant)
    .map(({ y0, y1, rgb }) => `<rect x="0" y="${y0}" width="${width}" height="${y1 - y0}" fill="${hex(rgb)}"/>`)
    .join('');
}

/** The bands as raw RGB pixels: one row painted, the band's other rows copied from it. */
function bandPixels(width: number, height: number, variant: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  const rowBytes = width * 3;
  for (const { y0, y1, rgb } of bandRows(height, variant)) {
    for (let x = 0; x < width; x++) out.set(rgb, y0 * rowBytes + x * 3);
    for (let y = y0 + 1; y < y1; y++) out.copyWithin(y * rowBytes, y0 * rowBytes, (y0 + 1) * rowBytes);
  }
  return out;
}

type Rgb = readonly [number, number, number];

function hslToRgb(h: number, s: number, l: number): Rgb {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

/** Drops characters XML 1.0 forbids, flattens whitespace, truncates by code point. */
function prepareText(text: string): string {
  const cleaned = text
    .replace(/[\u0000-\u001f\u007f\ufffe\uffff]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  if (chars.length <= MAX_TEXT_CHARS) return cleaned;
  return `${chars
    .slice(0, MAX_TEXT_CHARS - 1)
    .join('')
    .trimEnd()}…`;
}

// Fraction of rows filled with noise; tuned so 1024x1024 lands near 2.05 MB
// (incompressible RGB noise costs ~3 bytes per pixel in a PNG).
const NOISE_ROW_FRACTION = 0.65;

/** A PNG that compresses poorly (deterministic noise), for benchmarks. */
export async function renderNoiseImage(width: number, height: number): Promise<Buffer> {
  const w = toDimension(width, 'width');
  const h = toDimension(height, 'height');
  const noiseRows = Math.min(h, Math.round(h * NOISE_ROW_FRACTION));
  const pixels = Buffer.alloc(w * h * 3, 0x80);
  fillNoise(pixels.subarray(0, noiseRows * w * 3), 0x9e3779b9);
  return sharp(pixels, { raw: { width: w, height: h, channels: 3 } })
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer();
}

/** xorshift32: fast, seedable, good enough to defeat deflate. */
function fillNoise(target: Buffer, seed: number): void {
  let state = seed >>> 0 || 1;
  const whole = target.length - (target.length % 4);
  for (let i = 0; i < whole; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    target.writeUInt32LE(state >>> 0, i);
  }
  for (let i = whole; i < target.length; i++) target[i] = (state >>> ((i - whole) * 8)) & 0xff;
}
