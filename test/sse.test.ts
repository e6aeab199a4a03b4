/** The SSE reader: framing by the spec, whatever the chunk boundaries. */
import { describe, expect, it } from 'vitest';
import { parseSse, type SseEvent } from '../src/providers/sse.js';

async function events(chunks: string[]): Promise<{ event: string | undefined; data: string }[]> {
  async function* source() {
    for (const chunk of chunks) yield Buffer.from(chunk);
  }
  const out: SseEvent[] = [];
  for await (const event of parseSse(source())) out.push(event);
  return out.map((e) => ({ event: e.event, data: e.data.toString() }));
}

const STREAM = 'event: a\ndata: {"x":1}\n\n: keep-alive\n\nevent: b\ndata: line1\ndata: line2\n\ndata: plain\n\n';
const EXPECTED = [
  { event: 'a', data: '{"x":1}' },
  { event: 'b', data: 'line1\nline2' },
  { event: undefined, data: 'plain' },
];

describe('parseSse', () => {
  it('reads events, skips comments, joins data lines', async () => {
    expect(await events([STREAM])).toEqual(EXPECTED);
  });

  it('gives the same events for every split into two chunks, and byte by byte', async () => {
    for (let at = 0; at <= STREAM.length; at++) expect(await events([STREAM.slice(0, at), STREAM.slice(at)])).toEqual(EXPECTED);
    expect(await events([...STREAM])).toEqual(EXPECTED);
  });

  it('handles CRLF line ends, also split between chunks', async () => {
    const crlf = STREAM.replaceAll('\n', '\r\n');
    for (let at = 0; at <= crlf.length; at++) expect(await events([crlf.slice(0, at), crlf.slice(at)])).toEqual(EXPECTED);
  });

  it('delivers a last event that lacks its blank line', async () => {
    expect(await events(['data: tail'])).toEqual([{ event: undefined, data: 'tail' }]);
  });
});
