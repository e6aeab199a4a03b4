/**
 * The demo channel (kind `demo`): what serves every model when no upstream is configured. No
 * upstream and no wire format: it draws the images itself (render.ts) from the job, for the
 * model's rules as the catalogue gives them (core/models.ts), after IMAGEGATE_DEMO_DELAY, spread
 * over the events when the job streams. It answers what OpenAI's API would: the size, quality,
 * background and format it drew, token usage for models billed by tokens, partial images as they
 * are drawn; and, as an official channel, it refuses the relay-only objects OpenAI refuses.
 */
import type { ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ImageUsage, PartialImageListener, ProviderHooks, ProviderResult, UpstreamImage } from '../../core/job.js';
import { acceptedSizes, inputRulesOf } from '../../core/models.js';
import { sleepUnlessAborted } from '../../core/sleep.js';
import { parseSize, type Dimensions } from '../../core/sizes.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { wholeInputBytes } from '../../spool/input-bytes-io.js';
import { imagesRefusal } from '../openai/request.js';
import type { Provider } from '../provider.js';
import { combineSignals } from '../transport.js';
import { drawEdit, drawPrompt, drawVariation, enlarge, previewCanvas, type Canvas, type DemoInputs } from './render.js';

export interface DemoOptions {
  /** How long the channel "thinks" before answering (IMAGEGATE_DEMO_DELAY). */
  readonly delayMs: number;
}

/** Output tokens OpenAI reports for a 1024x1024 image at each quality; other sizes scale by pixel count. */
const OUTPUT_TOKENS_1024: Readonly<Record<string, number>> = { low: 272, medium: 1056, high: 4160 };
/** Input-image tokens of a 1024x1024 input at each input fidelity. */
const IMAGE_TOKENS_1024 = { low: 135, high: 3050 } as const;
const SQUARE: Dimensions = { width: 1024, height: 1024 };

type CombinedSignal = ReturnType<typeof combineSignals>;

/** What the answer says about the images besides them. */
type Described = Pick<ProviderResult, 'size' | 'quality' | 'background' | 'outputFormat'>;

/** One job as the demo draws it. */
interface Drawing {
  readonly canvas: Canvas;
  draw(canvas: Canvas, variant: number): Promise<Buffer>;
}

export class DemoProvider implements Provider {
  constructor(private readonly options: DemoOptions) {}

  refuses(job: ImageJob): GatewayError | undefined {
    return imagesRefusal(job, 'official');
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks: ProviderHooks = {}): Promise<ProviderResult> {
    const deadline = combineSignals(signal, call.channel.timeoutMs);
    try {
      const drawing = await drawingOf(job);
      const described = describe(job, drawing.canvas);
      const partials = job.stream && hooks.onPartial ? { count: job.stream.partialImages, listener: hooks.onPartial } : undefined;
      const images = partials
        ? await this.stream(job, drawing, described, partials.count, partials.listener, deadline)
        : await this.whole(job, drawing, deadline);
      const usage = usageOf(job, drawing.canvas);
      return { images: images.map(asUpstreamImage), ...(usage ? { usage } : {}), ...described };
    } catch (err) {
      throw failureOf(err, deadline, call);
    } finally {
      deadline.dispose();
    }
  }

  private async whole(job: ImageJob, drawing: Drawing, deadline: CombinedSignal): Promise<Buffer[]> {
    await sleepUnlessAborted(this.options.delayMs, deadline.signal);
    return Promise.all(Array.from({ length: job.n }, (_, variant) => drawing.draw(drawing.canvas, variant)));
  }

  /**
   * Image by image, its partial images then its final, the delay spread over them. The finals are
   * started once the first partial is out, so they are drawn while the other partials are sent.
   */
  private async stream(
    job: ImageJob,
    drawing: Drawing,
    described: Described,
    count: number,
    listener: PartialImageListener,
    deadline: CombinedSignal,
  ): Promise<Buffer[]> {
    const pause = this.options.delayMs / (job.n * (count + 1));
    const finals: Promise<Buffer>[] = [];
    const startFinals = () => {
      for (let variant = finals.length; variant < job.n; variant++) {
        const final = drawing.draw(drawing.canvas, variant);
        final.catch(() => undefined); // awaited when its turn comes; the stream may end before
        finals.push(final);
      }
    };
    const images: Buffer[] = [];
    for (let variant = 0; variant < job.n; variant++) {
      for (let index = 0; index < count; index++) {
        await sleepUnlessAborted(pause, deadline.signal);
        const small = previewCanvas(drawing.canvas, index, count);
        const partial = await enlarge(await drawing.draw(small, variant), drawing.canvas);
        listener.start(variant);
        listener.piece(Buffer.from(partial.toString('base64'), 'latin1'));
        listener.end({ imageIndex: variant, partialIndex: index, ...described });
        startFinals();
      }
      await sleepUnlessAborted(pause, deadline.signal);
      startFinals();
      const final = finals[variant];
      if (final === undefined) throw new Error(`image ${variant} was never started`);
      images.push(await final);
    }
    return images;
  }
}

