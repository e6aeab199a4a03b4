/**
 * Server-sent events from a byte stream, per the WHATWG EventSource rules that matter for APIs:
 * events end at a blank line (LF or CRLF), `event:` names one, `data:` lines are joined with LF,
 * `:` lines are comments. An event's data is handed on in pieces as it arrives (SseReader), so a
 * megabyte-sized partial image can go on before its event has ended; parseSse gathers whole
 * events for readers that want them.
 */
export interface SseEvent {
  /** undefined: the default `message` event. */
  event: string | undefined;
  data: Buffer;
}

/** A piece of an event's data as it arrives (slices of the chunks), or the event's end. */
export type SsePart =
  | { readonly kind: 'data'; readonly event: string | undefined; readonly bytes: Buffer; readonly first: boolean }
  | { readonly kind: 'end'; readonly event: string | undefined };

const LF = 0x0a;
const CR = 0x0d;
const LF_BYTE = Buffer.from('\n');
const DATA_FIELD = Buffer.from('data:');

export class SseReader {
  /** Inside a data line: its bytes go out as they come. */
  private inData = false;
  /** The start of a line not yet known to be data (or a whole other line). */
  private line: Buffer[] = [];
  private lineBytes = 0;
  /** The first byte after `data:` is a space to drop, when it is one. */
  private skipSpace = false;
  /** A CR ended the last chunk inside a data line: data, unless an LF follows. */
  private heldCr = false;
  private event: string | undefined;
  private hasData = false;
  /** A data part of the current event has gone out. */
  private started = false;

  feed(chunk: Buffer): SsePart[] {
    const out: SsePart[] = [];
    let at = 0;
    if (this.heldCr) {
      this.heldCr = false;
      if (chunk[0] !== LF && chunk.length > 0) out.push(this.data(Buffer.from([CR])));
    }
    while (at < chunk.length) {
      const lf = chunk.indexOf(LF, at);
      const end = lf < 0 ? chunk.length : lf;
      if (this.inData) {
        this.emitData(chunk.subarray(at, end), lf >= 0, out);
      } else {
        this.line.push(chunk.subarray(at, end));
        this.lineBytes += end - at;
        if (this.lineBytes >= DATA_FIELD.length && startsWithData(this.line)) {
          const rest = Buffer.concat(this.line).subarray(DATA_FIELD.length);
          this.line = [];
          this.lineBytes = 0;
          this.inData = true;
          this.skipSpace = true;
          if (this.hasData) out.push(this.data(LF_BYTE));
          this.hasData = true;
          this.emitData(rest, lf >= 0, out);
        } else if (lf >= 0) {
          this.lineEnded(Buffer.concat(this.line), out);
          this.line = [];
          this.lineBytes = 0;
        }
      }
      if (lf < 0) break;
      this.inData = false;
      at = lf + 1;
    }
    return out;
  }

  /** The stream ended: an event without its final blank line still ends. */
  finish(): SsePart[] {
    const out: SsePart[] = [];
    if (!this.inData && this.lineBytes > 0) this.lineEnded(Buffer.concat(this.line), out);
    this.heldCr = false;
    if (this.hasData) out.push({ kind: 'end', event: this.event });
    this.reset();
    return out;
  }

  private emitData(piece: Buffer, lineEnds: boolean, out: SsePart[]): void {
    let bytes = piece;
    if (this.skipSpace && bytes.length > 0) {
      if (bytes[0] === 0x20) bytes = bytes.subarray(1);
      this.skipSpace = false;
    }
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) {
      // A CR before the LF ends the line; at a chunk's end it may still be data.
      bytes = bytes.subarray(0, -1);
      if (!lineEnds) this.heldCr = true;
    }
    if (bytes.length > 0) out.push(this.data(bytes));
  }

  private data(bytes: Buffer): SsePart {
    const part: SsePart = { kind: 'data', event: this.event, bytes, first: !this.started };
    this.started = true;
    return part;
  }

  private lineEnded(raw: Buffer, out: SsePart[]): void {
    const line = raw.length > 0 && raw[raw.length - 1] === CR ? raw.subarray(0, -1) : raw;
    if (line.length === 0) {
      if (this.hasData) out.push({ kind: 'end', event: this.event });
      this.reset();
      return;
    }
    if (line[0] === 0x3a) return; // a comment
    const colon = line.indexOf(0x3a);
    const field = (colon < 0 ? line : line.subarray(0, colon)).toString('latin1');
    let value = colon < 0 ? Buffer.alloc(0) : line.subarray(colon + 1);
    if (value[0] === 0x20) value = value.subarray(1);
    if (field === 'event') this.event = value.toString('utf8');
    else if (field === 'data') {
      // `data` with no colon: an empty data line.
      out.push(this.data(this.hasData ? LF_BYTE : Buffer.alloc(0)));
      this.hasData = true;
    }
  }

  private reset(): void {
    this.event = undefined;
    this.hasData = false;
    this.started = false;
  }
}

function startsWithData(line: readonly Buffer[]): boolean {
  const head = Buffer.concat(line).subarray(0, DATA_FIELD.length);
  return head.equals(DATA_FIELD);
}

/** Whole events, for readers that want each one at once. */
export async function* parseSse(chunks: AsyncIterable<Buffer>): AsyncGenerator<SseEvent> {
  const reader = new SseReader();
  let data: Buffer[] = [];
  for await (const chunk of chunks) {
    for (const part of reader.feed(chunk)) {
      const event = gather(part, data);
      if (event) {
        data = [];
        yield event;
      }
    }
  }
  for (const part of reader.finish()) {
    const event = gather(part, data);
    if (event) yield event;
  }
}

function gather(part: SsePart, data: Buffer[]): SseEvent | null {
  if (part.kind === 'data') {
    data.push(part.bytes);
    return null;
  }
  return { event: part.event, data: data.length === 1 ? (data[0] as Buffer) : Buffer.concat(data) };
}
