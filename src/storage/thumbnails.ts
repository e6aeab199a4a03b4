/**
 * Small previews of stored images for the gallery: a WebP at most 256 px on its longest side,
 * made once by sharp (in libuv's thread pool, off the event loop) and kept as a file in a cache
 * folder under the data dir, whichever store holds the images (a bucket's images too: one read
 * from it per thumbnail, then the local copy). An SVG is its own thumbnail: it is not rasterised
 * (a vector file can name other files to draw; it is served as the image is, under a CSP that
 * runs nothing). A cached thumbnail goes when its image is deleted, or when its image's retention
 * ends: its file is dated as its image (mtime = the image's created_at), and prune() deletes by that date.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { storedName } from './retention-sweeper.js';
import type { ImageStore } from './image-store.js';
import { loadSharp } from '../core/sharp-loader.js';

/** The longest side of a thumbnail, in pixels. */
export const THUMBNAIL_SIZE = 256;
/** Stored images are at most a few tens of megapixels; sharp refuses to decode beyond this instead of allocating. */
const MAX_DECODE_PIXELS = 8192 * 8192;
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * Thumbnails made at once; the rest wait their turn. A gallery page asks for a hundred at a time,
 * and each holds its whole image in memory while sharp decodes it (sharp's pool runs 4 at once).
 */
const MAX_MAKING_AT_ONCE = 4;

export interface Thumbnail {
  stream: Readable;
  size: number;
  mime: 'image/webp' | 'image/svg+xml';
}

/** What the cache needs of an images row: its id, its type, and when it was made (epoch ms). */
export interface CachedImage {
  id: string;
  mime: string;
  created_at: number;
}

export interface ThumbnailCacheDeps {
  /** The cache folder (made when first needed). */
  dir: string;
  store: ImageStore;
  /** Retention: prune() deletes a cached thumbnail whose image was made longer ago than this. */
  maxAgeMs: number;
  now?: () => number;
}

export class ThumbnailCache {
  /** Thumbnails being made: a second request for one waits for the first instead of making it again. */
  private readonly making = new Map<string, Promise<string | null>>();
  private timer: NodeJS.Timeout | undefined;
  private makingNow = 0;
  private readonly turns: (() => void)[] = [];

  constructor(private readonly deps: ThumbnailCacheDeps) {}

  /** The thumbnail of a stored image (its id and type); null when the image's bytes are gone or not an image sharp reads. */
  async open(image: CachedImage): Promise<Thumbnail | null> {
    if (!SAFE_ID.test(image.id)) return null;
    if (image.mime === 'image/svg+xml') {
      const file = await this.deps.store.open(storedName(image.id, image.mime));
      return file ? { ...file, mime: 'image/svg+xml' } : null;
    }
    const path = await this.pathOf(image);
    if (!path) return null;
    const size = (await stat(path)).size;
    return { stream: createReadStream(path), size, mime: 'image/webp' };
  }

  /** Deletes an image's cached thumbnail (the image was deleted). */
  async forget(id: string): Promise<void> {
    if (SAFE_ID.test(id)) await rm(this.cachedPath(id), { force: true });
  }

  /** Deletes the cached thumbnails of images made more than maxAgeMs ago (their files' date); returns how many. */
  async prune(): Promise<number> {
    const oldest = (this.deps.now?.() ?? Date.now()) - this.deps.maxAgeMs;
    const names = await readdir(this.deps.dir).catch(() => [] as string[]);
    let pruned = 0;
    for (const name of names) {
      const path = join(this.deps.dir, name);
      const info = await stat(path).catch(() => null);
      if (info && info.mtimeMs < oldest) {
        await rm(path, { force: true });
        pruned++;
      }
    }
    return pruned;
  }

  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => void this.prune().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private cachedPath(id: string): string {
    return join(this.deps.dir, `${id}.webp`);
  }

  /** The cached file, made first if need be. */
  private async pathOf(image: CachedImage): Promise<string | null> {
    const path = this.cachedPath(image.id);
    if (await stat(path).catch(() => null)) return path;
    let made = this.making.get(image.id);
    if (!made) {
      made = this.make(image, path).finally(() => this.making.delete(image.id));
      this.making.set(image.id, made);
    }
    return made;
  }

  private async make(image: CachedImage, path: string): Promise<string | null> {
    // A finished one hands its turn straight to the next in line.
    if (this.makingNow >= MAX_MAKING_AT_ONCE) await new Promise<void>((resolve) => this.turns.push(resolve));
    else this.makingNow++;
    try {
      return await this.makeNow(image, path);
    } finally {
      const next = this.turns.shift();
      if (next) next();
      else this.makingNow--;
    }
  }

  private async makeNow(image: CachedImage, path: string): Promise<string | null> {
    const file = await this.deps.store.open(storedName(image.id, image.mime));
    if (!file) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of file.stream) chunks.push(chunk as Buffer);
    let thumbnail: Buffer;
    try {
      const sharp = await loadSharp();
      thumbnail = await sharp(Buffer.concat(chunks), { limitInputPixels: MAX_DECODE_PIXELS })
        .rotate()
        .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 75 })
        .toBuffer();
    } catch {
      return null;
    }
    await mkdir(this.deps.dir, { recursive: true });
    // Written aside, then renamed: a reader never meets half a file.
    const aside = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(aside, thumbnail);
    // Dated as its image, so that prune() sees it expire with the image.
    const made = new Date(image.created_at);
    await utimes(aside, made, made);
    await rename(aside, path);
    return path;
  }
}
