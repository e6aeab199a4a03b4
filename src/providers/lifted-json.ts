/**
 * JSON.parse for image answers without turning megabytes of base64 into JS strings. The body is
 * read as it arrived (a list of chunks); the values of the named keys longer than `minBytes` are
 * lifted out as ropes of slices of those chunks (no copy), and the small rest is parsed as usual.
 * A 2.7 MB b64_json then costs a scan, not a join, a decode, a parse and (later) a stringify.
 * Values with escapes stay in the rest and are parsed normally.
 */
import { randomBytes } from 'node:crypto';
import type { Rope } from '../core/rope.js';

export interface LiftedJson {
  value: unknown;
  /** The lifted bytes behind a placeholder string, or undefined for any other value. */
  lifted(value: unknown): Rope | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function parseJsonLifting(chunks: Rope, keys: readonly string[], minBytes = 4096): LiftedJson {
  const tag = `\u0001lifted:${randomBytes(6).toString('hex')}:`;
  const scan = new LiftingScanner(new Set(keys), minBytes, (n) => Buffer.from(JSON.stringify(`${tag}${n}`)));
  for (const chunk of chunks) scan.feed(chunk);
  const value: unknown = JSON.parse(scan.finish().toString('utf8'));
  return {
    value,
    lifted(v: unknown) {
      if (typeof v !== 'string' || !v.startsWith(tag)) return undefined;
      return scan.lifted[Number(v.slice(tag.length))];
    },
  };
}

/** A byte scanner that knows only "inside a string or not", which is all lifting needs. */
class LiftingScanner {
  readonly lifted: Rope[] = [];
  private readonly rest: Buffer[] = [];
  /** The string being read, as slices; null when outside strings. */
  private string: Buffer[] | null = null;
  private stringBytes = 0;
  private escaped = false;
  /** A backslash ended the last chunk: the next byte is escaped. */
  private pendingEscape = false;
  /** The last short string closed outside, and whether only ':' came since (then it was a key). */
  private lastString = '';
  private sinceLastString: Buffer[] = [];

  constructor(
    private readonly keys: ReadonlySet<string>,
    private readonly minBytes: number,
    private readonly placeholder: (n: number) => Buffer,
  ) {}

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) at = this.string ? this.readString(chunk, at) : this.readOutside(chunk, at);
  }

  finish(): Buffer {
    if (this.string) this.rest.push(Buffer.from('"'), ...this.string); // unterminated: let JSON.parse say so
    return Buffer.concat(this.rest);
  }

  private readOutside(chunk: Buffer, at: number): number {
    const quote = chunk.indexOf(QUOTE, at);
    const end = quote < 0 ? chunk.length : quote;
    const between = chunk.subarray(at, end);
    this.rest.push(between);
    this.sinceLastString.push(between);
    if (quote < 0) return chunk.length;
    this.string = [];
    this.stringBytes = 0;
    this.escaped = false;
    return quote + 1;
  }

  private readString(chunk: Buffer, at: number): number {
    let from = at;
    if (this.pendingEscape) {
      this.pendingEscape = false;
      from = at + 1;
    }
    for (;;) {
      const quote = chunk.indexOf(QUOTE, from);
      const slash = chunk.indexOf(BACKSLASH, from);
      if (slash >= 0 && (quote < 0 || slash < quote)) {
        this.escaped = true;
        if (slash + 1 >= chunk.length) {
          this.pendingEscape = true;
          this.take(chunk.subarray(at));
          return chunk.length;
        }
        from = slash + 2;
        continue;
      }
      if (quote < 0) {
        this.take(chunk.subarray(at));
        return chunk.length;
      }
      this.take(chunk.subarray(at, quote));
      this.closeString();
      return quote + 1;
    }
  }

  private take(piece: Buffer): void {
    if (piece.length === 0 || !this.string) return;
    this.string.push(piece);
    this.stringBytes += piece.length;
  }

  private closeString(): void {
    const pieces = this.string ?? [];
    this.string = null;
    const afterKey = Buffer.concat(this.sinceLastString).toString('latin1').trim() === ':' && this.keys.has(this.lastString);
    if (afterKey && !this.escaped && this.stringBytes >= this.minBytes) {
      this.rest.push(this.placeholder(this.lifted.length));
      this.lifted.push(pieces);
      this.lastString = '';
    } else {
      this.rest.push(Buffer.from('"'), ...pieces, Buffer.from('"'));
      this.lastString = this.stringBytes <= 64 ? Buffer.concat(pieces).toString('utf8') : '';
    }
    this.sinceLastString = [];
  }
}
