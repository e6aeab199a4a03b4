// The body of a successful images answer: OpenAI's ImagesResponse (created, data, and for GPT
// image models background, output_format, quality, size, usage), each image as b64_json, a data
// URI (relays) or a URL to an image this simulator hosts (GET /files/<name>).
import { randomBytes } from 'node:crypto';
import type { ImageFormat } from '../render.js';
import type { GenerationPlan, JsonObject } from './params.js';

/** One image of an answer. */
export interface OutImage {
  bytes: Buffer;
  /** Precomputed for the fixed image so it is encoded once. */
  base64?: string;
  /** The fixed image's base64 as ASCII bytes, streamed as is into every event. */
  base64Bytes?: Buffer;
  format: ImageFormat;
  width: number;
  height: number;
}

/** Published output-token counts for a 1024x1024 image; other sizes scale by pixel count. */
const OUTPUT_TOKENS_1024: Record<string, number> = { low: 272, medium: 1056, high: 4160 };
export const MIME: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
const EXT: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/**
 * Hosted images are kept while they fit these bounds, newest first, as an upstream keeps its
 * result URLs valid for a while: a task resumed after a crash still finds its images.
 */
const MAX_HOSTED_FILES = 10_000;
const MAX_HOSTED_BYTES = 256 * 1024 * 1024;
const DEFAULT_PUBLIC_BASE = 'http://openai-simulator.invalid';

export function usageFor(plan: GenerationPlan): JsonObject {
  const textTokens = Math.ceil(plan.prompt.length / 4);
  const imageTokens = plan.inputImageTokens ?? 0;
  const perImage = Math.round(((OUTPUT_TOKENS_1024[plan.quality] ?? 1056) * plan.width * plan.height) / (1024 * 1024));
  const outputTokens = perImage * plan.n;
  return {
    total_tokens: textTokens + imageTokens + outputTokens,
    input_tokens: textTokens + imageTokens,
    output_tokens: outputTokens,
    input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
  };
}

function revisePrompt(prompt: string): string {
  return `${prompt.trim()}, depicted as a richly detailed digital illustration with balanced composition and soft, natural lighting.`;
}

/** The images answered as URLs, kept for GET /files/<name>, bounded to the most recent ones. */
export class ImageHost {
  private readonly files = new Map<string, { bytes: Buffer; contentType: string }>();
  private hostedBytes = 0;

  constructor(private readonly publicBaseUrl: string | undefined) {}

  /** Keeps the image; returns its URL. */
  host(image: OutImage): string {
    const name = `img-${randomBytes(12).toString('hex')}.${EXT[image.format]}`;
    this.files.set(name, { bytes: image.bytes, contentType: MIME[image.format] });
    this.hostedBytes += image.bytes.length;
    while (this.files.size > MAX_HOSTED_FILES || this.hostedBytes > MAX_HOSTED_BYTES) {
      const oldest = this.files.entries().next();
      if (oldest.done === true) break;
      this.files.delete(oldest.value[0]);
      this.hostedBytes -= oldest.value[1].bytes.length;
    }
    const base = (this.publicBaseUrl ?? DEFAULT_PUBLIC_BASE).replace(/\/+$/, '');
    return `${base}/files/${name}`;
  }

  get(name: string): { bytes: Buffer; contentType: string } | undefined {
    return this.files.get(name);
  }
}

/** The ImagesResponse of a plan's images; `url` answers are hosted. */
export function imagesResponse(plan: GenerationPlan, images: readonly OutImage[], created: number, host: ImageHost): JsonObject {
  const data = images.map((image) => item(plan, image, host));
  const first = images[0];
  if (plan.family !== 'gpt' || first === undefined) return { created, data };
  return {
    created,
    background: plan.background,
    data,
    output_format: first.format,
    quality: plan.quality,
    size: `${first.width}x${first.height}`,
    usage: usageFor(plan),
  };
}

function item(plan: GenerationPlan, image: OutImage, host: ImageHost): Record<string, string> {
  const entry: Record<string, string> = {};
  if (plan.family === 'dall-e-3') entry.revised_prompt = revisePrompt(plan.prompt);
  const base64 = (): string => image.base64 ?? image.bytes.toString('base64');
  if (plan.answer === 'url') entry.url = host.host(image);
  else if (plan.answer === 'data_uri') entry.url = `data:${MIME[image.format]};base64,${base64()}`;
  else entry.b64_json = base64();
  return entry;
}
