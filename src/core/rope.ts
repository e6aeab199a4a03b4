/**
 * Bytes as a list of Buffers (a rope): an upstream's answer as it arrived, sliced without
 * copying. Megabytes of base64 pass through the gateway this way, never joined or decoded to a string.
 */
export type Rope = readonly Buffer[];

export function ropeLength(rope: Rope): number {
  let n = 0;
  for (const piece of rope) n += piece.length;
  return n;
}

/** The bytes [start, end) as one (small) Buffer. */
export function ropeSlice(rope: Rope, start: number, end: number): Buffer {
  return Buffer.concat(ropeRange(rope, start, end));
}

/** The bytes from `start` on, as a rope (no copy). */
export function ropeFrom(rope: Rope, start: number): Rope {
  return ropeRange(rope, start, Infinity);
}

function ropeRange(rope: Rope, start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const piece of rope) {
    const from = Math.max(start - at, 0);
    const to = Math.min(end - at, piece.length);
    if (from < to) out.push(piece.subarray(from, to));
    at += piece.length;
    if (at >= end) break;
  }
  return out;
}

/** Index of the first `byte` at or after `from`, or -1. */
export function ropeIndexOf(rope: Rope, byte: number, from = 0): number {
  let at = 0;
  for (const piece of rope) {
    if (at + piece.length > from) {
      const i = piece.indexOf(byte, Math.max(from - at, 0));
      if (i >= 0) return at + i;
    }
    at += piece.length;
  }
  return -1;
}
