/**
 * One request's spool files. Each is deleted when the request ends, however it ends (answered,
 * failed, client gone): until then every upstream attempt, failovers included, can re-read it.
 * A file begun after the end (a part still being read when the client vanished) is deleted at once.
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { serverBusy } from '../core/memory-budget.js';
import type { SpoolDir } from './spool-dir.js';

export class RequestSpool {
  private readonly paths = new Set<string>();
  private ended = false;
  /** Bytes of the spool budget this request's files hold. */
  private reserved = 0;

  constructor(private readonly dir: Pick<SpoolDir, 'newFilePath' | 'budget'>) {}

  /**
   * Takes `bytes` of the spool budget before they are written: past it, 503 server_busy (the
   * disk is shared by every upload in flight; a wave of them must not fill it).
   */
  reserve(bytes: number): void {
    if (!this.dir.budget.tryTake(bytes)) throw serverBusy();
    this.reserved += bytes;
  }

  /** A new empty file, open for writing; throws when the request has already ended. */
  async create(): Promise<SpoolFile> {
    if (this.ended) throw new RequestEndedError();
    const path = this.dir.newFilePath();
    this.paths.add(path);
    // 'wx': never opens a file that already exists; 0o600: no other user reads an upload.
    const handle = await open(path, 'wx', 0o600);
    if (this.ended) {
      await handle.close();
      await removeFile(path);
      throw new RequestEndedError();
    }
    return new SpoolFile(path, handle);
  }

  /** The request is over: every file it made goes. Idempotent. */
  end(): Promise<void> {
    this.ended = true;
    this.dir.budget.release(this.reserved);
    this.reserved = 0;
    const paths = [...this.paths];
    this.paths.clear();
    return Promise.all(paths.map(removeFile)).then(() => undefined);
  }
}

/** One upload being written: chunks in order, then closed. */
export class SpoolFile {
  private written = 0;

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  get size(): number {
    return this.written;
  }

  async write(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, at, chunk.length - at);
      at += bytesWritten;
    }
    this.written += chunk.length;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export class RequestEndedError extends Error {
  constructor() {
    super('the request ended while its upload was being read');
  }
}

async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
