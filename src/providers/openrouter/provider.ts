/**
 * OpenRouter's image generation (channel kind `openrouter`, base_url https://openrouter.ai/api/v1):
 * `POST {base_url}/chat/completions` with `modalities` asking for images (parameters.ts), the
 * channel's key as a bearer token and its headers (OpenRouter's optional `HTTP-Referer` and
 * `X-Title` attribution); the answer's `choices[0].message.images` are data URIs (response.ts).
 * Chat completions, not OpenRouter's newer dedicated Image API (`POST /images`): every model whose
 * output_modalities hold "image" is served there, Gemini's image models (which answer text too)
 * included, and its answer and errors are OpenRouter's long-documented chat shapes.
 *
 * An aggregator: a model is taken only where its OpenRouter slug is known (slugs.ts: the channel's
 * model_map, else the built-in table). The channel's model list (model-list.ts, fetched in the
 * background once per channel) then says, before any call, whether OpenRouter has the model, makes
 * images with it and takes input images for it, and whether to ask it for text too.
 *
 * Synchronous: one request, whole images back; one image per call, so n images are n calls at
 * once; images some calls delivered are kept when others fail (only a request with none fails).
 * A stream gets its completed event from the whole answer. The size reported is the one asked, for
 * `auto` the image's own.
 */
import type { Channel, ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import { readImageHeader } from '../../core/image-header.js';
import type { ImageJob, ImageUsage, ProviderResult, UpstreamImage } from '../../core/job.js';
import { ropeSlice } from '../../core/rope.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { sendToChannel } from '../async-task-kit.js';
import { encodeParameters, refusalOf } from '../parameter-map.js';
import type { Provider } from '../provider.js';
import type { Transport } from '../transport.js';
import { OpenRouterModelList } from './model-list.js';
import { OPENROUTER_REFUSALS, openRouterChat } from './parameters.js';
import { parseOpenRouterAnswer, type OpenRouterCallResult } from './response.js';
import { openRouterModel, type OpenRouterModel } from './slugs.js';

/** Enough of an image's base64 for its header (PNG's IHDR; a JPEG's SOF after its EXIF). */
const HEADER_BASE64_BYTES = 96 * 1024;

export class OpenRouterProvider implements Provider {
  private readonly modelList: OpenRouterModelList;

  constructor(private readonly transport: Transport) {
    this.modelList = new OpenRouterModelList(transport);
  }

  /** A model whose slug is known and which OpenRouter's list (once read) says makes images, and takes the job's input images. */
  accepts(job: ImageJob, channel: Channel): boolean {
    if (job.operation === 'variation') return false;
    const target = openRouterModel(job.model, channel);
    if (!target) return false;
    const known = this.modelList.lookup({ channel, apiKey: channel.apiKeys[0] }, target.slug);
    if (known.state === 'absent') return false;
    if (known.state === 'unknown') return true;
    if (!known.model.outputModalities.includes('image')) return false;
    return job.inputs.images.length === 0 || known.model.inputModalities.includes('image');
  }

  /** What OpenRouter's chat image generation has no param for, as the client's 400 naming the field. */
  refuses(job: ImageJob): GatewayError | undefined {
    return refusalOf(OPENROUTER_REFUSALS, job);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const target = this.target(job, call);
    const settled = await Promise.allSettled(Array.from({ length: job.n }, () => this.call(job, target, call, signal)));
    const answers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined && answers.length === 0) throw failed.reason;
    // One image per call: a second image in one answer is not one the client asked for.
    const images = answers.flatMap((a) => a.images.slice(0, 1));
    const usage = summedUsage(answers);
    const outputFormat = answers[0]?.outputFormat;
    // A size asked is what the client gets (the gateway resizes OpenRouter's own pixel size to it); auto is the image's own.
    const size = job.size !== 'auto' ? job.size : imageSize(images[0]);
    return { images, ...(usage ? { usage } : {}), ...(outputFormat ? { outputFormat } : {}), ...(size ? { size } : {}) };
  }

  /** The slug, asked for text too only where the model answers text (the list's word over the built-in one). */
  private target(job: ImageJob, call: ChannelCall): OpenRouterModel {
    const target = openRouterModel(job.model, call.channel);
    // Routing asks accepts() first; a channel test may not: as a 404, this channel lacks the model.
    if (!target) throw new UpstreamFailure('http', `no OpenRouter slug for ${job.model.id} on this channel (add it to model_map)`, 404);
    const known = this.modelList.lookup(call, target.slug);
    return known.state === 'listed' ? { slug: target.slug, answersText: known.model.outputModalities.includes('text') } : target;
  }

  private async call(job: ImageJob, target: OpenRouterModel, call: ChannelCall, signal: AbortSignal): Promise<OpenRouterCallResult> {
    const { channel } = call;
    const raw = encodeParameters(openRouterChat(target), { job, channel, stream: false });
    const url = `${channel.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    return parseOpenRouterAnswer(await sendToChannel(this.transport, call, { method: 'POST', url, raw }, signal));
  }
}

/** Several calls' usage as one: totals always, the image/text split of the output only when every call gave it. */
function summedUsage(answers: readonly OpenRouterCallResult[]): ImageUsage | undefined {
  const usages = answers.map((a) => a.usage);
  if (usages.length === 0 || usages.some((u) => u === undefined)) return undefined;
  const all = usages as readonly ImageUsage[];
  const add = (pick: (u: ImageUsage) => number | undefined): number | undefined =>
    all.reduce<number | undefined>((sum, u) => {
      const value = pick(u);
      return sum === undefined || value === undefined ? undefined : sum + value;
    }, 0);
  const output = add((u) => u.output_tokens) ?? 0;
  const imageOutput = add(imageTokensOut);
  return {
    total_tokens: add((u) => u.total_tokens) ?? 0,
    input_tokens: add((u) => u.input_tokens) ?? 0,
    output_tokens: output,
    ...(imageOutput !== undefined ? { output_tokens_details: { image_tokens: imageOutput, text_tokens: output - imageOutput } } : {}),
  };
}

function imageTokensOut(usage: ImageUsage): number | undefined {
  const details = usage.output_tokens_details;
  const tokens = typeof details === 'object' && details !== null ? (details as Record<string, unknown>).image_tokens : undefined;
  return typeof tokens === 'number' ? tokens : undefined;
}

/** The image's own size, from its header. */
function imageSize(image: UpstreamImage | undefined): string | undefined {
  if (image?.kind !== 'b64') return undefined;
  const head = Buffer.from(ropeSlice(image.base64, 0, HEADER_BASE64_BYTES).toString('latin1'), 'base64');
  const header = readImageHeader(head);
  return header ? `${header.width}x${header.height}` : undefined;
}
