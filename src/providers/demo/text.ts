/**
 * Text on the demo's pictures (and the simulators', sim/render.ts): laid out and rasterised by
 * Pango through sharp's `text` input with the demo's own font (font.ts) behind the usual
 * sans-serif faces, so a prompt in any script draws as glyphs, never as boxes. Wrapped at the
 * box's width (between words, or between characters where a script has no spaces), at the largest
 * size up to the one asked for at which it fits the box, centred in it, over a soft halo that
 * keeps it legible on any colour.
 *
 * Pango gives the glyphs' coverage; the halo (the coverage spread by a box blur) and the blending
 * are done here, on the text's own rectangle: compositing with libvips works over the whole
 * canvas and would cost more than the rest of a picture.
 */
import { loadSharp } from '../../core/sharp-loader.js';
import { DEMO_FONT_FAMILY, demoFontFile } from './font.js';

/** The machine's sans-serif faces first where they have the glyph (Latin, Greek, Cyrillic), then the demo's font for all the rest. */
const FAMILIES = `DejaVu Sans, Liberation Sans, Arial, ${DEMO_FONT_FAMILY},`;
const MIN_SIZE = 8;
const LINE_HEIGHT = 1.2;

/** Where the text goes, in canvas pixels. */
export interface TextBox {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface TextStyle {
  /** The size (px per em) the text is drawn at when it fits; it shrinks (down to 8 px, then is cut) when it does not. */
  readonly size: number;
  /** `#rrggbb`. */
  readonly colour: string;
  /** 0-1, of the glyphs. */
  readonly opacity?: number;
  /** `#rrggbb`, of the halo. */
  readonly halo: string;
  /** 0-1, of the halo at its densest; 0 draws none. */
  readonly haloOpacity: number;
}

/** A picture in memory, row by row: RGB, or RGBA (not premultiplied). */
export interface Pixels {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
}

/** The glyphs' coverage, where it goes on the canvas, and how far the halo reaches around it there. */
interface Placed {
  readonly glyphs: Coverage;
  readonly left: number;
  readonly top: number;
  readonly reach: number;
  /** The halo's reach on each side, cut where the canvas ends. */
  readonly pad: { readonly left: number; readonly top: number; readonly right: number; readonly bottom: number };
}

/** Draws `text` into `box` of `canvas`, in place. Draws nothing when there is nothing to draw (see textOverlay). */
export async function drawText(canvas: Pixels, text: string, box: TextBox, style: TextStyle): Promise<void> {
  const placed = await place(text, box, style, canvas.width, canvas.height);
  if (placed) paint(canvas, placed, style);
}

/** The text with its halo as one layer for sharp's composite: RGBA, and where its top left corner goes. */
export interface TextLayer {
  readonly input: Buffer;
  readonly raw: { readonly width: number; readonly height: number; readonly channels: 4 };
  readonly left: number;
  readonly top: number;
}

/**
 * `text` in `box` of a `canvasWidth` x `canvasHeight` canvas, as one layer for sharp's composite;
 * undefined when there is nothing to draw: an empty or invisible text, a box too small, or text
 * that cannot be laid out (the picture is still drawn, without it).
 */
export async function textOverlay(text: string, box: TextBox, style: TextStyle, canvasWidth: number, canvasHeight: number): Promise<TextLayer | undefined> {
  const placed = await place(text, box, style, canvasWidth, canvasHeight);
  if (!placed) return undefined;
  const { glyphs, pad } = placed;
  const width = glyphs.width + pad.left + pad.right;
  const height = glyphs.height + pad.top + pad.bottom;
  const layer: Pixels = { data: Buffer.alloc(width * height * 4), width, height, channels: 4 };
  paint(layer, { ...placed, left: pad.left, top: pad.top }, style);
  return { input: layer.data, raw: { width, height, channels: 4 }, left: placed.left - pad.left, top: placed.top - pad.top };
}

async function place(text: string, box: TextBox, style: TextStyle, canvasWidth: number, canvasHeight: number): Promise<Placed | undefined> {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/g, ' ').trim();
  const left = Math.max(0, Math.floor(box.left));
  const top = Math.max(0, Math.floor(box.top));
  const width = Math.min(Math.floor(box.width), canvasWidth - left);
  const height = Math.min(Math.floor(box.height), canvasHeight - top);
  if (clean === '' || width < 1 || height < 1) return undefined;
  const fontfile = await demoFontFile();
  const glyphs = await fitted(clean, width, height, style.size, fontfile).catch(() => undefined);
  if (glyphs === undefined) return undefined;
  const x = left + Math.floor((width - glyphs.width) / 2);
  const y = top + Math.floor((height - glyphs.height) / 2);
  // The halo reaches a twelfth of an em around the glyphs, as far as the canvas goes.
  const reach = style.haloOpacity > 0 ? Math.max(1, Math.round(style.size / 12)) : 0;
  const pad = {
    left: Math.min(reach, x),
    top: Math.min(reach, y),
    right: Math.min(reach, canvasWidth - x - glyphs.width),
    bottom: Math.min(reach, canvasHeight - y - glyphs.height),
  };
  return { glyphs, left: x, top: y, reach, pad };
}

