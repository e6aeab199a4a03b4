// Placeholder image rendering for the simulator: real, decodable images of the
// requested size and format that show the prompt, made quickly with sharp. Edits and
// variations are composed from their input images so a person can see what was done.
import sharp from 'sharp';

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
const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

export async function renderImage(opts: RenderOptions): Promise<Buffer> {
  const width = toDimension(opts.width, 'width');
  const height = toDimension(opts.height, 'height');
  const transparent = opts.transparent === true && opts.format !== 'jpeg';
  const svg = buildSvg(width, height, opts.text, opts.variant ?? 0, transparent);
  let pipeline = sharp(Buffer.from(svg, 'utf8'));
  // librsvg always yields RGBA; opaque images should be plain RGB like OpenAI's.
  if (!transparent) pipeline = pipeline.removeAlpha();
  return encode(pipeline, opts.format, opts.compression).toBuffer();
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
  const overlay: sharp.OverlayOptions = { input: Buffer.from(editOverlaySvg(width, height, opts.text, variant), 'utf8') };
  const backdrop = transparent ? { r: 0, g: 0, b: 0, alpha: 0 } : { r: 255, g: 255, b: 255, alpha: 1 };
  const layers = [background, edited, ...thumbnails, overlay];
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
  const label = labelSvg(size, size, `imagegate simulator · variation #${variant + 1}`);
  const composed = await sharp(shifted.data, { raw: rawInfo(shifted.info) })
    .composite([{ input: Buffer.from(label, 'utf8') }])
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
function editOverlaySvg(width: number, height: number, text: string, variant: number): string {
  // Lay the prompt out in the top 40% so the edited image stays visible.
  const band = Math.max(1, Math.round(height * 0.4));
  const layout = layoutText(prepareText(text), width, band);
  const size = labelSize(layout.fontSize);
  const label = size * 3 <= height ? labelText(width, Math.round(size * 1.4), size, `imagegate simulator · edit · #${variant + 1}`) : '';
  const offset = Math.round(size * 2);
  const pad = Math.round(layout.fontSize * 0.35);
  const boxTop = offset + layout.firstBaseline - layout.fontSize - pad;
  const boxHeight = layout.lines.length * layout.lineHeight + 2 * pad;
  const box = `<rect x="0" y="${boxTop}" width="${width}" height="${boxHeight}" fill="#000000" fill-opacity="0.35"/>`;
  return `${svgOpen(width, height)}${box}${promptText(layout, width, offset, '#ffffff', '#000000')}${label}</svg>`;
}

function stickerSvg(width: number, height: number): string {
  const radius = Math.max(1, Math.round(Math.min(width, height) * 0.08));
  return `${svgOpen(width, height)}<rect width="${width}" height="${height}" rx="${radius}" fill="#000000"/></svg>`;
}

function labelSvg(width: number, height: number, label: string): string {
  const size = Math.max(6, Math.round(Math.min(width, height) / 32));
  return `${svgOpen(width, height)}${labelText(width, height - size, size, label)}</svg>`;
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

function buildSvg(width: number, height: number, text: string, variant: number, transparent: boolean): string {
  const layout = layoutText(prepareText(text), width, height);
  const background = transparent ? '' : backgroundBands(width, height, variant);
  const fill = transparent ? '#1a1a1a' : '#ffffff';
  const stroke = transparent ? '#ffffff' : '#000000';
  const footer = footerText(width, height, variant, layout.fontSize);
  return `${svgOpen(width, height)}<g shape-rendering="crispEdges">${background}</g>` + `${promptText(layout, width, 0, fill, stroke)}${footer}</svg>`;
}

function svgOpen(width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`;
}

/** The wrapped prompt, centred horizontally; `offsetY` moves the whole block down. */
function promptText(layout: TextLayout, width: number, offsetY: number, fill: string, stroke: string): string {
  const strokeWidth = Math.max(1, Math.round(layout.fontSize / 12));
  const lines = layout.lines
    .map((line, i) => `<tspan x="${width / 2}" y="${offsetY + layout.firstBaseline + i * layout.lineHeight}">${escapeXml(line)}</tspan>`)
    .join('');
  return (
    `<text font-family="${FONT_FAMILY}" font-size="${layout.fontSize}" fill="${fill}" stroke="${stroke}" ` +
    `stroke-width="${strokeWidth}" stroke-opacity="0.35" paint-order="stroke" text-anchor="middle">${lines}</text>`
  );
}

function footerText(width: number, height: number, variant: number, fontSize: number): string {
  const size = labelSize(fontSize);
  if (size * 2 > height) return '';
  return labelText(width, height - size, size, `imagegate simulator · ${width}x${height} · #${variant + 1}`);
}

function labelSize(fontSize: number): number {
  return Math.max(6, Math.round(fontSize * 0.45));
}

function labelText(width: number, baseline: number, size: number, label: string): string {
  return (
    `<text x="${width / 2}" y="${baseline}" font-family="${FONT_FAMILY}" font-size="${size}" ` +
    `fill="#ffffff" fill-opacity="0.7" text-anchor="middle">${escapeXml(label)}</text>`
  );
}

/** Horizontal bands stepping between two variant-dependent colours. */
function backgroundBands(width: number, height: number, variant: number): string {
  const hue = (210 + variant * 47) % 360;
  const top = hslToRgb(hue, 0.55, 0.32);
  const bottom = hslToRgb((hue + 70) % 360, 0.65, 0.55);
  const count = Math.max(1, Math.min(MAX_BANDS, Math.floor(height / 4)));
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = count === 1 ? 0 : i / (count - 1);
    const y0 = Math.floor((i * height) / count);
    const y1 = Math.floor(((i + 1) * height) / count);
    parts.push(`<rect x="0" y="${y0}" width="${width}" height="${y1 - y0}" fill="${mixHex(top, bottom, t)}"/>`);
  }
  return parts.join('');
}

type Rgb = readonly [number, number, number];

function hslToRgb(h: number, s: number, l: number): Rgb {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

function mixHex(a: Rgb, b: Rgb, t: number): string {
  const channel = (i: 0 | 1 | 2): string =>
    Math.round(a[i] + (b[i] - a[i]) * t)
      .toString(16)
      .padStart(2, '0');
  return `#${channel(0)}${channel(1)}${channel(2)}`;
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

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c] ?? c);
}

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

