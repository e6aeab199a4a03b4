/**
 * Upstream images -> what the client asked for. Every image is stored for the retention period;
 * url mode stores before answering (the link must work at once), b64 mode after (off the
 * critical path). b64, data URIs and upstream URLs all end up as the requested form.
 */
import { randomBytes } from 'node:crypto';
import type { BackgroundWork } from '../core/background-work.js';
import { upstreamInvalidResponse } from '../core/errors.js';
import { decodeBase64, IMAGE_MIME, sniffImage, type ImageKind } from '../core/image-bytes.js';
import { readImageHeader } from '../core/image-header.js';
import type { ImageJob, UpstreamImage } from '../core/job.js';
import type { MemoryHold } from '../core/memory-budget.js';
import { ropeLength, ropeSlice, type Rope } from '../core/rope.js';
import type { ImageParams, ImageRecords } from '../storage/image-records.js';
import type { NewImage } from '../db/schema.js';
import { conversionNeeded, convertImage, decodeLimitProblem, type ImageShape } from './convert.js';
import type { ImageStore } from '../storage/image-store.js';
import { ArrivingImageWriter } from './arriving-writer.js';
import { DecodeSlabs } from './decode-slabs.js';
import { HELD_IMAGE_PREFIX, storedName } from '../storage/retention-sweeper.js';
import type { UrlSigner } from '../storage/url-signer.js';

export interface DeliveredImage {
  /** Base64 bytes (ASCII), written into the answer as they are. */
  b64_json?: Rope;
  url?: string;
  /** url mode: the stored image's name, so a task can sign fresh links later. Never rendered. */
  name?: string;
  revised_prompt?: string;
}

export interface DeliveryContext {
  keyId: string | null;
  signal: AbortSignal;
  /** Resolves once the answer is out; storing b64-mode images waits for it (off the critical path). */
  answered?: Promise<void>;
  /** Streams: url mode also carries the base64 (OpenAI's completed event requires b64_json). */
  includeBase64?: boolean;
  /** The request's hold on the memory budget: images held for the answer are counted in it. */
  memory?: MemoryHold | undefined;
  /** Task runs: the task the images are results of (the gallery's `task` filter). */
  taskId?: string;
  /** The content check's word on each image, by its index (content-safety.ts): kept with its row; a flagged one is always stored. */
  safety?: readonly (StoredSafetyMark | undefined)[];
}

/** What the content check said of an image, as its images row keeps it. */
export interface StoredSafetyMark {
  readonly scores: Readonly<Record<string, number>>;
  readonly review: 'flagged' | null;
}

/** Downloads an image an upstream handed over by URL. */
export type ImageFetcher = (url: string, signal: AbortSignal) => Promise<Buffer>;

export interface ImageOutputDeps {
  store: ImageStore;
  records: ImageRecords;
  signer: UrlSigner;
  fetchImage: ImageFetcher;
  background: BackgroundWork;
  /** Base of image links, e.g. https://img.example.com (read late: the port may be chosen at listen). */
  publicUrl: () => string;
  urlTtlSeconds: number;
  retentionSeconds: number;
  /** b64_json answers are kept in storage too (default); false: only passed on. */
  keepB64Images?: boolean;
  /** The prompt is kept with each stored image, for the gallery (default); false: never stored (IMAGEGATE_GALLERY_PROMPTS). */
  keepPrompts?: boolean;
  now?: () => number;
}

export class ImageOutput {
  private readonly now: () => number;
  /** Shared by every image being stored as it arrives. */
  private readonly slabs = new DecodeSlabs();

  constructor(private readonly deps: ImageOutputDeps) {
    this.now = deps.now ?? Date.now;
  }

  async deliver(job: ImageJob, images: readonly UpstreamImage[], ctx: DeliveryContext): Promise<DeliveredImage[]> {
    return Promise.all(images.map((image, index) => this.deliverOne(job, image, ctx, index)));
  }

  /** b64_json answers are kept in storage too (else only passed on). */
  get keepsB64(): boolean {
    return this.deps.keepB64Images !== false;
  }

