import { randomBytes } from 'node:crypto';
import { close as fsClose, closeSync, open as fsOpen, openSync, writevSync } from 'node:fs';
import { mkdir, open, readdir, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageSink, ImageStore, StoredImage } from './image-store.js';
import type { ReadBuffers } from './read-buffers.js';

const SAFE_NAME = /^[A-Za-z0-9_-]+\.[a-z0-9]+$/;
const READ_CHUNK = 1024 * 1024;
/** Image names start with base64url ids: their first two characters name the shard. */
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Every shard folder's name (a data dir ends up with all of them). */
export const SHARD_NAMES = [...ID_ALPHABET].flatMap((a) => [...ID_ALPHABET].map((b) => a + b));
const SHARDS_PER_TURN = 16;
/** The thread pool's size (libuv's default): past this many, arriving images' opens and closes run on the event loop. */
const MAX_POOLED_FILE_CALLS = 4;
/** A new file's descriptor, opened in the thread pool ('wx': never overwrites). */
const openNewFd = (path: string) => new Promise<number>((resolve, reject) => fsOpen(path, 'wx', (err, fd) => (err ? reject(err) : resolve(fd))));
const closeFd = (fd: number) => new Promise<void>((resolve, reject) => fsClose(fd, (err) => (err ? reject(err) : resolve())));

/** Images as files under `<dataDir>/images/<2-char shard>/<name>`. */
export class FsImageStore implements ImageStore {
  /** Shard folders known to exist (or being made): one mkdir per folder for the data dir's life. */
  private shards: Promise<Map<string, Promise<void>>> | undefined;
  /** Making the missing shard folders in the background; close() stops it. */
  private preparing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Opens and closes of arriving images in the thread pool now. */
  private pooledFileCalls = 0;

  constructor(private readonly root: string) {}

