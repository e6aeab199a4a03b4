/**
 * Sync answers whose images are still arriving. Each image's base64 is decoded into storage as it
 * comes, so the gateway holds a few packets of it, never the image; for b64_json the pieces also
 * go on to the client at once, for url the image's link follows once it is stored. An image is
 * held back only until its first bytes show what it is; one in another format than asked (the
 * upstream ignored output_format) is gathered, converted and delivered whole, as a whole
 * answer's would be.
 */
import { eachOnce } from '../core/each-once.js';
import { upstreamInvalidResponse } from '../core/errors.js';
import type { ArrivingEvent, ArrivingResult, ImageJob, ResultFields } from '../core/job.js';
import type { Rope } from '../core/rope.js';
import type { ArrivingImageWriter } from './arriving-writer.js';
import { conversionNeeded, type ImageShape } from './convert.js';
import { shapeOfBase64, type DeliveredImage, type DeliveryContext, type ImageOutput } from './image-output.js';

/** What the client's answer is made of, in order. */
export type DeliveryEvent =
  | { readonly type: 'image-start' }
  | { readonly type: 'b64'; readonly bytes: Buffer }
  /** url mode: the image's link (and stored name); b64_json: what follows its base64. */
  | { readonly type: 'image-end'; readonly image: Omit<DeliveredImage, 'b64_json'> };

export interface ArrivedAnswer {
  delivered: number;
  fields: ResultFields;
}

export type DeliveryEvents = AsyncGenerator<DeliveryEvent, ArrivedAnswer, undefined>;

/** Base64 characters that decode to 1 KiB (enough for a PNG, WebP or GIF header) and 64 KiB (a JPEG's, at worst). */
const SHORT_PREFIX = Math.ceil(1024 / 3) * 4;
const LONG_PREFIX = Math.ceil((64 * 1024) / 3) * 4;

export async function* deliverArriving(output: ImageOutput, job: ImageJob, events: ArrivingResult['events'], ctx: DeliveryContext): DeliveryEvents {
  let delivered = 0;
  let image: ArrivingImage | null = null;
  try {
    // What holds a piece is let go before each wait (core/each-once.ts): the pieces are slices
    // of the upstream's chunks.
    for (;;) {
      let next: IteratorResult<ArrivingEvent, ResultFields> | undefined = await events.next();
      if (next.done) {
        if (delivered === 0) throw upstreamInvalidResponse('The upstream answer held no images.');
        return { delivered, fields: next.value };
      }
      let event: ArrivingEvent | undefined = next.value;
      next = undefined;
      if (event.type === 'b64-start') {
        image = new ArrivingImage(output, job, ctx, job.responseFormat === 'b64_json', delivered);
      } else if (event.type === 'b64') {
        if (image) {
          const out = image.take(event.bytes);
          event = undefined;
          yield* eachOnce(out);
          await image.room();
        }
      } else if (image) {
        const revisedPrompt = event.revisedPrompt;
        event = undefined;
        yield* eachOnce(await image.end(revisedPrompt));
        image = null;
        delivered++;
      } else if (event.image) {
        const upstream = event.image;
        event = undefined;
        yield* eachOnce([...whole(await output.deliverOne(job, upstream, ctx, delivered))]);
        delivered++;
      }
    }
  } finally {
    await image?.abort();
    await events.return({});
  }
}

/** One image of the answer while its base64 arrives. */
class ArrivingImage {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Storing it as it passes (none when b64 answers are not kept). */
  private writer: ArrivingImageWriter | null = null;
  /** The prefix showed what it is: from here each piece passes on as it comes. */
  private passing = false;
  /** The prefix showed the image must be converted: all of it is gathered. */
  private converting = false;

  constructor(
    private readonly output: ImageOutput,
    private readonly job: ImageJob,
    private readonly ctx: DeliveryContext,
    /** b64_json: each piece goes on to the client as it comes. */
    private readonly passOn: boolean,
    /** Its place in the answer, from 0. */
    private readonly index: number,
  ) {}

