/**
 * Reads an OpenAI ImagesResponse (or one stream event) as it arrives. Each `data[i].b64_json` (an
 * event's own `b64_json`) comes out in pieces the
 * moment its bytes do (slices of the chunks, no copy); everything else (a few hundred bytes) is
 * kept and parsed with JSON.parse once its object closes: an item at its `}`, the root at the end.
 * Only structure is tracked byte by byte (brackets, commas, keys); JSON.parse judges the rest.
 */
import type { ArrivingEvent } from '../../core/job.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = Buffer.from('/');
const NULL = Buffer.from('null');
/** Keys longer than this are never ones we look for: kept as bytes, not decoded. */
const MAX_KEY_BYTES = 64;

type Json = Record<string, unknown>;

/** What an item of `data` held besides a streamed b64_json. */
export type ItemFields = Json;

interface StringState {
  role: 'key' | 'value' | 'b64';
  /** key: the raw bytes so far (to decode once it closes). */
  parts: Buffer[];
  bytes: number;
  /** A backslash ended the last chunk: the next byte is escaped. */
  escapePending: boolean;
}

export class AnswerScanner {
  private readonly stack: number[] = [];
  /** In an object, after `{` or `,`: the next string is a key. */
  private expectKey = false;
  private lastKey = '';
  /** The depth of the data array while inside it; -1 before, 0 after. */
  private dataDepth = -1;
  private readonly root: Buffer[] = [];
  /** The item being read (its bytes, a streamed b64_json replaced by null); null between items. */
  private item: Buffer[] | null = null;
  private itemStreamed = false;
  private string: StringState | null = null;
  private received = 0;

  /** True once any b64_json value has begun. */
  started = false;

  constructor(
    private readonly onItem: (fields: ItemFields, streamed: boolean) => ArrivingEvent,
    private readonly maxBytes: number,
    /** Where images are: `data[i].b64_json` (an ImagesResponse) or the root's `b64_json` (a stream event). */
    private readonly imagesAt: 'data' | 'root' = 'data',
  ) {}

  feed(chunk: Buffer): ArrivingEvent[] {
    this.received += chunk.length;
    if (this.received > this.maxBytes) throw new UpstreamFailure('protocol', 'upstream answer too large');
    const events: ArrivingEvent[] = [];
    let at = 0;
    while (at < chunk.length) at = this.string ? this.readString(chunk, at, events) : this.readOutside(chunk, at, events);
    return events;
  }