interface TextLayout {
  fontSize: number;
  lineHeight: number;
  lines: string[];
  firstBaseline: number;
}

/** Picks the largest font size (down to a floor) at which the wrapped text fits. */
function layoutText(text: string, width: number, height: number): TextLayout {
  const minFont = 6;
  let fontSize = Math.max(minFont, Math.round(Math.min(width, height) / 14));
  for (;;) {
    // ~0.6 em per glyph is a fair average for a sans-serif font.
    const perLine = Math.max(1, Math.floor((width * 0.86) / (fontSize * 0.6)));
    const lineHeight = Math.round(fontSize * 1.25);
    const lines = wrap(text, perLine);
    const fits = lines.length * lineHeight <= height * 0.8;
    if (fits || fontSize <= minFont) {
      const maxLines = Math.max(1, Math.floor((height * 0.8) / lineHeight));
      const shown = lines.slice(0, maxLines);
      const blockHeight = shown.length * lineHeight;
      const firstBaseline = Math.round((height - blockHeight) / 2 + fontSize);
      return { fontSize, lineHeight, lines: shown, firstBaseline };
    }
    fontSize = Math.max(minFont, Math.floor(fontSize * 0.85));
  }
}

/** Greedy word wrap; words longer than a line are split. */
function wrap(text: string, perLine: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    for (const piece of splitLong(word, perLine)) {
      if (current === '') current = piece;
      else if (Array.from(current).length + 1 + Array.from(piece).length <= perLine) current += ` ${piece}`;
      else {
        lines.push(current);
        current = piece;
      }
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

function splitLong(word: string, perLine: number): string[] {
  const chars = Array.from(word);
  if (chars.length <= perLine) return [word];
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += perLine) pieces.push(chars.slice(i, i + perLine).join(''));
  return pieces;
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
