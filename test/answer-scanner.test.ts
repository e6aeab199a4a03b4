/**
 * AnswerScanner (an OpenAI ImagesResponse read as it arrives) and Base64Decoder (base64 decoded
 * in pieces of any length), against the plain reading: whatever the upstream's chunking, the
 * images' base64 joined, the items' other fields and the root's fields equal what JSON.parse
 * of the whole body says, and the decoded bytes equal Buffer.from(whole, 'base64').
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE64_SLICE, Base64Decoder } from '../src/core/base64-decoder.js';
import type { ArrivingEvent } from '../src/core/job.js';
import { UpstreamFailure } from '../src/core/upstream-failure.js';
import { AnswerScanner, type ItemFields } from '../src/providers/openai/answer-scanner.js';

type Json = Record<string, unknown>;

const BASE64_TEXT = /^[A-Za-z0-9+/=]*$/;

// ---------------------------------------------------------------------------------------------
// Running the scanner

interface ScannedItem {
  /** The streamed base64 (null: the item carried no b64_json string). */
  b64: string | null;
  fields: ItemFields;
  streamed: boolean;
}

interface Scan {
  items: ScannedItem[];
  root: Json;
  started: boolean;
  /** Every b64 event's bytes, per image, as they came (for the decoder). */
  pieces: Buffer[][];
}

/** Feeds the chunks in order; checks the event sequence is well formed as it goes. */
function scan(chunks: readonly Buffer[], maxBytes = 64 * 1024 * 1024): Scan {
  const closed: { fields: ItemFields; streamed: boolean }[] = [];
  const scanner = new AnswerScanner((fields, streamed) => {
    closed.push({ fields, streamed });
    return { type: 'item-end' };
  }, maxBytes);
  const events: ArrivingEvent[] = [];
  for (const chunk of chunks) events.push(...scanner.feed(chunk));
  const root = scanner.finish();
  const items: ScannedItem[] = [];
  const pieces: Buffer[][] = [];
  let current: Buffer[] | null = null;
  let ended = 0;
  // Checked without expect() per event: a bytewise feed makes thousands of them.
  const wrong = (what: string) => {
    throw new Error(`malformed event sequence: ${what}`);
  };
  for (const event of events) {
    if (event.type === 'b64-start') {
      if (current) wrong('b64-start inside an image');
      current = [];
    } else if (event.type === 'b64') {
      if (!current) wrong('b64 outside an image');
      if (!BASE64_TEXT.test(event.bytes.toString('latin1'))) wrong(`b64 bytes that are not base64: ${event.bytes.toString('latin1')}`);
      current?.push(event.bytes);
    } else {
      const item = closed[ended++];
      if (!item) throw new Error('an item-end event without an item');
      if (item.streamed !== (current !== null)) wrong('an item-end whose streamed flag does not match');
      items.push({ b64: current ? Buffer.concat(current).toString('latin1') : null, ...item });
      if (current) pieces.push(current);
      current = null;
    }
  }
  expect(current).toBeNull();
  expect(ended).toBe(closed.length);
  return { items, root, started: scanner.started, pieces };
}

/** What the scanner must report, read from JSON.parse of the whole body. */
function expectedScan(body: string): { items: ScannedItem[]; root: Json } {
  const parsed = JSON.parse(body) as Json;
  const data = parsed.data;
  if (!Array.isArray(data)) return { items: [], root: parsed };
  const items = data
    .filter((item): item is Json => typeof item === 'object' && item !== null && !Array.isArray(item))
    .map((item): ScannedItem => {
      const b64 = item.b64_json;
      if (typeof b64 !== 'string') return { b64: null, fields: item, streamed: false };
      return { b64: b64.replace(/[\r\n]/g, ''), fields: { ...item, b64_json: null }, streamed: true };
    });
  return { items, root: { ...parsed, data: null } };
}

function compare(scanned: Scan, body: string): void {
  const expected = expectedScan(body);
  expect(scanned.items).toEqual(expected.items);
  expect(scanned.root).toEqual(expected.root);
  expect(scanned.started).toBe(expected.items.some((i) => i.streamed));
}