  /** The root object's fields, once the answer has ended. */
  finish(): Json {
    if (this.string || this.stack.length > 0) throw new UpstreamFailure('protocol', 'upstream answer ended early');
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(this.root).toString('utf8'));
    } catch {
      throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
    return value as Json;
  }

  /** Where bytes outside strings go now: the item, nothing (between items), or the root. */
  private target(): Buffer[] | null {
    if (this.item) return this.item;
    return this.dataDepth > 0 ? null : this.root;
  }

  /**
   * A copy, never a slice: a slice would pin the whole chunk it came from (a socket read, up to
   * 64 KiB, mostly base64 already passed on) for as long as the item or the answer lasts.
   */
  private keep(piece: Buffer): void {
    if (piece.length > 0) this.target()?.push(ownCopy(piece));
  }

  private readOutside(chunk: Buffer, at: number, events: ArrivingEvent[]): number {
    let from = at;
    for (let i = at; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) {
        this.keep(chunk.subarray(from, i));
        this.openString(chunk, i, events);
        return i + 1;
      }
      if (byte === 0x7b /* { */) {
        if (!this.item && this.dataDepth > 0 && this.stack.length === this.dataDepth) {
          this.keep(chunk.subarray(from, i));
          from = i;
          this.item = [];
          this.itemStreamed = false;
        }
        this.stack.push(byte);
        this.expectKey = true;
      } else if (byte === 0x5b /* [ */) {
        if (this.imagesAt === 'data' && this.dataDepth < 0 && this.stack.length === 1 && this.stack[0] === 0x7b && this.lastKey === 'data') {
          this.keep(chunk.subarray(from, i));
          this.root.push(NULL);
          from = i + 1;
          this.stack.push(byte);
          this.dataDepth = this.stack.length;
        } else {
          this.stack.push(byte);
        }
        this.expectKey = false;
      } else if (byte === 0x7d /* } */ || byte === 0x5d /* ] */) {
        if (this.stack.pop() !== (byte === 0x7d ? 0x7b : 0x5b)) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
        this.expectKey = false;
        if (this.item && this.stack.length === this.dataDepth) {
          this.item.push(chunk.subarray(from, i + 1));
          from = i + 1;
          events.push(this.closeItem());
        } else if (this.dataDepth > 0 && this.stack.length === this.dataDepth - 1) {
          from = i + 1; // the data array's own bytes are not kept
          this.dataDepth = 0;
        }
      } else if (byte === 0x2c /* , */) {
        this.expectKey = this.stack.at(-1) === 0x7b;
      }
    }
    this.keep(chunk.subarray(from));
    return chunk.length;
  }

  private openString(chunk: Buffer, quoteAt: number, events: ArrivingEvent[]): void {
    const inObject = this.stack.at(-1) === 0x7b;
    if (inObject && this.expectKey) {
      this.keep(chunk.subarray(quoteAt, quoteAt + 1));
      this.string = { role: 'key', parts: [], bytes: 0, escapePending: false };
      this.expectKey = false;
      return;
    }
    const isImage =
      this.imagesAt === 'root'
        ? this.stack.length === 1 && this.lastKey === 'b64_json'
        : this.item !== null && this.stack.length === this.dataDepth + 1 && this.lastKey === 'b64_json';
    if (isImage) {
      (this.item ?? this.root).push(NULL);
      this.itemStreamed = true;
      this.started = true;
      events.push({ type: 'b64-start' });
      this.string = { role: 'b64', parts: [], bytes: 0, escapePending: false };
      return;
    }
    this.keep(chunk.subarray(quoteAt, quoteAt + 1));
    this.string = { role: 'value', parts: [], bytes: 0, escapePending: false };
  }

  private readString(chunk: Buffer, at: number, events: ArrivingEvent[]): number {
    const string = this.string as StringState;
    if (string.role === 'b64') return this.readImage(string, chunk, at, events);
    let from = at;
    if (string.escapePending) {
      string.escapePending = false;
      from = at + 1;
    }
    for (;;) {
      const quote = chunk.indexOf(QUOTE, from);
      const slash = chunk.indexOf(BACKSLASH, from);
      if (slash >= 0 && (quote < 0 || slash < quote)) {
        if (slash + 1 >= chunk.length) {
          string.escapePending = true;
          this.takeString(string, chunk.subarray(at));
          return chunk.length;
        }
        from = slash + 2;
        continue;
      }
      if (quote < 0) {
        this.takeString(string, chunk.subarray(at));
        return chunk.length;
      }
      this.takeString(string, chunk.subarray(at, quote + 1));
      this.closeString(string);
      return quote + 1;
    }
  }

  private takeString(string: StringState, piece: Buffer): void {
    if (string.role === 'key') {
      string.bytes += piece.length;
      if (string.bytes <= MAX_KEY_BYTES + 1) string.parts.push(ownCopy(piece));
    }
    this.keep(piece);
  }

  private closeString(string: StringState): void {
    this.string = null;
    if (string.role !== 'key') return;
    this.lastKey = string.bytes <= MAX_KEY_BYTES + 1 ? decodeKey(string.parts) : '';
  }

  /** Base64 needs no escapes; `\/` (some encoders escape slashes) and line breaks are undone. */
  private readImage(string: StringState, chunk: Buffer, at: number, events: ArrivingEvent[]): number {
    let from = at;
    if (string.escapePending) {
      string.escapePending = false;
      events.push(...unescaped(chunk[at] as number));
      from = at + 1;
    }
    for (;;) {
      const quote = chunk.indexOf(QUOTE, from);
      const slash = chunk.indexOf(BACKSLASH, from);
      const stop = slash >= 0 && (quote < 0 || slash < quote) ? slash : quote;
      const end = stop < 0 ? chunk.length : stop;
      if (end > from) events.push({ type: 'b64', bytes: chunk.subarray(from, end) });
      if (stop < 0) return chunk.length;
      if (stop === quote) {
        this.string = null;
        return quote + 1;
      }
      if (slash + 1 >= chunk.length) {
        string.escapePending = true;
        return chunk.length;
      }
      events.push(...unescaped(chunk[slash + 1] as number));
      from = slash + 2;
    }
  }

  private closeItem(): ArrivingEvent {
    const bytes = Buffer.concat(this.item ?? []);
    const streamed = this.itemStreamed;
    this.item = null;
    let fields: unknown;
    try {
      fields = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
    }
    return this.onItem(typeof fields === 'object' && fields !== null && !Array.isArray(fields) ? (fields as Json) : {}, streamed);
  }
}

/**
 * The bytes in a buffer of their own (outside Node's shared pool, which a long-kept copy would
 * pin too), unless they are most of the memory they live in: a long value kept whole (a data URI
 * where a relay puts it) is not copied twice.
 */
function ownCopy(piece: Buffer): Buffer {
  if (piece.length * 2 > piece.buffer.byteLength) return piece;
  const copy = Buffer.allocUnsafeSlow(piece.length);
  piece.copy(copy);
  return copy;
}

/** The escape after a backslash inside base64: `/` stays, line breaks go, anything else is wrong. */
function unescaped(byte: number): ArrivingEvent[] {
  if (byte === 0x2f) return [{ type: 'b64', bytes: SLASH }];
  if (byte === 0x6e /* n */ || byte === 0x72 /* r */) return [];
  throw new UpstreamFailure('protocol', 'upstream answer has an escape inside b64_json that base64 cannot hold');
}

function decodeKey(parts: readonly Buffer[]): string {
  try {
    // The parts end with the closing quote.
    const key: unknown = JSON.parse(`"${Buffer.concat(parts).toString('utf8')}`);
    return typeof key === 'string' ? key : '';
  } catch {
    return '';
  }
}