  /** One image an upstream handed over whole -> what the client asked for; `index`: its place in the answer. */
  async deliverOne(job: ImageJob, image: UpstreamImage, ctx: DeliveryContext, index = 0): Promise<DeliveredImage> {
    const revised = image.revisedPrompt !== undefined ? { revised_prompt: image.revisedPrompt } : {};
    if (job.responseFormat === 'b64_json' && image.kind === 'b64' && !conversionNeeded(job, shapeOfBase64(image.base64))) {
      ctx.memory?.add(ropeLength(image.base64));
      if (this.keepsB64 || ctx.safety?.[index]?.review) this.storeLater(job, ctx, index, () => decodeBase64(image.base64));
      return { b64_json: image.base64, ...revised };
    }
    if (job.responseFormat === 'url' && image.kind === 'b64') {
      const shape = shapeOfBase64(image.base64);
      if (!conversionNeeded(job, shape)) {
        const stored = await this.storeBase64(job, image.base64, shape, ctx, index);
        if (!ctx.includeBase64) return { ...stored, ...revised };
        // A stream's completed event carries the image too: the upstream's own base64. Decoded
        // whole and encoded again, it was a string of megabytes per image, made and dropped at
        // once, which kept V8 in full collections (a third of a stream's main-thread time).
        ctx.memory?.add(ropeLength(image.base64));
        return { ...stored, b64_json: image.base64, ...revised };
      }
    }
    const bytes = await this.inRequestedFormat(job, image.kind === 'b64' ? decodeBase64(image.base64) : await this.download(image.url, ctx.signal));
    ctx.memory?.add(bytes.length);
    if (job.responseFormat === 'b64_json') {
      checkedKind(sniffImage(bytes));
      if (this.keepsB64 || ctx.safety?.[index]?.review) this.storeLater(job, ctx, index, () => bytes);
      return { b64_json: [encodeBase64(bytes)], ...revised };
    }
    const name = await this.store(job, bytes, ctx, index);
    const base64 = ctx.includeBase64 ? { b64_json: [encodeBase64(bytes)] } : {};
    return { url: this.signedUrl(name), name, ...base64, ...revised };
  }

  /** The bytes in the format the job asked for: converted (off the event loop, in sharp's pool) when the upstream ignored it. */
  async inRequestedFormat(job: ImageJob, bytes: Buffer): Promise<Buffer> {
    const shape = shapeOf(bytes);
    const conversion = conversionNeeded(job, shape);
    if (!conversion) return bytes;
    const tooLarge = decodeLimitProblem(shape);
    if (tooLarge) throw upstreamInvalidResponse(`The upstream returned an image too large to convert: ${tooLarge}.`);
    try {
      return await convertImage(bytes, conversion, shape.kind, job.outputCompression);
    } catch {
      throw upstreamInvalidResponse('The upstream returned an image that could not be converted.');
    }
  }

  /**
   * Stores the image once the answer is out, so the client never waits for the disk. The bytes
   * stay counted in the request's memory until they are written.
   */
  storeLater(job: ImageJob, ctx: DeliveryContext, index: number, bytes: () => Buffer): void {
    const unpin = ctx.memory?.pin();
    this.deps.background.run('store image', async () => {
      try {
        await ctx.answered;
        await this.store(job, bytes(), ctx, index);
      } finally {
        unpin?.();
      }
    });
  }

  /**
   * Records the image for retention, then writes the bytes; returns the stored name. Never an
   * object without its record: a failed insert writes nothing, and a failed write takes its
   * record back (a crash in between leaves a record without a file, which the sweeper clears).
   * The insert is batched with other images' (ImageRecords): this waits for the commit that
   * holds its row, shared with whoever stored at the same time, and no longer.
   */
  private async store(job: ImageJob, bytes: Buffer, ctx: DeliveryContext, index: number, held?: Readonly<Record<string, number>>): Promise<string> {
    const shape = shapeOf(bytes);
    const id = (held ? HELD_IMAGE_PREFIX : '') + randomBytes(16).toString('base64url');
    const mime = IMAGE_MIME[shape.kind];
    const name = storedName(id, mime);
    const review = held ? { review: 'refused' as const, safety_scores: JSON.stringify(held) } : {};
    await this.deps.records.insert({ ...this.record(job, ctx, index, shape), ...review, id, mime, bytes: bytes.length });
    try {
      await this.deps.store.put(name, bytes);
    } catch (err) {
      await this.deps.records.delete([id]).catch(() => {});
      throw err;
    }
    return name;
  }

