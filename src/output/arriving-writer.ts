/**
 * Stores an image while its base64 is still arriving: decoded piece by piece and written as it
 * comes, never whole in memory. Its record is committed before the first byte is written (never
 * an object without its record). Pieces are decoded one after another into a slab, written once
 * the slab is full: a write costs the event loop ~20 us whatever its size, and with a thousand
 * answers arriving at once a network packet is often a kilobyte or less, so a write per piece
 * would be thousands of writes per image instead of ~50. A write in flight gathers the slabs
 * filled meanwhile into the next one (one writev); up to 1 MiB may wait. A store whose writes
 * take a while (S3's upload) gathers that way; the file store writes each at once into the page
 * cache (storage/fs-store.ts), so its slabs seldom wait. DecodeSlabs bounds the total.
 */
import { Base64Decoder } from '../core/base64-decoder.js';
import type { ImageSink } from '../storage/image-store.js';
import type { DecodeSlabs } from './decode-slabs.js';

/** Room left in a slab below which it counts as full (less than one base64 quantum). */
const QUANTUM_BYTES = 3;
const QUANTUM_CHARS = 4;

/** Decoded bytes waiting for the disk beyond this hold the answer back (backpressure). */
const MAX_WAITING_BYTES = 1024 * 1024;

/** A decoded piece and the slab it lives in. */
interface Piece {
  bytes: Buffer;
  slab: Buffer;
}

export class ArrivingImageWriter {
  private readonly decoder = new Base64Decoder((head, body) => this.queue(head, body));
  private waiting: Piece[] = [];
  /** The slab being filled, and how much of it is. */
  private filling: { slab: Buffer; used: number } | null = null;
  private waitingBytes = 0;
  private written = 0;
  /** The write in flight (after the record), or the record being committed. */
  private flight: Promise<void>;
  private failure: unknown;
  private failed = false;
  private aborted = false;

  constructor(
    /** The stored image's name, for its link. */
    readonly name: string,
    private readonly slabs: DecodeSlabs,
    private readonly sink: ImageSink,
    recorded: Promise<void>,
    private readonly record: {
      /** The image is stored whole: its size. */
      stored(bytes: number): Promise<void>;
      /** Takes the record back: the image did not get stored whole. */
      remove(): Promise<void>;
    },
  ) {
    this.flight = recorded.catch((err: unknown) => this.fail(err));
  }

  /** Base64 text, in any pieces. */
  push(base64: Buffer): void {
    this.decoder.push(base64);
  }

  /** Resolves when the bytes waiting for the disk are few enough to take more. */
  async room(): Promise<void> {
    while (!this.failed && this.waitingBytes > 0 && (this.waitingBytes > MAX_WAITING_BYTES || this.slabs.crowded)) await this.flight;
  }

  /** The base64 has ended: the rest is written and the image closed. Throws if it could not be stored. */
  async finish(): Promise<void> {
    this.decoder.end();
    this.seal();
    while (this.waitingBytes > 0 && !this.failed) await this.drain();
    await this.flight;
    if (this.failed) {
      await this.abort();
      throw this.failure;
    }
    try {
      await this.sink.close();
    } catch (err) {
      await this.abort();
      throw err;
    }
    await this.record.stored(this.written);
  }

  /** Nothing of the image stays: file and record are removed. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    this.failed = true;
    this.dropWaiting();
    await this.flight.catch(() => {});
    await this.sink.abort().catch(() => {});
    await this.record.remove().catch(() => {});
  }

  private queue(head: string, body: string): void {
    if (this.failed) return;
    const sealed = this.waiting.length;
    this.fill(head);
    this.fill(body);
    if (this.waiting.length > sealed) void this.drain();
  }

  /** Decodes text (whole quanta, or the last one) into the slab being filled, sealing each slab that fills up. */
  private fill(text: string): void {
    for (let at = 0; at < text.length; ) {
      this.filling ??= { slab: this.slabs.take(), used: 0 };
      const { slab } = this.filling;
      const fits = Math.floor((slab.length - this.filling.used) / QUANTUM_BYTES) * QUANTUM_CHARS;
      const part = at === 0 && text.length <= fits ? text : text.slice(at, at + fits);
      this.filling.used += slab.write(part, this.filling.used, 'base64');
      at += part.length;
      if (slab.length - this.filling.used < QUANTUM_BYTES) this.seal();
    }
  }

  /** The slab being filled joins the bytes waiting for the disk. */
  private seal(): void {
    const filling = this.filling;
    this.filling = null;
    if (!filling) return;
    if (filling.used === 0) {
      this.slabs.giveBack(filling.slab, false);
      return;
    }
    this.slabs.filled();
    this.waiting.push({ bytes: filling.slab.subarray(0, filling.used), slab: filling.slab });
    this.waitingBytes += filling.used;
  }

  /** Starts the next write after the one in flight; everything waiting goes in it. */
  private drain(): Promise<void> {
    this.flight = this.flight.then(async () => {
      if (this.failed || this.waiting.length === 0) return;
      const pieces = this.waiting;
      this.waiting = [];
      this.waitingBytes = 0;
      try {
        await this.sink.write(pieces.map((p) => p.bytes));
        this.written += pieces.reduce((n, p) => n + p.bytes.length, 0);
      } catch (err) {
        this.fail(err);
      } finally {
        for (const piece of pieces) this.slabs.giveBack(piece.slab, true);
      }
    });
    return this.flight;
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
    this.dropWaiting();
  }

  private dropWaiting(): void {
    this.seal();
    for (const piece of this.waiting) this.slabs.giveBack(piece.slab, true);
    this.waiting = [];
    this.waitingBytes = 0;
  }
}
