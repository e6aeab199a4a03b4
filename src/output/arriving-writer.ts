/**
 * Stores an image while its base64 is still arriving: decoded piece by piece and written as it
 * comes, never whole in memory. Its record is committed before the first byte is written (never
 * an object without its record); a write in flight gathers what arrives meanwhile into the next
 * one (one writev), so a 2 MB image costs a handful of writes, not one per network packet.
 */
import { Base64Decoder } from '../core/base64-decoder.js';
import type { ImageSink } from '../storage/image-store.js';
import type { DecodeSlabs } from './decode-slabs.js';

/** Decoded bytes waiting for the disk beyond this hold the answer back (backpressure). */
const MAX_WAITING_BYTES = 64 * 1024;

/** A decoded piece and the slab it lives in. */
interface Piece {
  bytes: Buffer;
  slab: Buffer;
}

export class ArrivingImageWriter {
  private readonly decoder = new Base64Decoder((head, body) => this.queue(head, body));
  private waiting: Piece[] = [];
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
    const { bytes, slab } = this.slabs.decode(head, body);
    this.waiting.push({ bytes, slab });
    this.waitingBytes += bytes.length;
    void this.drain();
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
        for (const piece of pieces) this.slabs.giveBack(piece.slab);
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
    for (const piece of this.waiting) this.slabs.giveBack(piece.slab);
    this.waiting = [];
    this.waitingBytes = 0;
  }
}
