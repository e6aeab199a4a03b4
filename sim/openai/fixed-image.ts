// The benchmark fast path: every generation, edit and variation answered with one fixed image
// instead of a rendering, inline bodies served from cached bytes and streams repeating the same
// cached base64, so that only the transport is measured.
import sharp from 'sharp';
import type { SimResponse } from '../http-server.js';
import type { ImageFormat } from '../render.js';
import { imagesResponse, usageFor, type ImageHost, type OutImage } from './answers.js';
import type { GenerationPlan, StreamPlan } from './params.js';
import { jsonBuffer, jsonHeaders, jsonResponse, nowSeconds } from './responses.js';
import { streamFields, type StreamEventPrefix, type StreamSource } from './stream.js';

const FIXED_CACHE_MAX_BYTES = 256 * 1024 * 1024;
/** Cached fixed-image bodies embed `created`; rebuild them once it is this stale. */
const FIXED_CACHE_MAX_AGE_S = 60;

interface FixedCacheEntry {
  created: number;
  body: Buffer;
}

export class FixedImageAnswers {
  private readonly cache = new Map<string, FixedCacheEntry>();
  private cacheBytes = 0;
  private described: Promise<OutImage> | undefined;

  constructor(private readonly bytes: Buffer) {}

  image(): Promise<OutImage> {
    this.described ??= describeFixedImage(this.bytes);
    return this.described;
  }

  /** Inline answers are served from cached bytes; only url answers are built per request. */
  async answer(plan: GenerationPlan, host: ImageHost): Promise<SimResponse> {
    const image = await this.image();
    const images = Array.from({ length: plan.n }, () => image);
    if (plan.answer === 'url') return jsonResponse(200, imagesResponse(plan, images, nowSeconds(), host));
    const key = fixedCacheKey(plan);
    const now = nowSeconds();
    let entry = this.cache.get(key);
    if (entry === undefined || now - entry.created > FIXED_CACHE_MAX_AGE_S) {
      entry = { created: now, body: jsonBuffer(imagesResponse(plan, images, now, host)) };
      this.remember(key, entry);
    }
    return { kind: 'full', status: 200, headers: jsonHeaders(), body: entry.body };
  }

  /** Every event carries the fixed image's cached base64. */
  async streamSource(plan: GenerationPlan, stream: StreamPlan, prefix: StreamEventPrefix): Promise<StreamSource> {
    const image = await this.image();
    const b64 = image.base64Bytes ?? Buffer.from(image.bytes.toString('base64'), 'latin1');
    const same = (): Promise<Buffer> => Promise.resolve(b64);
    return {
      prefix,
      n: plan.n,
      partialImages: stream.partialImages,
      fields: streamFields(plan, image),
      usage: usageFor(plan),
      partial: same,
      final: same,
      startFinals: () => undefined,
    };
  }

  private remember(key: string, entry: FixedCacheEntry): void {
    const previous = this.cache.get(key);
    if (previous !== undefined) this.cacheBytes -= previous.body.length;
    this.cache.delete(key);
    this.cache.set(key, entry);
    this.cacheBytes += entry.body.length;
    for (const [oldKey, old] of this.cache) {
      if (this.cacheBytes <= FIXED_CACHE_MAX_BYTES || oldKey === key) break;
      this.cache.delete(oldKey);
      this.cacheBytes -= old.body.length;
    }
  }
}

/** Everything that shapes a fixed-image body besides `created` (format and size come from the image). */
function fixedCacheKey(plan: GenerationPlan): string {
  const revised = plan.family === 'dall-e-3' ? plan.prompt : null;
  const usage = plan.family === 'gpt' ? usageFor(plan) : null;
  return JSON.stringify([plan.answer, plan.n, plan.family, plan.quality, plan.background, usage, revised]);
}

async function describeFixedImage(bytes: Buffer): Promise<OutImage> {
  const meta = await sharp(bytes).metadata();
  const format: ImageFormat = meta.format === 'jpeg' || meta.format === 'webp' ? meta.format : 'png';
  const base64 = bytes.toString('base64');
  return { bytes, base64, base64Bytes: Buffer.from(base64, 'latin1'), format, width: meta.width ?? 1024, height: meta.height ?? 1024 };
}
