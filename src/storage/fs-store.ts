import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageStore } from './image-store.js';

const SAFE_NAME = /^[A-Za-z0-9_-]+\.[a-z0-9]+$/;

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
    // Write then rename, so a reader never sees half a file.
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }

  async open(name: string): Promise<{ stream: Readable; size: number } | null> {
    if (!SAFE_NAME.test(name)) return null;
    const path = this.pathOf(name);
    try {
      const handle = await open(path, 'r');
      const { size } = await handle.stat();
      return { stream: handle.createReadStream(), size };
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
