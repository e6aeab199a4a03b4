/**
 * Seedream's image API on Volcengine Ark (channel kind `ark`) and BytePlus ModelArk (`byteplus`):
 * `POST {base_url}/images/generations` with the channel's key as a bearer token, base_url ending
 * in /api/v3 as in their OpenAI-SDK examples. The body is its parameter map's (parameters.ts), the
 * answer read by response.ts, JSON or (when the client streams) server-sent events.
 *
 * Only ByteDance's models go to it (the catalogue's `vendor`). Generations and edits alike:
 * input images go in the body's `image`. Ark has no `n`: n images are n calls made at once (each
 * an independent image, as OpenAI's n means), unless the client asked for a group
 * (`sequential_image_generation: auto`), one call whose answer holds up to n related images.
 * Images some calls delivered are kept when others fail; only a request with no image fails.
 */
import type { Channel, ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../../core/job.js';
import { encodeParameters, refusalOf, type ParameterMap } from '../parameter-map.js';
import type { Provider } from '../provider.js';
import { channelPool, type Transport, type UpstreamRequest } from '../transport.js';
import { arkStreams, isImageGroup, seedreamGenerations } from './parameters.js';
import type { SeedreamRegion } from './regions.js';
import { failureFromSeedream, readSeedreamJson, readSeedreamStream, resultOf, type SeedreamAnswer } from './response.js';

export class SeedreamProvider implements Provider {
  private readonly map: ParameterMap;

  constructor(
    private readonly transport: Transport,
    region: SeedreamRegion,
  ) {
    this.map = seedreamGenerations(region);
  }

  accepts(job: ImageJob): boolean {
    return job.model.vendor === 'bytedance' && job.operation !== 'variation';
  }

  /** What Seedream has no param for (its table's refusals), as the client's 400 naming the field. */
  refuses(job: ImageJob): GatewayError | undefined {
    return refusalOf(this.map, job);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult> {
    const sent = withChannelWatermark(job, call.channel);
    // Only a caller that reads a stream asks Ark for one (its events are finished images, never
    // previews), and only of a model Ark streams: 3.0's answer is JSON, the completed events made from it.
    const stream = job.stream !== undefined && hooks?.onPartial !== undefined && arkStreams(job);
    const calls = isImageGroup(job) ? 1 : job.n;
    const settled = await Promise.allSettled(Array.from({ length: calls }, () => this.call(sent, call, signal, stream)));
    const answers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    // No call delivered: the first failure is the answer (a refusal, a 429 to fail over on...).
    if (failed !== undefined && answers.every((a) => a.images.length === 0)) throw failed.reason;
    return resultOf(answers);
  }

  private async call(job: ImageJob, { channel, apiKey }: ChannelCall, signal: AbortSignal, stream: boolean): Promise<SeedreamAnswer> {
    const { contentType, body } = encodeParameters(this.map, { job, channel, stream });
    const request: UpstreamRequest = {
      method: 'POST',
      url: `${channel.baseUrl.replace(/\/+$/, '')}/images/generations`,
      headers: { 'content-type': contentType, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...channel.headers },
      body,
      timeoutMs: channel.timeoutMs,
      signal,
      pool: channelPool(channel),
    };
    if (!stream) return readSeedreamJson(await this.transport.send(request));
    const res = await this.transport.open(request);
    if (res.status >= 200 && res.status < 300 && (res.headers['content-type'] ?? '').includes('text/event-stream')) return readSeedreamStream(res.body);
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk);
    const whole = Buffer.concat(chunks);
    if (res.status < 200 || res.status >= 300) throw failureFromSeedream(res.status, whole, res.headers['retry-after']);
    return readSeedreamJson({ status: res.status, headers: res.headers, body: whole, chunks });
  }
}

/** Ark marks images unless told not to: the client's word, else the channel's setting, else no mark. */
function withChannelWatermark(job: ImageJob, channel: Channel): ImageJob {
  return job.watermark !== undefined ? job : { ...job, watermark: channel.watermark ?? false };
}
