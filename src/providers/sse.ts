/**
 * Server-sent events from a byte stream, per the WHATWG EventSource rules that matter for APIs:
 * events end at a blank line (LF or CRLF), `event:` names one, `data:` lines are joined with LF,
 * `:` lines are comments. Event bodies are sliced out of the arriving chunks once: a
 * megabyte-sized partial image is never re-scanned or copied piece by piece.
 */
export interface SseEvent {
  /** undefined: the default `message` event. */
  event: string | undefined;
  data: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;

export async function* parseSse(chunks: AsyncIterable<Buffer>): AsyncGenerator<SseEvent> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** The last two bytes seen, to find a blank line that straddles a chunk boundary. */
  let tail: [number, number] = [-1, -1];
  for await (const chunk of chunks) {
    let start = 0;
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      if (!endsBlankLine(chunk, i, tail)) continue;
      const block = Buffer.concat([...pending, chunk.subarray(start, i + 1)]);
      pending = [];
      pendingBytes = 0;
      start = i + 1;
      const event = parseBlock(block);
      if (event) yield event;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      pending.push(rest);
      pendingBytes += rest.length;
    }
    tail = [chunk.length >= 2 ? (chunk[chunk.length - 2] ?? -1) : tail[1], chunk.length >= 1 ? (chunk[chunk.length - 1] ?? -1) : tail[1]];
  }
  // A stream that ends without the final blank line still delivers its last event.
  if (pendingBytes > 0) {
    const event = parseBlock(Buffer.concat(pending));
    if (event) yield event;
  }
}

/** Is the LF at `i` the second of a blank line ("\n\n" or "\r\n\r\n")? `tail`: the bytes before the chunk. */
function endsBlankLine(chunk: Buffer, i: number, tail: readonly [number, number]): boolean {
  const at = (k: number): number => (k >= 0 ? (chunk[k] ?? -1) : k === -1 ? tail[1] : k === -2 ? tail[0] : -1);
  const before = at(i - 1) === CR ? i - 2 : i - 1;
  return at(before) === LF;
}

function parseBlock(block: Buffer): SseEvent | null {
  let event: string | undefined;
  const data: Buffer[] = [];
  let lineStart = 0;
  while (lineStart < block.length) {
    let lineEnd = block.indexOf(LF, lineStart);
    if (lineEnd < 0) lineEnd = block.length;
    const line = block.subarray(lineStart, lineEnd > lineStart && block[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd);
    lineStart = lineEnd + 1;
    if (line.length === 0 || line[0] === 0x3a) continue; // blank or comment
    const colon = line.indexOf(0x3a);
    const field = (colon < 0 ? line : line.subarray(0, colon)).toString('latin1');
    let value = colon < 0 ? Buffer.alloc(0) : line.subarray(colon + 1);
    if (value[0] === 0x20) value = value.subarray(1);
    if (field === 'event') event = value.toString('utf8');
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  const joined = data.length === 1 ? (data[0] as Buffer) : Buffer.concat(data.flatMap((d, i) => (i === 0 ? [d] : [Buffer.from('\n'), d])));
  return { event, data: joined };
}
