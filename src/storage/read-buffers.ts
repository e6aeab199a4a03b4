/**
 * Buffers that stored images are read into whole to be sent, lent and given back. A fresh
 * Buffer per download (or a stream's 1 MiB chunks) is megabytes outside V8's heap per image,
 * and that is what makes V8 run full collections: serving 2 MB images through a read stream cost
 * ~2x the CPU of reading into reused buffers, nearly all of it mark-compacts. Bounded: an image
 * above MAX_IMAGE_BYTES, or one that would take the buffers out past MAX_HELD_BYTES, is not
 * lent one (the caller streams it); the free ones are dropped once downloads pause.
 */

/** Larger images are streamed: a buffer this size per slow client would be too much to hold. */
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
/** Lent and free buffers together, at most. */
const MAX_HELD_BYTES = 64 * 1024 * 1024;
/** Buffers are made in whole steps of this, so images of about the same size share them. */
const STEP_BYTES = 1024 * 1024;
/** Free buffers are dropped after this long without a download ending (idle RSS stays low). */
const IDLE_DROP_MS = 2_000;

export class ReadBuffers {
  private readonly free: Buffer[] = [];
  /** Bytes of the buffers lent and free. */
  private held = 0;
  private idle: NodeJS.Timeout | undefined;

  /** A buffer of at least `size` bytes, or null: stream this image instead. Give it back once sent. */
  take(size: number): Buffer | null {
    if (size > MAX_IMAGE_BYTES) return null;
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const length = this.free[i]?.length ?? 0;
      if (length >= size && (best < 0 || length < (this.free[best]?.length ?? 0))) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0] ?? null;
    const length = Math.max(STEP_BYTES, Math.ceil(size / STEP_BYTES) * STEP_BYTES);
    if (this.held + length > MAX_HELD_BYTES) return null;
    this.held += length;
    return Buffer.allocUnsafeSlow(length);
  }

  /** Only once nothing reads it any more: the next image is read into it. */
  giveBack(buffer: Buffer): void {
    this.free.push(buffer);
    this.idle ??= setTimeout(() => this.dropFree(), IDLE_DROP_MS).unref();
    this.idle.refresh();
  }

  private dropFree(): void {
    for (const buffer of this.free) this.held -= buffer.length;
    this.free.length = 0;
  }
}