/** The canvas and the drawing of a job: its size and format resolved, its input images read. */
async function drawingOf(job: ImageJob): Promise<Drawing> {
  const { capabilities } = job.model;
  const images = await Promise.all(job.inputs.images.map((image) => wholeInputBytes(image.bytes)));
  const first = job.inputs.images[0];
  const size = parseSize(job.size) ?? nearestSize(job, first ?? SQUARE);
  const format = job.outputFormat ?? capabilities.defaultOutputFormat ?? 'png';
  const canvas: Canvas = {
    ...size,
    format,
    ...(job.outputCompression !== undefined ? { compression: job.outputCompression } : {}),
    transparent: job.background === 'transparent' && format !== 'jpeg',
  };
  if (job.operation === 'generate' || images.length === 0) return { canvas, draw: (c, variant) => drawPrompt(c, job.prompt, variant) };
  const rules = inputRulesOf(capabilities, job.operation);
  const mask = job.inputs.mask ? await wholeInputBytes(job.inputs.mask.bytes) : rules?.alphaWithoutMask ? images[0] : undefined;
  const inputs: DemoInputs = { images, ...(mask ? { mask } : {}), maxPixels: rules?.maxPixels ?? SQUARE.width * SQUARE.height };
  if (job.operation === 'variation') return { canvas, draw: (c, variant) => asInputImageError(drawVariation(c, variant, inputs)) };
  return { canvas, draw: (c, variant) => asInputImageError(drawEdit(c, job.prompt, variant, inputs)) };
}

/**
 * The gateway checked the input images' headers, not their pixels: pixels that turn out corrupt
 * fail while drawing, and that is the client's bad image (a 400, as OpenAI answers), not a 500.
 */
function asInputImageError(drawing: Promise<Buffer>): Promise<Buffer> {
  return drawing.catch((err: unknown) => {
    const why = err instanceof Error ? err.message : String(err);
    throw new UpstreamFailure('http', `demo channel: an input image could not be decoded (${why})`, 400, {
      type: 'invalid_request_error',
      code: 'invalid_image',
      param: 'image',
      message: `An input image could not be decoded: ${why}`,
    });
  });
}

/** `size: auto`: the model's listed size nearest in shape to the first input image (or to a square), the first of equals. */
function nearestSize(job: ImageJob, shape: Dimensions): Dimensions {
  const ratio = Math.log(shape.width / shape.height);
  let best: Dimensions | undefined;
  for (const size of acceptedSizes(job.model)) {
    const dims = parseSize(size);
    if (dims && (!best || Math.abs(Math.log(dims.width / dims.height) - ratio) < Math.abs(Math.log(best.width / best.height) - ratio))) best = dims;
  }
  return best ?? SQUARE;
}

/** What was drawn, as OpenAI's answer says it; background and format only for models that take them. */
function describe(job: ImageJob, canvas: Canvas): Described {
  const { capabilities } = job.model;
  return {
    size: `${canvas.width}x${canvas.height}`,
    quality: job.quality === 'auto' ? middleQuality(capabilities.qualities) : job.quality,
    ...(capabilities.backgrounds.length > 0 ? { background: canvas.transparent ? 'transparent' : 'opaque' } : {}),
    ...(capabilities.outputFormats.length > 0 ? { outputFormat: canvas.format } : {}),
  };
}

/** `quality: auto` draws at the middle of the model's qualities (medium, for the GPT image models). */
function middleQuality(qualities: readonly string[]): string {
  const named = qualities.filter((quality) => quality !== 'auto');
  return named[Math.floor((named.length - 1) / 2)] ?? 'auto';
}

/** Token usage as OpenAI reports it, for the models billed by tokens: prompt, input images, output. */
function usageOf(job: ImageJob, canvas: Canvas): ImageUsage | undefined {
  if (!job.model.capabilities.priceUnits.includes('token')) return undefined;
  const quality = describe(job, canvas).quality ?? 'medium';
  const textTokens = Math.ceil(job.prompt.length / 4);
  const perInput = IMAGE_TOKENS_1024[job.inputFidelity ?? 'low'];
  const imageTokens = job.inputs.images.reduce(
    (sum, image) => sum + Math.max(1, Math.round((perInput * Math.min(image.width * image.height, 2048 * 2048)) / (1024 * 1024))),
    0,
  );
  const outputTokens = job.n * Math.round(((OUTPUT_TOKENS_1024[quality] ?? OUTPUT_TOKENS_1024.medium ?? 0) * canvas.width * canvas.height) / (1024 * 1024));
  return {
    total_tokens: textTokens + imageTokens + outputTokens,
    input_tokens: textTokens + imageTokens,
    output_tokens: outputTokens,
    input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
  };
}

function asUpstreamImage(bytes: Buffer): UpstreamImage {
  return { kind: 'b64', base64: [Buffer.from(bytes.toString('base64'), 'latin1')] };
}

/** As an upstream fails: the caller gone, the channel's timeout passed, a bad input image (a 400), else a 500. */
function failureOf(err: unknown, deadline: CombinedSignal, call: ChannelCall): UpstreamFailure {
  if (deadline.callerAborted()) return new UpstreamFailure('aborted', 'the client closed the request');
  if (deadline.timedOut()) return new UpstreamFailure('timeout', `no answer within ${Math.round(call.channel.timeoutMs / 1000)}s`);
  if (err instanceof UpstreamFailure) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new UpstreamFailure('http', `demo channel failed: ${why}`, 500, {
    type: 'server_error',
    code: null,
    message: `The demo channel could not draw the image: ${why}`,
  });
}
