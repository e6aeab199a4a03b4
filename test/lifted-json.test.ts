/** The hot path's byte handling: lifting base64 out of JSON that arrives in arbitrary chunks. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64FromDataUri, dataUriBase64Start, decodeBase64, decodeBase64Text, sniffBase64Image } from '../src/core/image-bytes.js';
import { ropeIndexOf, ropeLength, ropeSlice } from '../src/core/rope.js';
import { parseJsonLifting } from '../src/providers/lifted-json.js';

/** Cuts a buffer into pieces of random sizes (1..max bytes), as a socket might deliver it. */
function chop(buf: Buffer, max: number, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let s = seed;
  for (let at = 0; at < buf.length; ) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (s % max);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

const image = randomBytes(30_000);
const b64 = image.toString('base64');
const answer = {
  created: 1,
  data: [
    { b64_json: b64, revised_prompt: 'a "quoted" prompt\\ with \n escapes' },
    { url: `data:image/png;base64,${b64}` },
    { url: 'https://cdn.example/x.png' },
  ],
  note: 'b64_json',
  usage: { total_tokens: 3 },
};
const body = Buffer.from(JSON.stringify(answer));

describe('parseJsonLifting', () => {
  it.each([
    ['one chunk', [body]],
    ['1-byte chunks', chop(body, 1, 1)],
    ['chunks up to 7 bytes', chop(body, 7, 2)],
    ['chunks up to 4 KiB', chop(body, 4096, 3)],
  ])('gives JSON.parse’s value with big strings lifted: %s', (_name, chunks) => {
    const parsed = parseJsonLifting(chunks, ['b64_json', 'url']);
    const value = parsed.value as typeof answer;
    const lifted = parsed.lifted(value.data[0]?.b64_json);
    expect(lifted).toBeDefined();
    expect(Buffer.concat(lifted ?? []).toString('latin1')).toBe(b64);
    expect(decodeBase64(lifted ?? []).equals(image)).toBe(true);
    const uri = parsed.lifted(value.data[1]?.url);
    expect(Buffer.concat(base64FromDataUri(uri ?? []) ?? []).toString('latin1')).toBe(b64);
    // Small values and a value equal to a key name are parsed as usual.
    expect(value.data[0]?.revised_prompt).toBe(answer.data[0]?.revised_prompt);
    expect(value.data[2]?.url).toBe('https://cdn.example/x.png');
    expect(parsed.lifted(value.data[2]?.url)).toBeUndefined();
    expect(value.note).toBe('b64_json');
    expect(value.usage).toEqual({ total_tokens: 3 });
  });

  it('leaves escaped values to JSON.parse', () => {
    const withEscape = `${b64.slice(0, 5000)}\\/${b64.slice(5000)}`;
    const parsed = parseJsonLifting(chop(Buffer.from(`{"data":[{"b64_json":"${withEscape}"}]}`), 999, 4), ['b64_json']);
    const value = parsed.value as { data: { b64_json: string }[] };
    expect(parsed.lifted(value.data[0]?.b64_json)).toBeUndefined();
    expect(value.data[0]?.b64_json).toBe(`${b64.slice(0, 5000)}/${b64.slice(5000)}`);
  });

  it('rejects malformed or truncated JSON', () => {
    expect(() => parseJsonLifting([Buffer.from('{"data": [')], ['b64_json'])).toThrow();
    expect(() => parseJsonLifting(chop(body.subarray(0, 20_000), 500, 5), ['b64_json'])).toThrow();
  });
});

describe('ropes and base64', () => {
  it('decodes base64 split anywhere, and MIME-style base64 with line breaks', () => {
    for (const max of [1, 3, 5, 4097]) expect(decodeBase64(chop(Buffer.from(b64), max, max)).equals(image)).toBe(true);
    const mime = b64.replace(/.{76}/g, '$&\n');
    expect(decodeBase64(chop(Buffer.from(mime), 1000, 9)).equals(image)).toBe(true);
  });

  it('decodes base64 text from an offset, slice by slice or (with line breaks) whole', () => {
    const big = randomBytes(200_001); // several 64 KiB slices, and padding at the end
    const text = big.toString('base64');
    expect(decodeBase64Text(text).equals(big)).toBe(true);
    const uri = `data:image/png;base64,${text}`;
    const start = dataUriBase64Start([Buffer.from(uri.slice(0, 300), 'latin1')]);
    expect(start).toBe(22);
    expect(decodeBase64Text(uri, start).equals(big)).toBe(true);
    expect(decodeBase64Text(`x${text.replace(/.{76}/g, '$&\n')}`, 1).equals(big)).toBe(true);
    expect(dataUriBase64Start([Buffer.from('data:image/png,rawbytes')])).toBe(-1);
  });

  it('sniffs the image kind from the first base64 bytes, split or not', () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(40)]).toString('base64');
    expect(sniffBase64Image(chop(Buffer.from(png), 3, 7))).toBe('png');
    expect(sniffBase64Image([Buffer.from(randomBytes(40).toString('base64'))])).toBeNull();
  });

  it('slices and searches across pieces', () => {
    const rope = chop(Buffer.from('hello, wide world'), 2, 11);
    expect(ropeLength(rope)).toBe(17);
    expect(ropeSlice(rope, 3, 9).toString()).toBe('lo, wi');
    expect(ropeIndexOf(rope, 0x77)).toBe(7);
    expect(ropeIndexOf(rope, 0x77, 8)).toBe(12);
    expect(ropeIndexOf(rope, 0x7a)).toBe(-1);
  });
});
