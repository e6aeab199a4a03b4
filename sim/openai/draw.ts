// What the OpenAI simulator's images show (render.ts draws them): a generation's prompt card, an
// edit composed from its inputs, a variation of its input; and a rendered stream's previews,
// the same image drawn small and enlarged.
import { enlargePreview, previewSize, renderEdit, renderImage, renderVariation } from '../render.js';
import { usageFor } from './answers.js';
import type { EditPlan, VariationPlan } from './edits.js';
import { invalidRequest, type GenerationPlan, type StreamPlan } from './params.js';
import { streamFields, type StreamEventPrefix, type StreamSource } from './stream.js';

/** Renders image `variant` of a plan (or of a copy of it at preview size). */
export type Draw<P extends GenerationPlan> = (plan: P, variant: number) => Promise<Buffer>;

export function drawGeneration(plan: GenerationPlan, variant: number): Promise<Buffer> {
  return renderImage({
    width: plan.width,
    height: plan.height,
    format: plan.format,
    text: plan.prompt,
    compression: plan.compression,
    transparent: plan.background === 'transparent',
    variant,
  });
}

export function drawEdit(plan: EditPlan, variant: number): Promise<Buffer> {
  // dall-e-2 without a mask edits the image's own transparent areas: its alpha is the mask.
  const mask = plan.mask?.bytes ?? (plan.family === 'dall-e-2' ? plan.inputs[0]?.bytes : undefined);
  return asInputImageError(
    renderEdit({
      width: plan.width,
      height: plan.height,
      format: plan.format,
      text: plan.prompt,
      compression: plan.compression,
      transparent: plan.background === 'transparent',
      inputs: plan.inputs.map((image) => image.bytes),
      ...(mask !== undefined ? { mask } : {}),
      variant,
    }),
  );
}

export function drawVariation(plan: VariationPlan, variant: number): Promise<Buffer> {
  return asInputImageError(renderVariation({ size: plan.width, input: plan.input.bytes, variant }));
}

/**
 * Input checks read only image headers; pixel data that turns out corrupt fails while rendering,
 * which is the client's bad image (400), not a simulator failure (500).
 */
function asInputImageError(rendering: Promise<Buffer>): Promise<Buffer> {
  return rendering.catch((err: unknown) => {
    const why = err instanceof Error ? err.message : String(err);
    throw invalidRequest(`Invalid input image: it could not be decoded (${why}).`, 'image', 'invalid_image_format');
  });
}

function base64Bytes(image: Buffer): Buffer {
  return Buffer.from(image.toString('base64'), 'latin1');
}

/**
 * Rendered streams: previews are the same image drawn small and enlarged (real, decodable, the
 * requested size and format, sharpening from one to the next); the finals are drawn at full size,
 * all started once the first event's image is ready, each awaited when its completed event is due.
 */
export function renderedStreamSource<P extends GenerationPlan>(plan: P, stream: StreamPlan, draw: Draw<P>, prefix: StreamEventPrefix): StreamSource {
  const finals = new Map<number, Promise<Buffer>>();
  const final = (variant: number): Promise<Buffer> => {
    let image = finals.get(variant);
    if (image === undefined) {
      image = draw(plan, variant).then(base64Bytes);
      image.catch(() => undefined); // read when its event is due; the stream may end before that
      finals.set(variant, image);
    }
    return image;
  };
  const partial = async (variant: number, index: number): Promise<Buffer> => {
    const small = previewSize(plan.width, plan.height, index, stream.partialImages);
    // Drawn as PNG: lossless and quick at this size; the enlarged preview is encoded as asked.
    const preview = await draw({ ...plan, ...small, format: 'png' }, variant);
    const { width, height, format, compression } = plan;
    const transparent = plan.background === 'transparent';
    return base64Bytes(await enlargePreview(preview, { width, height, format, compression, transparent }));
  };
  return {
    prefix,
    n: plan.n,
    partialImages: stream.partialImages,
    fields: streamFields(plan, plan),
    usage: usageFor(plan),
    partial,
    final,
    startFinals: () => {
      for (let variant = 0; variant < plan.n; variant++) final(variant);
    },
  };
}
