/**
 * Reusable buffers that arriving images are decoded into on their way to storage. Decoded bytes
 * live only until the disk has them; a fresh Buffer for each piece would be megabytes of
 * short-lived memory outside the heap per image, which is what makes V8 run full collections.
 * A writer fills a slab with the pieces as they come and writes it once full (arriving-writer.ts),
 * then gives it back.
 */
import { BASE64_SLICE } from '../core/base64-decoder.js';

/** What one decoded text of BASE64_SLICE characters takes. */
const SLAB_BYTES = (BASE64_SLICE / 4) * 3;
/** Free slabs kept for reuse (up to 12 MiB): enough for hundreds of images being written at once. */
const MAX_FREE = 256;
/**
 * Past this many full slabs waiting (12 MiB) the disk is behind: writers with bytes waiting hold
 * their answers back until their writes land, so a burst of answers waits in sockets, not in slabs.
 * (Each image being written also has one slab it is filling: one per answer in flight.)
 */
const CROWDED_AT = 256;

export class DecodeSlabs {
  private readonly free: Buffer[] = [];
  /** Slabs filled and not yet written. */
  private full = 0;

  /** More decoded bytes wait for the disk than a burst should hold. */
  get crowded(): boolean {
    return this.full > CROWDED_AT;
  }

  /** A slab to decode into; give it back once its bytes are written. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
  }

  /** A slab taken is full: its bytes wait for the disk. */
  filled(): void {
    this.full++;
  }

  /** `wasFilled`: filled() was called for it. */
  giveBack(slab: Buffer, wasFilled: boolean): void {
    if (wasFilled) this.full--;
    if (this.free.length < MAX_FREE) this.free.push(slab);
  }
}