  /** What a piece of its base64 makes of the answer (nothing while its prefix is held). */
  take(bytes: Buffer): DeliveryEvent[] {
    if (!this.passing) {
      this.held.push(bytes);
      this.heldBytes += bytes.length;
      this.ctx.memory?.add(bytes.length);
      const shape = this.converting ? null : this.shape(false);
      return shape ? this.decide(shape) : [];
    }
    this.writer?.push(bytes);
    return this.passOn ? [{ type: 'b64', bytes }] : [];
  }

  /** Resolves when storage can take more of it (at once when it is not being stored). */
  async room(): Promise<void> {
    await this.writer?.room();
  }

  /** The image's base64 ended (its item closed). */
  async end(revisedPrompt: string | undefined): Promise<DeliveryEvent[]> {
    const opened = this.passing || this.converting ? [] : this.decide(this.shape(true) as ImageShape);
    if (this.converting) {
      const base64: Rope = this.held;
      this.held = [];
      const upstream = { kind: 'b64' as const, base64, ...(revisedPrompt !== undefined ? { revisedPrompt } : {}) };
      return [...whole(await this.output.deliverOne(this.job, upstream, this.ctx, this.index))];
    }
    const writer = this.writer;
    this.writer = null;
    const revised = revisedPrompt !== undefined ? { revised_prompt: revisedPrompt } : {};
    if (this.passOn) {
      if (writer) this.output.finishLater(writer, this.ctx);
      return [...opened, { type: 'image-end', image: revised }];
    }
    if (!writer) throw new Error('a url-mode image is always stored');
    // url mode: the link must work the moment the client has it.
    await writer.finish();
    return [...opened, { type: 'image-end', image: { url: this.output.signedUrl(writer.name), name: writer.name, ...revised } }];
  }

  async abort(): Promise<void> {
    await this.writer?.abort();
    this.writer = null;
  }

  /** What the prefix shows: null while too little has come (`ended`: all there will be). */
  private shape(ended: boolean): ImageShape | null {
    if (!ended && this.heldBytes < SHORT_PREFIX) return null;
    const shape = shapeOfBase64(this.held);
    if (!ended && shape.kind === 'jpeg' && shape.width === undefined && this.heldBytes < LONG_PREFIX) return null;
    return shape;
  }

  /** Passes the image on from here (what was held first), or, in another format than asked, gathers it to convert. */
  private decide(shape: ImageShape): DeliveryEvent[] {
    if (conversionNeeded(this.job, shape)) {
      this.converting = true;
      return [];
    }
    this.passing = true;
    // url answers are always stored; b64_json ones unless the operator keeps none.
    const writer = !this.passOn || this.output.keepsB64 ? this.output.startStoring(this.job, shape, this.ctx, this.index) : null;
    this.writer = writer;
    const held = this.held;
    this.held = [];
    for (const bytes of held) writer?.push(bytes);
    if (!this.passOn) return [{ type: 'image-start' }];
    return [{ type: 'image-start' }, ...held.map((bytes): DeliveryEvent => ({ type: 'b64', bytes }))];
  }
}

/** An image delivered whole, as events. */
function* whole(image: DeliveredImage): Generator<DeliveryEvent, void, undefined> {
  const { b64_json: base64, name: _stored, ...rest } = image;
  yield { type: 'image-start' };
  for (const bytes of base64 ?? []) yield { type: 'b64', bytes };
  yield { type: 'image-end', image: rest };
}

/** url mode: the delivered images (their links), once the answer has arrived and all are stored. */
export async function arrivedImages<R>(events: AsyncGenerator<DeliveryEvent, R, undefined>): Promise<{ data: DeliveredImage[]; result: R }> {
  const data: DeliveredImage[] = [];
  for (;;) {
    const next = await events.next();
    if (next.done) return { data, result: next.value };
    if (next.value.type === 'image-end') data.push(next.value.image);
  }
}