/** Glyph coverage: one byte a pixel, 0 (none) to 255 (full). */
interface Coverage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** Drawn at `size`, or smaller until it fits `width` x `height`; cut to the box when even 8 px does not fit. */
async function fitted(text: string, width: number, height: number, largest: number, fontfile: string | undefined): Promise<Coverage> {
  const markup = `<span line_height="${LINE_HEIGHT}">${escapeMarkup(text)}</span>`;
  let size = Math.max(1, Math.round(largest));
  const floor = Math.min(MIN_SIZE, size);
  for (;;) {
    const drawn = await coverage(markup, size, width, fontfile);
    if ((drawn.width <= width && drawn.height <= height) || size === floor) return cut(drawn, width, height);
    // The text's area grows with the square of its size: shrink by the root of the overflow, a little more to be sure.
    const overflow = Math.max(drawn.height / height, drawn.width / width);
    size = Math.max(floor, Math.min(size - 1, Math.floor((size * 0.97) / Math.sqrt(overflow))));
  }
}

async function coverage(markup: string, size: number, width: number, fontfile: string | undefined): Promise<Coverage> {
  const sharp = await loadSharp();
  const { data, info } = await sharp({
    text: {
      text: markup,
      font: `${FAMILIES} ${size}`,
      ...(fontfile !== undefined ? { fontfile } : {}),
      width,
      dpi: 72, // 1 pt = 1 px: the font's size is its size in pixels
      align: 'centre',
      wrap: 'word-char',
    },
  })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`text coverage has ${info.channels} channels`);
  return { data, width: info.width, height: info.height };
}

/**
 * The part inside `width` x `height` of a rendering larger than that: centred across; down, its
 * lines that fit whole (cut at the last blank row within the height), or as many rows as fit.
 */
function cut(drawn: Coverage, width: number, height: number): Coverage {
  if (drawn.width <= width && drawn.height <= height) return drawn;
  const w = Math.min(width, drawn.width);
  let h = Math.min(height, drawn.height);
  if (h < drawn.height) {
    const blank = (row: number): boolean => drawn.data.subarray(row * drawn.width, (row + 1) * drawn.width).every((v) => v === 0);
    let row = h;
    while (row > 0 && !blank(row)) row--;
    if (row > 0) h = row;
  }
  const from = Math.floor((drawn.width - w) / 2);
  const data = Buffer.alloc(w * h);
  for (let row = 0; row < h; row++) drawn.data.copy(data, row * w, row * drawn.width + from, row * drawn.width + from + w);
  return { data, width: w, height: h };
}

/**
 * The halo, then the glyphs, laid over `canvas` where `placed` says. The halo is the glyphs'
 * coverage averaged over a square of 2 reach + 1 pixels (a box blur: running sums across, then
 * down), doubled so that it stays dense along the strokes, capped at its opacity. Plain loops over
 * the text's rectangle, a row at a time: a composite by libvips would run over the whole canvas.
 */