  /**
   * url mode, an image as asked: decoded into the shared slabs as it is written, as an arriving
   * one is, never whole in memory (a fresh 2 MB Buffer per image is what drives V8's full
   * collections). Its record first, as store does; the link once it is stored whole.
   */
  private async storeBase64(job: ImageJob, base64: Rope, shape: ImageShape, ctx: DeliveryContext, index: number): Promise<{ url: string; name: string }> {
    const writer = this.startStoring(job, shape, ctx, index);
    try {
      for (const piece of base64) {
        writer.push(piece);
        await writer.room();
      }
      await writer.finish();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return { url: this.signedUrl(writer.name), name: writer.name };
  }

  /**
   * Keeps an image the content check refused (block mode) for review, with its scores, for the
   * retention period: under a held name, which no link is ever made for.
   */
  async storeHeld(job: ImageJob, bytes: Buffer, ctx: DeliveryContext, index: number, scores: Readonly<Record<string, number>>): Promise<void> {
    await this.store(job, bytes, ctx, index, scores);
  }

  /**
   * Stores an image while its base64 arrives (sync b64_json answers). Its record is inserted
   * first (with size 0, set once it is stored whole); the writer takes it back if the image
   * does not end up stored whole.
   */
  startStoring(job: ImageJob, shape: ImageShape, ctx: DeliveryContext, index: number): ArrivingImageWriter {
    const id = randomBytes(16).toString('base64url');
    const mime = IMAGE_MIME[shape.kind];
    const name = storedName(id, mime);
    const recorded = this.deps.records.insert({ ...this.record(job, ctx, index, shape), id, mime, bytes: 0 });
    const { records } = this.deps;
    return new ArrivingImageWriter(name, this.slabs, this.deps.store.openWrite(name), recorded, {
      stored: (bytes) => records.setSize(id, bytes),
      remove: () => records.delete([id]),
    });
  }

  /** Finishes storing an arrived image once the answer is out; its bytes stay counted until written. */
  finishLater(writer: ArrivingImageWriter, ctx: DeliveryContext): void {
    const unpin = ctx.memory?.pin();
    this.deps.background.run('store image', async () => {
      try {
        await writer.finish();
      } finally {
        unpin?.();
      }
    });
  }

  /** An images row but for the image's own id, type and size: who asked, when, what for (the gallery shows it). */
  private record(job: ImageJob, ctx: DeliveryContext, index: number, shape: ImageShape): Omit<NewImage, 'id' | 'mime' | 'bytes'> {
    const created = this.now();
    return {
      request_id: job.id,
      key_id: ctx.keyId,
      created_at: created,
      expires_at: created + this.deps.retentionSeconds * 1000,
      model: job.model.id,
      operation: OPERATION_ENDPOINT[job.operation],
      task_id: ctx.taskId ?? null,
      prompt: this.deps.keepPrompts === false || job.operation === 'variation' ? null : job.prompt,
      params: JSON.stringify(paramsOf(job, index)),
      width: shape.width ?? null,
      height: shape.height ?? null,
      ...safetyColumns(ctx.safety?.[index]),
    };
  }

  /**
   * A fresh link to a stored image (tasks render links each time they are read): the store's own
   * (S3 presigned or public) when it offers one, else the gateway's signed /files link.
   */
  signedUrl(name: string): string {
    const direct = this.deps.store.linkFor?.(name, this.deps.urlTtlSeconds);
    if (direct) return direct;
    const { expires, sig } = this.deps.signer.sign(name, this.deps.urlTtlSeconds);
    return `${this.deps.publicUrl()}/files/${name}?expires=${expires}&sig=${sig}`;
  }

  /** An image an upstream handed over by URL, downloaded (the content check reads it before delivery). */
  async download(url: string, signal: AbortSignal): Promise<Buffer> {
    try {
      return await this.deps.fetchImage(url, signal);
    } catch {
      throw upstreamInvalidResponse('The upstream returned an image URL that could not be downloaded.');
    }
  }
}

/** An image's row columns from its content-check mark (none: not checked). */
function safetyColumns(mark: StoredSafetyMark | undefined): Pick<NewImage, 'safety_scores' | 'review'> {
  return mark ? { safety_scores: JSON.stringify(mark.scores), review: mark.review } : {};
}

/** The endpoint an operation answers (a generation with reference images is an edit). */
const OPERATION_ENDPOINT = { generate: 'generations', edit: 'edits', variation: 'variations' } as const;

/** The parameters behind an image, as the client names them; what the job leaves unset is left out. */
function paramsOf(job: ImageJob, index: number): ImageParams {
  return {
    size: job.size,
    quality: job.quality,
    ...(job.outputFormat !== undefined ? { output_format: job.outputFormat } : {}),
    ...(job.outputCompression !== undefined ? { output_compression: job.outputCompression } : {}),
    ...(job.background !== undefined ? { background: job.background } : {}),
    ...(job.style !== undefined ? { style: job.style } : {}),
    ...(job.moderation !== undefined ? { moderation: job.moderation } : {}),
    response_format: job.responseFormat,
    n: job.n,
    index,
  };
}

/** The header is read from a prefix: a JPEG whose frame header lies deeper keeps its size unknown. */
const HEADER_PREFIX_BYTES = 64 * 1024;

function shapeOf(bytes: Buffer): ImageShape {
  const kind = checkedKind(sniffImage(bytes));
  const header = readImageHeader(bytes.subarray(0, HEADER_PREFIX_BYTES));
  return header ? { kind, width: header.width, height: header.height } : { kind };
}

/** PNG and WebP say their size in the first bytes; a JPEG's frame header may follow kilobytes of metadata. */
const SHORT_PREFIX_BYTES = 1024;

/** Decodes only what the header needs: 1 KB, or up to 64 KB for a JPEG whose size lies deeper. */
export function shapeOfBase64(base64: Rope): ImageShape {
  const prefix = (bytes: number) => decodeBase64([ropeSlice(base64, 0, Math.ceil(bytes / 3) * 4)]);
  const shape = shapeOf(prefix(SHORT_PREFIX_BYTES));
  return shape.width === undefined && shape.kind === 'jpeg' ? shapeOf(prefix(HEADER_PREFIX_BYTES)) : shape;
}

/** Image bytes -> base64 bytes, through one string (Node has no Buffer-to-Buffer encoder). */
export function encodeBase64(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('base64'), 'latin1');
}

export function checkedKind(kind: ImageKind | null): ImageKind {
  if (!kind) throw upstreamInvalidResponse('The upstream returned data that is not an image.');
  return kind;
}
