/**
 * The demo channel's pictures. No model: real, decodable images of the size and format asked
 * for, drawn with sharp from what the request says. A generation shows its prompt on bands of
 * colour taken from a hash of the prompt, so the same request always draws the same image; an
 * edit starts from its first input image (its mask's clear areas tinted, the other inputs as
 * thumbnails, the prompt on top); a variation is its input re-coloured. Partial images are the
 * same picture drawn small and enlarged, so they sharpen as they come. Text is text.ts's: the
 * demo's own font, so a prompt in any script shows as its glyphs.
 */
import { createHash } from 'node:crypto';
import type Sharp from 'sharp';
import type { OutputFormat } from '../../core/job.js';
import { loadSharp } from '../../core/sharp-loader.js';
import { drawText, textOverlay, type Pixels, type TextBox, type TextStyle } from './text.js';

/** What every picture is: its size, its encoding, and whether its background is transparent. */
export interface Canvas {
  readonly width: number;
  readonly height: number;
  readonly format: OutputFormat;
  /** 0-100, jpeg and webp quality. */
  readonly compression?: number;
  /** png and webp only. */
  readonly transparent: boolean;
}

/** Input images, decoded here: `maxPixels` bounds what a decoder may allocate for one. */
export interface DemoInputs {
  /** The first is edited; the others are shown as thumbnails. */
  readonly images: readonly Buffer[];
  /** Its fully transparent areas mark the edit. */
  readonly mask?: Buffer;
  readonly maxPixels: number;
}

const BANDS = 24;
const MAX_PROMPT_CHARS = 160;
/** The prompt in white on a dark halo; on a transparent background, dark on a light one. */
const ON_COLOUR = { colour: '#ffffff', halo: '#000000', haloOpacity: 0.5 } as const;
const ON_CLEAR = { colour: '#1a1a1a', halo: '#ffffff', haloOpacity: 0.6 } as const;

/**
 * A generation: the prompt over the prompt's colours (`variant`: which of the n images). Drawn in
 * memory (bands, then the text), then encoded: no compositing pass over the whole picture.
 */
export async function drawPrompt(canvas: Canvas, prompt: string, variant: number): Promise<Buffer> {
  const sharp = await loadSharp();
  const { width, height, transparent } = canvas;
  const pixels: Pixels = transparent
    ? { data: Buffer.alloc(width * height * 4), width, height, channels: 4 }
    : { data: bands(width, height, palette(prompt, variant), 3, 255), width, height, channels: 3 };
  await drawText(pixels, cleanPrompt(prompt), promptBox(width, height), { ...(transparent ? ON_CLEAR : ON_COLOUR), size: promptSize(width, height) });
  const caption = label(width, height);
  if (caption) await drawText(pixels, `imagegate demo · ${width}x${height} · #${variant + 1}`, caption.box, caption.style);
  return encode(sharp(pixels.data, { raw: { width, height, channels: pixels.channels } }), canvas);
}

/** An edit: the first input as the background, the edited area tinted, the prompt on a band at the top. */
export async function drawEdit(canvas: Canvas, prompt: string, variant: number, inputs: DemoInputs): Promise<Buffer> {
  const sharp = await loadSharp();
  const { width, height } = canvas;
  const [first, ...others] = inputs.images;
  if (first === undefined) throw new RangeError('an edit needs an input image');
  const limit = { limitInputPixels: inputs.maxPixels };
  const cover = (bytes: Buffer, w: number, h: number) =>
    sharp(bytes, limit).resize(w, h, { fit: 'cover' }).ensureAlpha().png({ compressionLevel: 0 }).toBuffer();
  const layers: Sharp.OverlayOptions[] = [{ input: await cover(first, width, height) }];
  if (inputs.mask) {
    // The tint where the mask is clear: the mask (resized like the image) cuts it away where it is opaque.
    const tint = bands(width, height, palette(prompt, variant), 4, 153);
    const cut = await sharp(tint, { raw: { width, height, channels: 4 } })
      .composite([{ input: await cover(inputs.mask, width, height), blend: 'dest-out' }])
      .png({ compressionLevel: 0 })
      .toBuffer();
    layers.push({ input: cut });
  }
  const side = Math.round(Math.min(width, height) / 6);
  const gap = Math.max(2, Math.round(side / 10));
  if (side >= 8 && others.length > 0) {
    const shown = others.slice(0, Math.max(1, Math.floor((width - gap) / (side + gap))));
    const thumbs = await Promise.all(shown.map((bytes) => cover(bytes, side, side)));
    for (const [i, input] of thumbs.entries()) layers.push({ input, left: gap + i * (side + gap), top: height - side - gap });
  }
  // The prompt on a dark band over the top 40%, the caption at the band's foot (not over the input's own).
  const top = Math.round(height * 0.4);
  const band = `<rect width="${width}" height="${top}" fill="#000000" fill-opacity="0.35"/>`;
  layers.push({ input: Buffer.from(`${svgOpen(width, height)}${band}</svg>`) });
  const caption = label(width, top);
  const texts = await Promise.all([
    textOverlay(cleanPrompt(prompt), promptBox(width, top), { ...ON_COLOUR, size: promptSize(width, top) }, width, height),
    caption ? textOverlay(`imagegate demo · edit · #${variant + 1}`, caption.box, caption.style, width, height) : undefined,
  ]);
  for (const text of texts) if (text) layers.push(text);
  const background = canvas.transparent ? { r: 0, g: 0, b: 0, alpha: 0 } : { r: 255, g: 255, b: 255, alpha: 1 };
  const composed = await sharp({ create: { width, height, channels: 4, background } })
    .composite(layers)
    .png({ compressionLevel: 0 })
    .toBuffer();
  return encode(sharp(composed), canvas);
}

