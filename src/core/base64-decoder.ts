/**
 * Base64 decoded as it arrives, in pieces of any length: whole 4-character quanta are handed on
 * as text at once, a quantum split between pieces is completed from the next one. Text goes out
 * in one-byte strings of at most 64 KiB (Node has no Buffer-to-Buffer decoder): many small
 * strings are cheap for the GC, one of megabytes is not. Whitespace (MIME line breaks) is skipped.
 * Pure.
 */

/** A multiple of 4, so slices keep to the quantum grid. */
export const BASE64_SLICE = 64 * 1024;

export class Base64Decoder {
  private carry = Buffer.alloc(0);

  /** `emit` gets base64 text of at most BASE64_SLICE characters, a multiple of 4 (or, at the end, the tail). */
  constructor(private readonly emit: (text: string) => void) {}

  push(piece: Buffer): void {
    let rest = hasWhitespace(piece) ? withoutWhitespace(piece) : piece;
    if (this.carry.length > 0) {
      // The split quantum and what follows it go out as one text, not a 4-character one of its own.
      const head = Buffer.concat([this.carry, rest.subarray(0, BASE64_SLICE - this.carry.length)]);
      rest = rest.subarray(BASE64_SLICE - this.carry.length);
      this.carry = Buffer.alloc(0);
      this.emitWhole(head);
    }
    this.emitWhole(rest);
  }

  end(): void {
    if (this.carry.length > 0) this.emit(this.carry.toString('latin1'));
    this.carry = Buffer.alloc(0);
  }

  /** Emits the whole quanta in slices; keeps the rest for the next piece. */
  private emitWhole(bytes: Buffer): void {
    const usable = bytes.length - (bytes.length % 4);
    for (let at = 0; at < usable; at += BASE64_SLICE) this.emit(bytes.subarray(at, Math.min(at + BASE64_SLICE, usable)).toString('latin1'));
    if (usable < bytes.length) this.carry = Buffer.concat([this.carry, bytes.subarray(usable)]);
  }
}

function hasWhitespace(piece: Buffer): boolean {
  return piece.indexOf(0x0a) >= 0 || piece.indexOf(0x0d) >= 0 || piece.indexOf(0x20) >= 0 || piece.indexOf(0x09) >= 0;
}

function withoutWhitespace(piece: Buffer): Buffer {
  return Buffer.from(piece.filter((b) => b !== 0x0a && b !== 0x0d && b !== 0x20 && b !== 0x09));
}
