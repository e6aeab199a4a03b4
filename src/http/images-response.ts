/**
 * OpenAI's ImagesResponse as bytes: created, data[], then what is known about the result.
 * Base64 images are copied in as they are, never stringified (or escaped: base64 needs none).
 */
import { Readable } from 'node:stream';
import type { DeliveredImage } from '../output/image-output.js';
import type { DeliveryEvent } from '../output/arriving-delivery.js';
import type { ArrivingImages, ImagesResult, ResultParameters } from '../pipeline.js';

/** A whole answer. */
export function renderImagesResponse(result: ImagesResult): Buffer[] {
  const chunks: Buffer[] = [opening(result.created)];
  result.data.forEach((image, i) => {
    const { b64_json: b64, name: _stored, ...rest } = image;
    if (b64) chunks.push(imageStart(i), ...b64, imageEnd(rest));
    else chunks.push(Buffer.from(`${i > 0 ? ',' : ''}{${fieldsOf(rest)}}`));
  });
  chunks.push(closing(result));
  return chunks;
}

/**
 * An answer whose images are still arriving, as a body that writes each piece as it comes.
 * The first event is awaited before any byte is written: a failure up to it (the upstream sent
 * no image after all) is an ordinary error answer. After it, a failure ends the body early and
 * the connection is cut: a truncated answer the client can only fail to parse, never a wrong one.
 */
export async function arrivingImagesBody(images: ArrivingImages): Promise<Readable> {
  const first = await images.events.next();
  // No read-ahead: the next piece is pulled from the upstream when the client's socket takes this one.
  return Readable.from(renderArriving(images, first), { objectMode: false, highWaterMark: 1 });
}

async function* renderArriving(
  { created, events }: ArrivingImages,
  first: IteratorResult<DeliveryEvent, ResultParameters>,
): AsyncGenerator<Buffer, void, undefined> {
  let done = false;
  try {
    yield opening(created);
    let index = 0;
    // `next` is let go before the next is awaited: a frame holding it would keep the piece's
    // upstream chunk alive meanwhile (core/each-once.ts).
    let next: IteratorResult<DeliveryEvent, ResultParameters> | undefined = first;
    for (;;) {
      next ??= await events.next();
      if (next.done) break;
      if (next.value.type === 'image-start') yield imageStart(index++);
      else if (next.value.type === 'b64') yield next.value.bytes;
      else yield imageEnd(next.value.image);
      next = undefined;
    }
    done = true;
    yield closing(next.value);
  } finally {
    // The client left (or the body failed): the rest is dropped, and the run refunded.
    if (!done) await events.return({});
  }
}

function opening(created: number): Buffer {
  return Buffer.from(`{"created":${created},"data":[`);
}

function imageStart(index: number): Buffer {
  return Buffer.from(index > 0 ? ',{"b64_json":"' : '{"b64_json":"');
}

function imageEnd({ name: _stored, ...fields }: Omit<DeliveredImage, 'b64_json'>): Buffer {
  const rest = fieldsOf(fields);
  return Buffer.from(rest ? `",${rest}}` : '"}');
}

function fieldsOf(fields: object): string {
  return JSON.stringify(fields).slice(1, -1);
}

function closing(result: ResultParameters): Buffer {
  const tail = fieldsOf({
    ...(result.background ? { background: result.background } : {}),
    ...(result.outputFormat ? { output_format: result.outputFormat } : {}),
    ...(result.size ? { size: result.size } : {}),
    ...(result.quality ? { quality: result.quality } : {}),
    ...(result.usage ? { usage: result.usage } : {}),
    ...(result.metadata !== undefined ? { metadata: result.metadata } : {}),
  });
  return Buffer.from(tail ? `],${tail}}` : ']}');
}