/** A variation: the input, cropped to the canvas, its hues turned by an amount that depends on `variant`. */
export async function drawVariation(canvas: Canvas, variant: number, inputs: DemoInputs): Promise<Buffer> {
  const sharp = await loadSharp();
  const { width, height } = canvas;
  const [input] = inputs.images;
  if (input === undefined) throw new RangeError('a variation needs an input image');
  const turned = await sharp(input, { limitInputPixels: inputs.maxPixels })
    .resize(width, height, { fit: 'cover' })
    .flatten({ background: '#ffffff' })
    .modulate({ hue: (40 + variant * 67) % 360, saturation: 1.2 })
    .png({ compressionLevel: 0 })
    .toBuffer();
  const caption = label(width, height);
  const text = caption ? await textOverlay(`imagegate demo · variation #${variant + 1}`, caption.box, caption.style, width, height) : undefined;
  return encode(text ? sharp(turned).composite([text]) : sharp(turned), canvas);
}

/** Partial image `index` of `count`: drawn at this size (the last at a quarter of the final's, each earlier one half the next). */
export function previewCanvas(canvas: Canvas, index: number, count: number): Canvas {
  const scale = 2 ** -(2 + Math.max(0, count - 1 - index));
  return {
    width: Math.max(1, Math.round(canvas.width * scale)),
    height: Math.max(1, Math.round(canvas.height * scale)),
    format: 'png',
    transparent: canvas.transparent,
  };
}

/** A small drawing enlarged to the final size (soft, as partial images are), encoded like the final. */
export async function enlarge(preview: Buffer, canvas: Canvas): Promise<Buffer> {
  const sharp = await loadSharp();
  return encode(sharp(preview).resize(canvas.width, canvas.height, { fit: 'fill', kernel: 'cubic' }), canvas);
}

/** Opaque images are plain RGB; png at a low zlib effort and webp at effort 0 keep large images quick. */
function encode(image: Sharp.Sharp, canvas: Canvas): Promise<Buffer> {
  const transparent = canvas.transparent && canvas.format !== 'jpeg';
  const pipeline = transparent ? image.ensureAlpha() : image.flatten({ background: '#ffffff' }).removeAlpha();
  const quality = Math.min(100, Math.max(1, Math.round(canvas.compression ?? 90)));
  if (canvas.format === 'jpeg') return pipeline.jpeg({ quality }).toBuffer();
  if (canvas.format === 'webp') return pipeline.webp({ quality, effort: 0 }).toBuffer();
  return pipeline.png({ compressionLevel: 2, adaptiveFiltering: false }).toBuffer();
}

type Rgb = readonly [number, number, number];

/** Two colours from the prompt's hash, turned further for each image of the answer. */
function palette(prompt: string, variant: number): readonly [Rgb, Rgb] {
  const hash = createHash('sha256').update(prompt).digest();
  const hue = (hash.readUInt16BE(0) + variant * 47) % 360;
  return [hsl(hue, 0.55, 0.3), hsl((hue + 40 + ((hash[2] ?? 0) % 60)) % 360, 0.65, 0.55)];
}

/** Solid horizontal bands stepping from one colour to the other, as raw pixels (RGB, or RGBA of the given alpha). */
function bands(width: number, height: number, [top, bottom]: readonly [Rgb, Rgb], channels: 3 | 4, alpha: number): Buffer {
  const out = Buffer.alloc(width * height * channels);
  const count = Math.max(1, Math.min(BANDS, height));
  const rowBytes = width * channels;
  for (let i = 0; i < count; i++) {
    const t = count === 1 ? 0 : i / (count - 1);
    const y0 = Math.floor((i * height) / count);
    const y1 = Math.floor(((i + 1) * height) / count);
    const pixel = [...top.map((c, k) => Math.round(c + ((bottom[k] ?? c) - c) * t)), alpha].slice(0, channels);
    // One row painted pixel by pixel, the band's other rows copied from it.
    for (let x = 0; x < width; x++) out.set(pixel, y0 * rowBytes + x * channels);
    for (let y = y0 + 1; y < y1; y++) out.copyWithin(y * rowBytes, y0 * rowBytes, (y0 + 1) * rowBytes);
  }
  return out;
}

function hsl(h: number, s: number, l: number): Rgb {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

/** The prompt as shown: one line of text (controls and runs of spaces as one space), at most 160 characters. */
function cleanPrompt(prompt: string): string {
  const chars = Array.from(
    prompt
      .replace(/[\u0000-\u001f\u007f\ufffe\uffff]/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
  if (chars.length <= MAX_PROMPT_CHARS) return chars.join('');
  return `${chars
    .slice(0, MAX_PROMPT_CHARS - 1)
    .join('')
    .trimEnd()}…`;
}

/** The prompt's place in the top `height` pixels: centred, wrapped at 86% of the width, within 80% of the height. */
function promptBox(width: number, height: number): TextBox {
  return { left: width * 0.07, top: height * 0.1, width: width * 0.86, height: height * 0.8 };
}

/** A twelfth of the picture (8 px at least): the prompt's size when it fits, smaller when it does not. */
function promptSize(width: number, height: number): number {
  return Math.max(8, Math.round(Math.min(width, height) / 12));
}

/** Where the small caption goes, along the foot of the top `height` pixels; none where they are too small for one. */
function label(width: number, height: number): { box: TextBox; style: TextStyle } | undefined {
  const size = Math.max(6, Math.round(Math.min(width, height) / 32));
  if (size * 3 > height) return undefined;
  return {
    box: { left: 0, top: height - size * 2.2, width, height: size * 1.8 },
    style: { size, colour: '#ffffff', opacity: 0.8, halo: '#000000', haloOpacity: 0.35 },
  };
}

function svgOpen(width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`;
}
