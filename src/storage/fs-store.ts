import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageStore } from './image-store.js';

const SAFE_NAME = /^[A-Za-z0-9_-]+\.[a-z0-9]+$/;
const READ_CHUNK = 1024 * 1024;

/** Images as files under `<dataDir>/images/<2-char shard>/<name>`, written atomically. */
export class FsImageStore implements ImageStore {
  /** Shard folders known to exist: one mkdir per folder, not per image. */
  private readonly madeDirs = new Set<string>();

  constructor(private readonly root: string) {}

  async put(name: string, bytes: Buffer): Promise<void> {
    const path = this.pathOf(name);
    const dir = join(path, '..');
    if (!this.madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    // Write then rename, so a reader never sees half a file. One write call for the whole
    // image: writeFile would cut it into 512 KiB pieces, each a trip through the thread pool.
    const tmp = `${path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done)).bytesWritten;
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
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

  async delete(name: string): Promise<void> {
    if (!SAFE_NAME.test(name)) return;
    await rm(this.pathOf(name), { force: true });
  }

  private pathOf(name: string): string {
    if (!SAFE_NAME.test(name)) throw new Error(`unsafe image name: ${name}`);
    return join(this.root, name.slice(0, 2), name);
  }
}