/** The body cut at the given offsets (sorted, deduplicated, within it). */
function cutAt(body: Buffer, points: readonly number[]): Buffer[] {
  const cuts = [...new Set(points.filter((p) => p > 0 && p < body.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(body.subarray(from, cut));
    from = cut;
  }
  chunks.push(body.subarray(from));
  // Fresh buffers: the scanner must not rely on chunks being views of one allocation.
  return chunks.map((c) => Buffer.from(c));
}

const bytewise = (body: Buffer): Buffer[] => Array.from(body, (byte) => Buffer.from([byte]));

function scanFailure(chunks: readonly Buffer[]): unknown {
  try {
    scan(chunks);
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectProtocolFailure(chunks: readonly Buffer[]): void {
  const failure = scanFailure(chunks);
  expect(failure).toBeInstanceOf(UpstreamFailure);
  expect((failure as UpstreamFailure).kind).toBe('protocol');
}

// ---------------------------------------------------------------------------------------------
// Bodies as text, so they can hold what JSON.stringify never writes: `\/`, escaped line breaks
// in base64, keys spelled with \u escapes, whitespace between tokens.

interface Layout {
  /** Whitespace around punctuation, as pretty printers write it. */
  spaced: boolean;
}

function objectText(entries: readonly (readonly [string, string])[], layout: Layout): string {
  if (entries.length === 0) return '{}';
  const sep = layout.spaced ? ',\n  ' : ',';
  const colon = layout.spaced ? ' : ' : ':';
  const open = layout.spaced ? '{\n  ' : '{';
  const close = layout.spaced ? '\n}' : '}';
  return `${open}${entries.map(([key, value]) => `${key}${colon}${value}`).join(sep)}${close}`;
}

type SlashStyle = 'plain' | 'escaped' | 'alternate';
type BreakStyle = 'none' | 'lf' | 'crlf';

/** Base64 as a JSON string literal, with `\/` escapes and MIME-style escaped line breaks. */
function b64Literal(base64: string, slashes: SlashStyle, breaks: BreakStyle): string {
  let out = '"';
  let slashCount = 0;
  for (let i = 0; i < base64.length; i++) {
    if (i > 0 && i % 76 === 0 && breaks !== 'none') out += breaks === 'lf' ? '\\n' : '\\r\\n';
    const ch = base64[i];
    if (ch === '/') {
      const escaped = slashes === 'escaped' || (slashes === 'alternate' && slashCount++ % 2 === 0);
      out += escaped ? '\\/' : '/';
    } else out += ch;
  }
  return `${out}"`;
}

interface ItemSpec {
  image: Uint8Array | null;
  slashes: SlashStyle;
  breaks: BreakStyle;
  revised: string | null;
  revisedFirst: boolean;
  /** Spell the key `b64\u005fjson`. */
  escapedKey: boolean;
  url: string | null;
  /** A nested object holding keys the scanner looks for, one level too deep to count. */
  decoy: boolean;
  extras: readonly (readonly [string, unknown])[];
}

function itemText(spec: ItemSpec, layout: Layout): string {
  const entries: [string, string][] = spec.extras.map(([k, v]) => [JSON.stringify(k), JSON.stringify(v)]);
  const revised: [string, string][] = spec.revised !== null ? [['"revised_prompt"', JSON.stringify(spec.revised)]] : [];
  if (spec.revisedFirst) entries.unshift(...revised);
  if (spec.decoy) entries.push(['"meta"', '{"b64_json":"QUJD","data":[{"b64_json":"REVG"}],"x\\"y":"\\"b64_json\\""}']);
  if (spec.image)
    entries.push([spec.escapedKey ? '"b64\\u005fjson"' : '"b64_json"', b64Literal(Buffer.from(spec.image).toString('base64'), spec.slashes, spec.breaks)]);
  if (spec.url !== null) entries.push(['"url"', JSON.stringify(spec.url)]);
  if (!spec.revisedFirst) entries.push(...revised);
  return objectText(entries, layout);
}

interface BodySpec {
  layout: Layout;
  items: readonly ItemSpec[];
  /** Root entries before and after data (as text). */
  before: readonly (readonly [string, string])[];
  after: readonly (readonly [string, string])[];
  /** Spell the key `d\u0061ta`. */
  escapedDataKey: boolean;
}

function bodyText(spec: BodySpec): string {
  const sep = spec.layout.spaced ? ',\n    ' : ',';
  const items = spec.items.map((item) => itemText(item, spec.layout));
  const data = spec.layout.spaced ? `[\n    ${items.join(sep)}\n  ]` : `[${items.join(',')}]`;
  return objectText([...spec.before, [spec.escapedDataKey ? '"d\\u0061ta"' : '"data"', data], ...spec.after], spec.layout);
}

/** Random bytes of any length up to `max` (fast-check's default size would keep them tiny). */
function bytesArb(max: number): fc.Arbitrary<Uint8Array> {
  return fc.integer({ min: 0, max }).chain((length) => fc.uint8Array({ minLength: length, maxLength: length }));
}

/** Strings that stress a scanner: quotes, backslashes, brackets, escapes, multi-byte UTF-8. */
const trickyString = fc.oneof(
  fc.constantFrom('', 'say "data"', 'back\\slash\\', '}{][,:"', '\\"b64_json\\"', 'a/b\\/c', 'line\nbreak\r\t', 'é漢字🙂', '\u0000\u001f'),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

/** Keys that are neither of those the scanner looks for, some with escaped quotes or > 64 bytes. */
const otherKey = fc
  .oneof(
    fc.constantFrom('we"ird', 'data"', '"data', 'b64_json"', 'x\\', 'Data', 'datas', 'b64_json_meta', 'data'.padEnd(80, '_'), 'b64_json'.padEnd(90, '\\')),
    trickyString,
  )
  .filter((k) => k !== 'data' && k !== 'b64_json' && k !== '__proto__');

const extraEntries = fc.array(fc.tuple(otherKey, fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 });

const itemArb: fc.Arbitrary<ItemSpec> = fc.record({
  image: fc.option(bytesArb(700), { freq: 5, nil: null }),
  slashes: fc.constantFrom<SlashStyle>('plain', 'escaped', 'alternate'),
  breaks: fc.constantFrom<BreakStyle>('none', 'lf', 'crlf'),
  revised: fc.option(trickyString, { nil: null }),
  revisedFirst: fc.boolean(),
  escapedKey: fc.boolean(),
  url: fc.option(fc.constantFrom('https://example.com/a.png?x=1&y="2"', 'data:image/png;base64,QUJD'), { freq: 4, nil: null }),
  decoy: fc.boolean(),
  extras: extraEntries,
});

/** Root entries: plain values, and values holding `data` / `b64_json` keys one level too deep. */
const rootEntry: fc.Arbitrary<readonly [string, string]> = fc.oneof(
  fc.tuple(otherKey, fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => [JSON.stringify(k), JSON.stringify(v)] as const),
  fc.constantFrom<readonly [string, string]>(
    ['"created"', '1713833628'],
    ['"usage"', '{"total_tokens":100,"input_tokens":50,"output_tokens":50,"input_tokens_details":{"text_tokens":10,"image_tokens":40}}'],
    ['"metadata"', '{"data":[{"b64_json":"QUJD"}],"b64_json":"REVG"}'],
    ['"history"', '[{"data":[{"b64_json":"QUJD","revised_prompt":"old"}]},"[\\"data\\"]"]'],
    ['"we\\"ird"', '{"data":[1,2]}'],
    ['"b64_json"', '"Tk9UQU5JTUFHRQ=="'],
    ['"x\\\\"', '"\\\\"'],
  ),
);

const bodyArb: fc.Arbitrary<BodySpec> = fc.record({
  layout: fc.record({ spaced: fc.boolean() }),
  items: fc.array(itemArb, { maxLength: 3 }),
  before: fc.array(rootEntry, { maxLength: 3 }),
  after: fc.array(rootEntry, { maxLength: 3 }),
  escapedDataKey: fc.boolean(),
});

type SplitMode = 'random' | 'bytes' | 'escapes';

/** Cut points: random; every byte; or right after (and before) every backslash, plus random ones. */
const splitArb = fc.record({
  mode: fc.constantFrom<SplitMode>('random', 'random', 'bytes', 'escapes'),
  points: fc.array(fc.nat({ max: 1_000_000 }), { maxLength: 40, size: 'max' }),
});

function split(body: Buffer, { mode, points }: { mode: SplitMode; points: readonly number[] }): Buffer[] {
  if (mode === 'bytes') return bytewise(body);
  const scaled = points.map((p) => p % (body.length + 1));
  if (mode === 'random') return cutAt(body, scaled);
  const escapes: number[] = [];
  body.forEach((byte, i) => {
    if (byte === 0x5c) escapes.push(i, i + 1);
  });
  return cutAt(body, [...escapes, ...scaled]);
}

// ---------------------------------------------------------------------------------------------

describe('AnswerScanner', () => {
  it('any chunking of any answer gives what JSON.parse of the whole body gives', () => {
    fc.assert(
      fc.property(bodyArb, splitArb, (spec, splitting) => {
        const text = bodyText(spec);
        const body = Buffer.from(text, 'utf8');
        const scanned = scan(split(body, splitting));
        compare(scanned, text);
        // And the streamed pieces, decoded as they came, are the image's bytes.
        const images = spec.items.filter((i) => i.image !== null).map((i) => Buffer.from(i.image as Uint8Array));
        expect(scanned.pieces.map(decodePieces)).toEqual(images);
      }),
      { numRuns: 300 },
    );
  });

  it('a body cut anywhere short makes finish() throw a protocol failure, never answer', () => {
    fc.assert(
      fc.property(bodyArb, fc.nat(), fc.nat({ max: 8 }), (spec, at, pieces) => {
        const body = Buffer.from(bodyText(spec), 'utf8');
        const short = body.subarray(0, at % body.length);
        expectProtocolFailure(
          cutAt(
            short,
            Array.from({ length: pieces }, (_, i) => Math.floor(((i + 1) * short.length) / (pieces + 1))),
          ),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('n=2 with revised_prompt before b64_json in one item and after it in the other', () => {
    const first = Buffer.from('first image bytes \x00\xff\xfe'.repeat(40), 'latin1');
    const second = Buffer.from('second image ~~~ ???'.repeat(50), 'latin1');
    const text =
      `{"created":1,"data":[{"revised_prompt":"a \\"red\\" fox","b64_json":"${first.toString('base64')}"},` +
      `{"b64_json":"${second.toString('base64')}","revised_prompt":"a blue fox/ }]"}],"usage":{"total_tokens":3},"size":"1024x1024"}`;
    for (const chunks of [[Buffer.from(text)], bytewise(Buffer.from(text)), cutAt(Buffer.from(text), [5, 40, 41, 700, 1200, 1201])]) {
      const scanned = scan(chunks);
      expect(scanned.items).toEqual([
        { b64: first.toString('base64'), fields: { revised_prompt: 'a "red" fox', b64_json: null }, streamed: true },
        { b64: second.toString('base64'), fields: { b64_json: null, revised_prompt: 'a blue fox/ }]' }, streamed: true },
      ]);
      expect(scanned.pieces.map(decodePieces)).toEqual([first, second]);
      expect(scanned.root).toEqual({ created: 1, data: null, usage: { total_tokens: 3 }, size: '1024x1024' });
    }
  });

  it('an item with only a url streams nothing: it closes with its fields, and nothing has started', () => {
    const text = '{"created":1,"data":[{"url":"https://cdn.example/x.png?sig=a/b"}]}';
    for (const chunks of [[Buffer.from(text)], bytewise(Buffer.from(text))]) {
      const scanned = scan(chunks);
      expect(scanned.items).toEqual([{ b64: null, fields: { url: 'https://cdn.example/x.png?sig=a/b' }, streamed: false }]);
      expect(scanned.started).toBe(false);
      expect(scanned.root).toEqual({ created: 1, data: null });
    }
  });

  it('`\\/` escapes become `/`, also when the chunk ends between the backslash and the slash', () => {
    const base64 = Buffer.from([0xff, 0xff, 0xff, 0xfb, 0xef, 0xbe]).toString('base64'); // "////++++"
    expect(base64).toBe('////++++');
    const text = `{"data":[{"b64_json":"\\/\\/\\/\\/++++"}]}`;
    const body = Buffer.from(text);
    const at = text.indexOf('\\');
    for (const chunks of [[body], bytewise(body), cutAt(body, [at + 1, at + 3, at + 5])]) {
      expect(scan(chunks).items[0]?.b64).toBe('////++++');
    }
  });

  it('escaped line breaks inside b64_json are dropped', () => {
    const text = '{"data":[{"b64_json":"QUJD\\r\\nREVG\\nR0hJ"}]}';
    expect(scan(bytewise(Buffer.from(text))).items[0]?.b64).toBe('QUJDREVGR0hJ');
  });

  it.each([
    ['\\u0041', 'a \\u escape'],
    ['\\"', 'an escaped quote'],
    ['\\\\', 'an escaped backslash'],
    ['\\t', 'a tab'],
    ['\\b', 'a backspace'],
  ])('%s inside b64_json (%s) is a protocol failure, however the body is cut', (sequence) => {
    const text = `{"data":[{"b64_json":"QUJD${sequence}REVG"}]}`;
    const body = Buffer.from(text);
    const at = text.indexOf('\\');
    expectProtocolFailure([body]);
    expectProtocolFailure(bytewise(body));
    expectProtocolFailure(cutAt(body, [at + 1]));
    // The same escape outside base64 is only JSON.
    const elsewhere = `{"data":[{"b64_json":"QUJD","revised_prompt":"x${sequence}y"}],"note":"${sequence}"}`;
    const item = (JSON.parse(elsewhere) as { data: Json[] }).data[0];
    expect(scan(bytewise(Buffer.from(elsewhere))).items[0]?.fields).toEqual({ ...item, b64_json: null });
  });

  it('a `data` key deeper than the root is not the images array', () => {
    const nestedOnly = '{"created":1,"result":{"data":[{"b64_json":"QUJD"}]},"list":[{"data":[{"b64_json":"REVG"}]}]}';
    const onlyNested = scan(bytewise(Buffer.from(nestedOnly)));
    expect(onlyNested.items).toEqual([]);
    expect(onlyNested.started).toBe(false);
    expect(onlyNested.root).toEqual(JSON.parse(nestedOnly));

    const both = '{"result":{"data":[{"b64_json":"QUJD"}]},"data":[{"b64_json":"R0hJ","meta":{"data":[{"b64_json":"REVG"}]}}]}';
    const scanned = scan(bytewise(Buffer.from(both)));
    expect(scanned.items).toEqual([{ b64: 'R0hJ', fields: { b64_json: null, meta: { data: [{ b64_json: 'REVG' }] } }, streamed: true }]);
    expect(scanned.root).toEqual({ result: { data: [{ b64_json: 'QUJD' }] }, data: null });
  });

  it('keys with escaped quotes are read as JSON reads them', () => {
    const text =
      '{"x\\"data":[{"b64_json":"QUJD"}],"data\\"":[{"b64_json":"QUJD"}],"\\\\":"\\"",' +
      '"data":[{"b64_json\\"":"REVG","we\\"ird\\\\":"\\"b64_json\\"","b64_json":"R0hJ"}],"tail\\"":1}';
    for (const chunks of [[Buffer.from(text)], bytewise(Buffer.from(text))]) {
      const scanned = scan(chunks);
      const parsed = JSON.parse(text) as Json;
      expect(scanned.items).toEqual([{ b64: 'R0hJ', fields: { 'b64_json"': 'REVG', 'we"ird\\': '"b64_json"', b64_json: null }, streamed: true }]);
      expect(scanned.root).toEqual({ ...parsed, data: null });
    }
  });

  it('refuses an answer larger than its limit', () => {
    const scanner = new AnswerScanner(() => ({ type: 'item-end' }), 100);
    scanner.feed(Buffer.alloc(60, 0x20));
    let failure: unknown;
    try {
      scanner.feed(Buffer.alloc(60, 0x20));
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect((failure as UpstreamFailure).kind).toBe('protocol');
  });
});

// ---------------------------------------------------------------------------------------------

/** Pieces of base64 through a Base64Decoder, each emitted text decoded on its own (as the writer does: head, then body after it). */
function decodePieces(pieces: readonly Buffer[]): Buffer {
  return decodeWithDecoder(pieces).bytes;
}

function decodeWithDecoder(pieces: readonly Buffer[]): { bytes: Buffer; emitted: string[] } {
  const emitted: string[] = [];
  const decoded: Buffer[] = [];
  const decoder = new Base64Decoder((head, body) => {
    // A head that is not a whole quantum may only come last, with no body.
    if (head.length % 4 !== 0 && body !== '') throw new Error(`a ${head.length}-character head before a body`);
    emitted.push(head + body);
    decoded.push(Buffer.from(head, 'base64'), Buffer.from(body, 'base64'));
  });
  for (const piece of pieces) decoder.push(piece);
  decoder.end();
  return { bytes: Buffer.concat(decoded), emitted };
}

type Wrapping = 'none' | 'crlf' | 'lf' | 'spaces' | 'unpadded';

function wrapped(base64: string, wrapping: Wrapping): string {
  if (wrapping === 'unpadded') return base64.replace(/=+$/, '');
  if (wrapping === 'none') return base64;
  const sep = wrapping === 'crlf' ? '\r\n' : wrapping === 'lf' ? '\n' : ' \t';
  return (base64.match(/.{1,76}/g) ?? []).join(sep) + (wrapping === 'crlf' ? '\r\n' : '');
}

describe('Base64Decoder', () => {
  it('any split of any base64 (padded or not, with line breaks or not) decodes to Buffer.from(whole, "base64")', () => {
    fc.assert(
      fc.property(
        bytesArb(3_000),
        fc.constantFrom<Wrapping>('none', 'crlf', 'lf', 'spaces', 'unpadded'),
        fc.oneof(fc.array(fc.nat({ max: 1_000_000 }), { maxLength: 60, size: 'max' }), fc.constant(null)),
        (raw, wrapping, points) => {
          const bytes = Buffer.from(raw);
          const text = Buffer.from(wrapped(bytes.toString('base64'), wrapping), 'latin1');
          const pieces =
            points === null
              ? bytewise(text)
              : cutAt(
                  text,
                  points.map((p) => p % (text.length + 1)),
                );
          const { bytes: decoded, emitted } = decodeWithDecoder(pieces);
          expect(decoded).toEqual(bytes);
          expect(decoded).toEqual(Buffer.from(text.toString('latin1'), 'base64'));
          // Whole quanta only, without whitespace; only the very last text may be a shorter tail.
          expect(emitted.slice(0, -1).filter((t) => t.length % 4 !== 0)).toEqual([]);
          expect(emitted.filter((t) => t.length === 0 || !BASE64_TEXT.test(t))).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('large pieces go out in slices of at most BASE64_SLICE characters, and decode exactly', () => {
    const bytes = Buffer.from(Array.from({ length: 400_000 }, (_, i) => (i * 7919) % 256));
    for (const wrapping of ['none', 'crlf'] as const) {
      const text = Buffer.from(wrapped(bytes.toString('base64'), wrapping), 'latin1');
      const { bytes: decoded, emitted } = decodeWithDecoder(cutAt(text, [1, 3, 70_001, 70_002, 300_007, 400_000]));
      expect(decoded.equals(bytes)).toBe(true);
      expect(Math.max(...emitted.map((t) => t.length))).toBeLessThanOrEqual(BASE64_SLICE);
    }
  });

  it('nothing in, nothing out', () => {
    expect(decodeWithDecoder([Buffer.alloc(0), Buffer.from('\r\n')]).emitted).toEqual([]);
  });
});
