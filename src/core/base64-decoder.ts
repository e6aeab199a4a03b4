/**
 * Base64 decoded as it arrives, in pieces of any length: each piece's whole 4-character quanta
 * are decoded at once, the rest waits for the next piece. Text goes through one-byte strings of
 * at most 64 KiB (Node has no Buffer-to-Buffer decoder): many small strings are cheap for the
 * GC, one of megabytes is not. Whitespace (MIME line breaks) is skipped. Pure.
 */
/** A multiple of 4, so slices keep to the quantum grid. */
export const BASE64_SLICE = 64 * 1024;

export class Base64Decoder {
  private carry = Buffer.alloc(0);

  /** `emit` gets base64 text whose length is a multiple of 4 (or, at the end, the tail). */
  constructor(private readonly emit: (text: string) => void) {}

  push(piece: Buffer): void {
    let rest = hasWhitespace(piece) ? withoutWhitespace(piece) : piece;
    if (this.carry.length > 0) {
      // Complete the quantum the last piece left open, then carry on from the grid.
      const need = Math.min(4 - this.carry.length, rest.length);
      this.carry = Buffer.concat([this.carry, rest.subarray(0, need)]);
      rest = rest.subarray(need);
      if (this.carry.length < 4) return;
      this.emit(this.carry.toString('latin1'));
      this.carry = Buffer.alloc(0);
    }
    const usable = rest.length - (rest.length % 4);
    for (let at = 0; at < usable; at += BASE64_SLICE) this.emit(rest.subarray(at, Math.min(at + BASE64_SLICE, usable)).toString('latin1'));
    if (usable < rest.length) this.carry = Buffer.from(rest.subarray(usable));
  }

  end(): void {
    if (this.carry.length > 0) this.emit(this.carry.toString('latin1'));
    this.carry = Buffer.alloc(0);
  }
}

function hasWhitespace(piece: Buffer): boolean {
  return piece.indexOf(0x0a) >= 0 || piece.indexOf(0x0d) >= 0 || piece.indexOf(0x20) >= 0 || piece.indexOf(0x09) >= 0;
}

function withoutWhitespace(piece: Buffer): Buffer {
  return Buffer.from(piece.filter((b) => b !== 0x0a && b !== 0x0d && b !== 0x20 && b !== 0x09));
}
