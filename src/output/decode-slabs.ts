/**
 * Reusable buffers that arriving images are decoded into on their way to storage. Decoded bytes
 * live only until the disk has them; a fresh Buffer for each piece would be megabytes of
 * short-lived memory outside the heap per image, which is what makes V8 run full collections.
 * Each slab holds one decoded text (at most BASE64_SLICE characters) and goes back once written.
 */
import { BASE64_SLICE } from '../core/base64-decoder.js';

const SLAB_BYTES = (BASE64_SLICE / 4) * 3;
/** Free slabs kept for reuse (up to 12 MiB): enough for hundreds of images being written at once. */
const MAX_FREE = 256;
/**
 * Past this many slabs in use (12 MiB) the disk is behind: writers with bytes waiting hold their
 * answers back until their writes land, so a burst of answers waits in sockets, not in slabs.
 */
const CROWDED_AT = 256;

export class DecodeSlabs {
  private readonly free: Buffer[] = [];
  private inUse = 0;

  /** More decoded bytes wait for the disk than a burst should hold. */
  get crowded(): boolean {
    return this.inUse > CROWDED_AT;
  }

  /** Decodes base64 text (head then body, at most BASE64_SLICE characters) into a slab; give the slab back once its bytes are written. */
  decode(head: string, body: string): { bytes: Buffer; slab: Buffer } {
    const slab = this.free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.inUse++;
    const n = slab.write(head, 0, 'base64');
    const bytes = n + slab.write(body, n, 'base64');
    return { bytes: slab.subarray(0, bytes), slab };
  }

  giveBack(slab: Buffer): void {
    this.inUse--;
    if (this.free.length < MAX_FREE) this.free.push(slab);
  }
}