  /**
   * Written straight under its name, in one write call (writeFile would cut it into 512 KiB
   * pieces, each a trip through the thread pool): open, write, close. No temp file and rename:
   * the name is 128 random bits that nobody has until put returns (a url-mode answer hands it
   * out after), so no reader can meet a half-written file; 'wx' never overwrites. A crash
   * mid-write leaves a partial file under a recorded name, which the sweeper deletes with its
   * record (a temp file would have stayed forever); a failed write removes its file.
   */
  async put(name: string, bytes: Buffer): Promise<void> {
    const path = this.pathOf(name);
    await this.shardFor(name);
    const handle = await open(path, 'wx');
    try {
      for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done)).bytesWritten;
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => {});
      await rm(path, { force: true });
      throw err;
    }
  }

  /**
   * Like put, written as pieces come; an aborted image's file is removed. Each write goes straight
   * into the page cache, on the event loop (writevSync): when a thousand answers arrive at once and
   * each reaches the client at its pace, every image is written a 48 KiB slab at a time, and
   * through the thread pool (four threads for every file operation of the process) those writes
   * queued behind each other with the decoded bytes held in memory meanwhile and the spill files'
   * reads stuck behind them. The 1,000-held 2.7 MiB wave: p50 36-38 s to 24-26 s, gateway CPU
   * 42-47 to 24-26 ms a request, peak RSS 608-648 to 408-431 MB (docs/deploy.md). Opens and
   * closes go through the pool while it has room (creating a file takes ~0.5-1 ms on the bench
   * machine: at c=1 a pooled open runs beside the next request, a synchronous one makes it wait)
   * and on the event loop once MAX_POOLED_FILE_CALLS are there: in a burst the opens queued too,
   * each image's first slabs waiting for its file (the 1,000-held 256 px wave's peak: 274-283 MB
   * against 300 in A/B pairs). A disk that stalls now stalls the event loop too, as the spill
   * files of the read-ahead (spool/answer-spill.ts) already do.
   */
  openWrite(name: string): ImageSink {
    const path = this.pathOf(name);
    // Opened at the first write: the caller commits the image's record before that.
    let opening: Promise<number> | undefined;
    let closed = false;
    const opened = () =>
      (opening ??= this.shardFor(name).then(() =>
        this.fileCall(
          () => openSync(path, 'wx'),
          () => openNewFd(path),
        ),
      ));
    return {
      write: async (pieces) => {
        const fd = await opened();
        let rest = pieces.filter((p) => p.length > 0);
        while (rest.length > 0) rest = remainder(rest, writevSync(fd, rest));
      },
      close: async () => {
        const fd = await opened();
        // Never closed twice, even if this one fails: its number may belong to another file by then.
        closed = true;
        await this.fileCall(
          () => closeSync(fd),
          () => closeFd(fd),
        );
      },
      abort: async () => {
        if (!opening) return;
        const fd = await opening.catch(() => null);
        if (fd !== null && !closed) closeQuietly(fd);
        closed = true;
        await rm(path, { force: true });
      },
    };
  }

  /** A file call through the thread pool while it has room, else at once on the event loop. */
  private async fileCall<T>(now: () => T, pooled: () => Promise<T>): Promise<T> {
    if (this.pooledFileCalls >= MAX_POOLED_FILE_CALLS) return now();
    this.pooledFileCalls++;
    try {
      return await pooled();
    } finally {
      this.pooledFileCalls--;
    }
  }

  /** Stops making shard folders (the data dir may be removed next). */
  async close(): Promise<void> {
    this.closed = true;
    await this.preparing;
  }

  async open(name: string): Promise<{ stream: Readable; size: number } | null> {
    if (!SAFE_NAME.test(name)) return null;
    const path = this.pathOf(name);
    try {
      const handle = await open(path, 'r');
      const { size } = await handle.stat();
      // Big reads: an image goes out in a few trips, not 64 KiB at a time.
      return { stream: handle.createReadStream({ highWaterMark: READ_CHUNK }), size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** open, fstat, one read, close: a stream would take a read per MiB, each into a fresh buffer. */
  async read(name: string, buffers: ReadBuffers): Promise<StoredImage | null> {
    if (!SAFE_NAME.test(name)) return null;
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(name), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let buffer: Buffer | null = null;
    try {
      const { size } = await handle.stat();
      buffer = buffers.take(size);
      if (!buffer) return { stream: handle.createReadStream({ highWaterMark: READ_CHUNK }), size };
      let got = 0;
      while (got < size) {
        const { bytesRead } = await handle.read(buffer, got, size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      await handle.close();
      const lent = buffer;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        buffers.giveBack(lent);
      };
      // A file shorter than its fstat said (never for a stored image) is sent as far as it goes.
      return { bytes: lent.subarray(0, got), size: got, release };
    } catch (err) {
      if (buffer) buffers.giveBack(buffer);
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    if (!SAFE_NAME.test(name)) return;
    await rm(this.pathOf(name), { force: true });
  }

  /** Writes and removes a small file beside the shard folders (made first on a fresh data dir). */
  async checkWritable(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const probe = join(this.root, `.ready-${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(probe, 'ok');
    } finally {
      await rm(probe, { force: true });
    }
  }

  private pathOf(name: string): string {
    if (!SAFE_NAME.test(name)) throw new Error(`unsafe image name: ${name}`);
    return join(this.root, name.slice(0, 2), name);
  }

  /** The image's shard folder, made once; the folders already on disk are read once, at the first put. */
  private async shardFor(name: string): Promise<void> {
    this.shards ??= this.existingShards();
    const shards = await this.shards;
    const shard = name.slice(0, 2);
    let made = shards.get(shard);
    if (!made) {
      made = mkdir(join(this.root, shard), { recursive: true }).then(() => {});
      shards.set(shard, made);
      // A failed mkdir is tried again by the next image of that shard.
      made.catch(() => shards.delete(shard));
    }
    await made;
  }

  private async existingShards(): Promise<Map<string, Promise<void>>> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    const shards = new Map(entries.filter((e) => e.isDirectory()).map((e): [string, Promise<void>] => [e.name, Promise.resolve()]));
    this.preparing = this.makeMissingShards(shards).catch(() => {});
    return shards;
  }

  /**
   * Makes the shard folders not made yet, a few at a time in the background: a fresh data dir
   * would otherwise pay a mkdir on most of its first 4,096 images, on the request's path.
   */
  private async makeMissingShards(shards: Map<string, Promise<void>>): Promise<void> {
    const missing = SHARD_NAMES.filter((shard) => !shards.has(shard));
    // The first image is being stored: the images folder is wanted now anyway.
    if (missing.length > 0) await mkdir(this.root, { recursive: true }).catch(() => {});
    for (let at = 0; at < missing.length && !this.closed; at += SHARDS_PER_TURN) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.closed) return;
      const made = await Promise.all(missing.slice(at, at + SHARDS_PER_TURN).map((shard) => this.makeShard(shards, shard)));
      if (made.includes('gone')) return; // the data dir was removed (a test's, or shut down): stop
    }
  }

  /** Not recursive: a removed data dir is not made again. */
  private async makeShard(shards: Map<string, Promise<void>>, shard: string): Promise<'made' | 'gone'> {
    if (shards.has(shard)) return 'made';
    try {
      await mkdir(join(this.root, shard));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') return code === 'ENOENT' ? 'gone' : 'made';
    }
    if (!shards.has(shard)) shards.set(shard, Promise.resolve());
    return 'made';
  }
}

/** What a short writev left unwritten. */
function remainder(pieces: readonly Buffer[], written: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = written;
  for (const piece of pieces) {
    if (skip >= piece.length) skip -= piece.length;
    else {
      out.push(skip > 0 ? piece.subarray(skip) : piece);
      skip = 0;
    }
  }
  return out;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // The file is removed next either way.
  }
}
