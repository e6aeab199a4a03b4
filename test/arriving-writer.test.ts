/**
 * An image stored while its base64 arrives (output/arriving-writer.ts): whatever the pieces'
 * sizes, the bytes stored are the image's, and they reach the disk in slab-sized writes, not one
 * per piece (a write costs the event loop the same whatever its size; a thousand answers at once
 * arrive in packets of a kilobyte or less).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ArrivingImageWriter } from '../src/output/arriving-writer.js';
import { DecodeSlabs } from '../src/output/decode-slabs.js';
import type { ImageSink } from '../src/storage/image-store.js';
import { seededRandom } from './helpers/seeded-random.js';

const SLAB = 48 * 1024;

function recordingSink() {
  const writes: Buffer[] = [];
  const state = { closed: false, aborted: false };
  const sink: ImageSink = {
    // The pieces' memory is reused once write resolves: copied, as a keeping sink must.
    write: async (pieces) => void writes.push(Buffer.concat(pieces.map((p) => Buffer.from(p)))),
    close: async () => {
      state.closed = true;
    },
    abort: async () => {
      state.aborted = true;
    },
  };
  return { sink, writes, state };
}

function writerFor(sink: ImageSink, slabs = new DecodeSlabs()) {
  let storedBytes = -1;
  let removed = false;
  const writer = new ArrivingImageWriter('name', slabs, sink, Promise.resolve(), {
    stored: async (bytes) => {
      storedBytes = bytes;
    },
    remove: async () => {
      removed = true;
    },
  });
  return { writer, stored: () => storedBytes, removed: () => removed };
}

/** The text cut into pieces of 1..max bytes, as packets would cut it. */
function cut(text: Buffer, max: number, random: { int(n: number): number }): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < text.length; ) {
    const size = 1 + random.int(max);
    pieces.push(text.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

describe('ArrivingImageWriter', () => {
  for (const [label, maxPiece] of [
    ['packets of up to 1 KiB', 1024],
    ['packets of up to 3 bytes (quanta split everywhere)', 3],
    ['pieces of up to 200 KiB (larger than a slab)', 200 * 1024],
  ] as const) {
    it(`${label}: the bytes stored are the image's, written a slab at a time`, async () => {
      const image = randomBytes(maxPiece === 3 ? 100_003 : 2_172_526);
      const { sink, writes, state } = recordingSink();
      const { writer, stored } = writerFor(sink);
      for (const piece of cut(Buffer.from(image.toString('base64')), maxPiece, seededRandom(maxPiece))) {
        writer.push(piece);
        await writer.room();
      }
      await writer.finish();
      expect(Buffer.concat(writes).equals(image)).toBe(true);
      expect(stored()).toBe(image.length);
      expect(state.closed).toBe(true);
      // Full slabs, a write in flight gathering the ones filled meanwhile: never more writes than slabs.
      expect(writes.length).toBeLessThanOrEqual(Math.ceil(image.length / SLAB));
      for (const write of writes.slice(0, -1)) expect(write.length).toBeGreaterThanOrEqual(SLAB - 3);
    });
  }

  it('an image with a padded end and MIME line breaks is stored exactly', async () => {
    const image = randomBytes(70_001);
    const text = Buffer.from(image.toString('base64').replace(/.{76}/g, '$&\r\n'));
    const { sink, writes } = recordingSink();
    const { writer } = writerFor(sink);
    for (const piece of cut(text, 500, seededRandom(7))) writer.push(piece);
    await writer.finish();
    expect(Buffer.concat(writes).equals(image)).toBe(true);
  });

  it('aborted half way: nothing stays (the sink aborted, the record removed), and its slabs go back', async () => {
    const slabs = new DecodeSlabs();
    const { sink, state } = recordingSink();
    const { writer, removed } = writerFor(sink, slabs);
    writer.push(Buffer.from(randomBytes(500_000).toString('base64')));
    await writer.abort();
    expect(state.aborted).toBe(true);
    expect(removed()).toBe(true);
    expect(slabs.crowded).toBe(false);
  });
});
