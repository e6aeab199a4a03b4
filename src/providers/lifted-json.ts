/**
 * JSON.parse for image answers without turning megabytes of base64 into JS strings: the values of
 * the named keys longer than `minBytes` are lifted out as Buffer slices of the body (no copy), and
 * the small rest is parsed as usual. A 2.7 MB b64_json then costs a scan, not a decode, a parse
 * and (later) a stringify. Values with escapes fall back to plain parsing.
 */
import { randomBytes } from 'node:crypto';

export interface LiftedJson {
  value: unknown;
  /** The lifted Buffer behind a placeholder string, or undefined for any other value. */
  lifted(value: unknown): Buffer | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function parseJsonLifting(body: Buffer, keys: readonly string[], minBytes = 4096): LiftedJson {
  const tag = `\u0001lifted:${randomBytes(6).toString('hex')}:`;
  const slices: Buffer[] = [];
  const pieces: Buffer[] = [];
  let copiedUpTo = 0;
  for (const range of largeValueRanges(body, keys, minBytes)) {
    pieces.push(body.subarray(copiedUpTo, range.start), Buffer.from(JSON.stringify(`${tag}${slices.length}`).slice(1, -1)));
    slices.push(body.subarray(range.start, range.end));
    copiedUpTo = range.end;
  }
  pieces.push(body.subarray(copiedUpTo));
  const text = slices.length === 0 ? body.toString('utf8') : Buffer.concat(pieces).toString('utf8');
  const value: unknown = JSON.parse(text);
  return {
    value,
    lifted(v: unknown) {
      if (typeof v !== 'string' || !v.startsWith(tag)) return undefined;
      return slices[Number(v.slice(tag.length))];
    },
  };
}

/** Byte ranges (inside the quotes) of `"key": "<long value without escapes>"`, in order. */
function largeValueRanges(body: Buffer, keys: readonly string[], minBytes: number): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  for (const key of keys) {
    const needle = Buffer.from(`"${key}"`);
    for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + needle.length)) {
      const start = valueStart(body, at + needle.length);
      if (start < 0) continue;
      const end = body.indexOf(QUOTE, start);
      if (end < 0 || end - start < minBytes) continue;
      const escape = body.indexOf(BACKSLASH, start);
      if (escape >= 0 && escape < end) continue;
      ranges.push({ start, end });
    }
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/** After a key: optional spaces, a colon, optional spaces, an opening quote; -1 if not so. */
function valueStart(body: Buffer, from: number): number {
  let i = skipSpaces(body, from);
  if (body[i] !== 0x3a) return -1;
  i = skipSpaces(body, i + 1);
  return body[i] === QUOTE ? i + 1 : -1;
}

function skipSpaces(body: Buffer, from: number): number {
  let i = from;
  while (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09) i++;
  return i;
}
