/**
 * Where an upstream answer read ahead of a stalled client waits on disk (providers/read-ahead.ts):
 * one file per answer, written at the end and read from the front, so the bytes ahead of the
 * client sit in the page cache, not in the process's memory.
 *
 * The file is unlinked as soon as it is open: nothing is left on disk whatever happens to the
 * answer or the process (a crash included), and the space is the kernel's to free once the
 * handle closes. Whenever the reader catches up, writing starts again from the front, so the file
 * is as large as the most the answer was ever ahead of its reader, not the whole answer.
 */
import { writeSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { MemoryBudget } from '../core/memory-budget.js';

/** What a spill needs of the spool directory (spool-dir.ts): fresh file names, and the disk budget. */
export interface SpillDir {
  newFilePath(suffix: string): string;
  readonly budget: MemoryBudget;
}

export class AnswerSpill {
  /** Written bytes end here; the reader is at `readAt`. */
  private writeAt = 0;
  private readAt = 0;
  /** The file's size, all of it counted in the disk budget until close. */
  private size = 0;
  private reading = false;
  private closed = false;
  private failure: { error: unknown } | null = null;

  private constructor(
    private readonly handle: FileHandle,
    private readonly budget: MemoryBudget,
  ) {}

  static async open(dir: SpillDir): Promise<AnswerSpill> {
    const path = dir.newFilePath('.answer');
    // 'wx+': never an existing file; 0o600: no other user reads an answer.
    const handle = await open(path, 'wx+', 0o600);
    try {
      await unlink(path);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new AnswerSpill(handle, dir.budget);
  }

  /** Bytes written and not yet read. */
  get unread(): number {
    return this.writeAt - this.readAt;
  }

  /** A write failed: what was pushed after the bytes written is lost. */
  get failed(): { error: unknown } | null {
    return this.failure;
  }

  /**
   * Appends a piece at once, synchronously: a write into the page cache takes microseconds, while
   * through the thread pool (four threads for every file operation of the process) a thousand
   * answers' writes queue behind each other, and what waits meanwhile is held in memory, or left
   * unread on the upstream's connection until the upstream closes it. Counted in the disk budget
   * as the file grows, past it if need be: it is taken either way. A failed write is kept as the
   * spill's failure (nothing after it is taken).
   */
  push(chunk: Buffer): void {
    if (this.failure || this.closed) return;
    // The reader has caught up: the front of the file is free again.
    if (this.unread === 0 && !this.reading) {
      this.writeAt = 0;
      this.readAt = 0;
    }
    try {
      for (let at = 0; at < chunk.length; ) at += writeSync(this.handle.fd, chunk, at, chunk.length - at, this.writeAt + at);
    } catch (err) {
      this.failure = { error: err };
      return;
    }
    const end = this.writeAt + chunk.length;
    if (end > this.size) {
      this.budget.force(end - this.size);
      this.size = end;
    }
    this.writeAt = end;
  }

  /** The next unread bytes, up to `max` (one read at a time; only when `unread` > 0). */
  async read(max: number): Promise<Buffer> {
    const wanted = Math.min(max, this.unread);
    const bytes = Buffer.allocUnsafe(wanted);
    this.reading = true;
    try {
      let got = 0;
      while (got < wanted) {
        const { bytesRead } = await this.handle.read(bytes, got, wanted - got, this.readAt + got);
        if (bytesRead === 0) throw new Error('the read-ahead spill file ended early');
        got += bytesRead;
      }
      this.readAt += got;
      return bytes;
    } finally {
      this.reading = false;
    }
  }

  /** Closes the file (the kernel frees its space) and gives its bytes back to the disk budget. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.budget.release(this.size);
    this.size = 0;
    await this.handle.close();
  }
}
