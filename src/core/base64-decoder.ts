/**
 * Base64 decoded as it arrives, in pieces of any length: whole 4-character quanta are handed on
 * as text at once, a quantum split between pieces is completed from the next one. Text goes out
 * in one-byte strings of at most 64 KiB (Node has no Buffer-to-Buffer decoder): many small
 * strings are cheap for the GC, one of megabytes is not. Whitespace (MIME line breaks) is skipped.
 * Pure.
 */

/** A multiple of 4, so slices keep to the quantum grid. */
export const BASE64_SLICE = 64 * 1024;

/**
 * One text to decode, in two parts decoded one after the other into the same bytes: `head` is
 * the quantum completed from the previous piece ('' if none; at the very end, a shorter tail),
 * `body` whole quanta. Together at most BASE64_SLICE characters.
 */
export type Base64Emit = (head: string, body: string) => void;

export class Base64Decoder {
  /** The start of a quantum split between pieces: at most 3 characters. */
  private carry = '';

  constructor(private readonly emit: Base64Emit) {}

  push(piece: Buffer): void {
    let rest = hasWhitespace(piece) ? withoutWhitespace(piece) : piece;
    let head = '';
    if (this.carry.length > 0) {
      // The split quantum is a string of its own rather than a Buffer.concat with the next piece:
      // that would be a fresh 64 KiB buffer outside the heap per piece, which is what drives V8
      // to full collections.
      const need = 4 - this.carry.length;
      if (rest.length < need) {
        this.carry += rest.toString('latin1');
        return;
      }
      head = this.carry + rest.toString('latin1', 0, need);
      rest = rest.subarray(need);
    }
    const usable = rest.length - (rest.length % 4);
    let at = Math.min(usable, BASE64_SLICE - head.length);
    if (head.length > 0 || at > 0) this.emit(head, rest.toString('latin1', 0, at));
    for (; at < usable; at += BASE64_SLICE) this.emit('', rest.toString('latin1', at, Math.min(at + BASE64_SLICE, usable)));
    this.carry = rest.toString('latin1', usable);
  }

  end(): void {
    if (this.carry.length > 0) this.emit(this.carry, '');
    this.carry = '';
  }
}

function hasWhitespace(piece: Buffer): boolean {
  return piece.indexOf(0x0a) >= 0 || piece.indexOf(0x0d) >= 0 || piece.indexOf(0x20) >= 0 || piece.indexOf(0x09) >= 0;
}

function withoutWhitespace(piece: Buffer): Buffer {
  return Buffer.from(piece.filter((b) => b !== 0x0a && b !== 0x0d && b !== 0x20 && b !== 0x09));
}
