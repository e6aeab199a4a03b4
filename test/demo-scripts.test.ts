/**
 * The demo channel draws a prompt in any script as its glyphs (src/providers/demo/font.ts,
 * text.ts), read back from the pixels. A missing glyph is drawn by Pango as a box holding the code
 * point's hex digits: two such boxes differ a little (their digits), but a box has about the same
 * ink whatever it stands for, where a real glyph's ink follows its strokes. So the test renders
 * one-stroke and many-stroke characters of each script and asks for several times the ink; it
 * checks the measure on real boxes too (private-use code points, which no font here covers).
 * Rendering is deterministic: the font ships with the package and nothing here is timed.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEMO_FONT_FAMILY, demoFontFile, sfntOfWoff } from '../src/providers/demo/font.js';
import { drawPrompt, type Canvas } from '../src/providers/demo/render.js';

/** Transparent: the prompt is drawn dark (#1a1a1a) on a white halo, the caption light; nothing else is dark. */
const CANVAS: Canvas = { width: 512, height: 512, format: 'png', transparent: true };

/** The prompt's ink: its dark, mostly opaque pixels, as a mask and their count. */
async function ink(prompt: string): Promise<{ mask: Uint8Array; count: number }> {
  const { data, info } = await sharp(await drawPrompt(CANVAS, prompt, 0))
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(4);
  const mask = new Uint8Array(info.width * info.height);
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    const [r, g, b, a] = [data[i * 4] ?? 0, data[i * 4 + 1] ?? 0, data[i * 4 + 2] ?? 0, data[i * 4 + 3] ?? 0];
    if (a >= 128 && r < 128 && g < 128 && b < 128) {
      mask[i] = 1;
      count++;
    }
  }
  return { mask, count };
}

/** Pixels inked in one mask and not the other. */
function difference(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('the demo draws every script as glyphs', () => {
  it('Chinese, Japanese and Korean prompts draw ink, each its own, none of them the missing-glyph boxes', async () => {
    const [chinese, japanese, korean, boxes] = await Promise.all([ink('中文'), ink('日本'), ink('한국'), ink('\uE000\uE001')]);
    for (const drawn of [chinese, japanese, korean, boxes]) expect(drawn.count).toBeGreaterThan(200);
    // Different characters, different ink; and none of them the rendering of two missing glyphs. (Boxes would pass this
    // too, their hex digits differ: the next test is the one that tells glyphs from boxes.)
    expect(difference(chinese.mask, japanese.mask)).toBeGreaterThan(300);
    for (const drawn of [chinese, japanese, korean]) expect(difference(drawn.mask, boxes.mask)).toBeGreaterThan(300);
  });

  it('a character’s ink follows its strokes, in each script (a box’s would not)', async () => {
    const pairs = [
      ['Chinese', '一一', '龍龍'],
      ['Japanese', 'ーー', 'ぽぽ'],
      ['Korean', 'ㅡㅡ', '뷁뷁'],
    ] as const;
    for (const [script, sparse, dense] of pairs) {
      const [few, many] = await Promise.all([ink(sparse), ink(dense)]);
      expect(few.count, `${script}: ${sparse}`).toBeGreaterThan(50);
      expect(many.count / few.count, `${script}: ${dense} against ${sparse}`).toBeGreaterThan(3);
    }
    // The measure tells boxes apart: two missing glyphs (private use, no font has them) ink alike.
    const [first, last] = await Promise.all([ink('\uE000\uE000'), ink('\uE888\uE888')]);
    expect(first.count / last.count).toBeGreaterThan(0.8);
    expect(first.count / last.count).toBeLessThan(1.25);
  });

  it('a longer prompt in each script fills lines of glyphs; the same prompt draws the same image', async () => {
    const prompts = [
      '一只戴着宇航员头盔的橘猫漂浮在太空中，背景是蓝色的地球',
      '夕暮れの海辺に立つ灯台、カモメが飛んでいる、水彩画風',
      '해질녘 절벽 위의 등대와 갈매기, 파스텔 하늘, 수채화 스타일',
    ];
    for (const prompt of prompts) {
      const [once, twice] = await Promise.all([drawPrompt(CANVAS, prompt, 0), drawPrompt(CANVAS, prompt, 0)]);
      expect(once.equals(twice)).toBe(true);
      expect((await ink(prompt)).count).toBeGreaterThan(4000);
    }
  });

  it('text that draws nothing (zero-width characters only) still gives the picture', async () => {
    const png = await drawPrompt({ width: 256, height: 256, format: 'png', transparent: false }, '\u200b\u200d', 0);
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 256, height: 256 });
  });
});

describe('the demo font', () => {
  it('is the package’s WOFF decoded into the TrueType font it wraps, each table whole', async () => {
    const woff = await readFile(createRequire(import.meta.url).resolve('@fontsource/unifontex/files/unifontex-latin-400-normal.woff'));
    const file = await demoFontFile();
    expect(file).toBeDefined();
    const font = await readFile(file ?? '');
    expect(font.equals(sfntOfWoff(woff))).toBe(true);
    expect(font.readUInt32BE(0)).toBe(woff.readUInt32BE(4)); // the flavour: TrueType outlines
    expect(font.readUInt16BE(4)).toBe(woff.readUInt16BE(12)); // as many tables
    expect(font.length).toBe(woff.readUInt32BE(16)); // the size the WOFF says the font has
    // Its name table names the family the text asks for (UTF-16BE in the Windows records).
    expect(font.includes(Buffer.from(DEMO_FONT_FAMILY, 'utf16le').swap16())).toBe(true);
  });

  it('refuses what is not a well-formed WOFF', () => {
    expect(() => sfntOfWoff(Buffer.from('not a font at all, but long enough to have a header of forty-four bytes'))).toThrow(/WOFF/);
    const woff = Buffer.alloc(44);
    woff.write('wOFF', 0, 'latin1');
    woff.writeUInt32BE(44, 8);
    expect(() => sfntOfWoff(woff)).toThrow(/table count/);
  });
});