function paint(canvas: Pixels, placed: Placed, style: TextStyle): void {
  const { glyphs, pad, reach } = placed;
  const width = glyphs.width + pad.left + pad.right;
  const height = glyphs.height + pad.top + pad.bottom;
  const glyphRows = { from: pad.top, to: pad.top + glyphs.height };
  // The coverage on the halo's rectangle, and its sums across.
  const plane = new Uint8Array(width * height);
  const across = new Int32Array(width * height);
  for (let row = glyphRows.from; row < glyphRows.to; row++) {
    const base = row * width;
    const from = (row - pad.top) * glyphs.width;
    plane.set(glyphs.data.subarray(from, from + glyphs.width), base + pad.left);
    let sum = 0;
    for (let col = 0; col < Math.min(reach, width); col++) sum += plane[base + col] ?? 0;
    for (let col = 0; col < width; col++) {
      if (col + reach < width) sum += plane[base + col + reach] ?? 0;
      if (col > reach) sum -= plane[base + col - reach - 1] ?? 0;
      across[base + col] = sum;
    }
  }
  const span = 2 * reach + 1;
  const haloOf = 2 / (255 * span * span);
  const most = style.haloOpacity;
  const ink = (style.opacity ?? 1) / 255;
  const [gr, gg, gb] = rgbOf(style.colour);
  const [hr, hg, hb] = rgbOf(style.halo);
  const { data, channels } = canvas;
  // The sums down each column of the rows within reach of the current one.
  const sums = new Int32Array(width);
  const addRow = (row: number, sign: 1 | -1): void => {
    if (row < glyphRows.from || row >= glyphRows.to) return; // nothing but zeros there
    const base = row * width;
    for (let col = 0; col < width; col++) sums[col] = (sums[col] ?? 0) + sign * (across[base + col] ?? 0);
  };
  for (let row = 0; row < reach; row++) addRow(row, 1);
  for (let row = 0; row < height; row++) {
    addRow(row + reach, 1);
    addRow(row - reach - 1, -1);
    let i = row * width;
    let d = ((placed.top - pad.top + row) * canvas.width + placed.left - pad.left) * channels;
    for (let col = 0; col < width; col++, i++, d += channels) {
      const sum = sums[col] ?? 0;
      if (sum === 0) continue; // no glyph within reach: nothing to draw
      const h = Math.min(1, sum * haloOf) * most;
      const g = (plane[i] ?? 0) * ink;
      if (channels === 3) {
        // Opaque canvas: the halo, then the glyphs, each a mix toward its colour.
        data[d] = mix(mix(data[d] ?? 0, hr, h), gr, g) + 0.5;
        data[d + 1] = mix(mix(data[d + 1] ?? 0, hg, h), gg, g) + 0.5;
        data[d + 2] = mix(mix(data[d + 2] ?? 0, hb, h), gb, g) + 0.5;
        continue;
      }
      // A canvas with alpha: "over", twice.
      over(data, d, hr, hg, hb, h);
      over(data, d, gr, gg, gb, g);
    }
  }
}

function mix(from: number, to: number, amount: number): number {
  return from + (to - from) * amount;
}

/** Colour (r, g, b) at opacity `a` laid over the RGBA pixel at `d` (not premultiplied). */
function over(data: Buffer, d: number, r: number, g: number, b: number, a: number): void {
  if (a === 0) return;
  const below = ((data[d + 3] ?? 0) / 255) * (1 - a);
  const out = a + below;
  data[d] = (r * a + (data[d] ?? 0) * below) / out + 0.5;
  data[d + 1] = (g * a + (data[d + 1] ?? 0) * below) / out + 0.5;
  data[d + 2] = (b * a + (data[d + 2] ?? 0) * below) / out + 0.5;
  data[d + 3] = out * 255 + 0.5;
}

function rgbOf(hex: string): [number, number, number] {
  const value = Number.parseInt(hex.slice(1, 7), 16);
  return [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
}

const MARKUP_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => MARKUP_ENTITIES[c] ?? c);
}
