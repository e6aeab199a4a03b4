import type { ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ArrivingResult, ImageJob, PartialImageListener, ProviderHooks, ProviderResult } from '../../core/job.js';
import { readArrivingAnswer } from './arriving-response.js';
import type { Provider } from '../provider.js';
import { channelPool, type Transport, type UpstreamRequest } from '../transport.js';
import { buildImagesRequest, imagesRefusal, type OpenAIProfile } from './request.js';
import { failureFromResponse, parseImagesResponse } from './response.js';
import { readImageStream } from './stream-response.js';

/** Speaks the OpenAI Images API: the official one, or a relay that imitates it. */
export class OpenAIProvider implements Provider {
  constructor(
    private readonly transport: Transport,
    private readonly profile: OpenAIProfile,
  ) {}

  /** api.openai.com makes OpenAI's models only; a relay may front any vendor's. */
  accepts(job: ImageJob): boolean {
    return this.profile === 'relay' || job.model.vendor === 'openai';
  }

  /** As the profile's parameter maps say: a relay takes every field as given; the official API refuses relay-only objects. */
  refuses(job: ImageJob): GatewayError | undefined {
    return imagesRefusal(job, this.profile);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks: ProviderHooks = {}): Promise<ProviderResult> {
    const { onPartial } = hooks;
    const streaming = job.stream !== undefined && onPartial !== undefined;
    const request = this.request(job, call, signal, streaming);
    if (!streaming) return parseImagesResponse(await this.transport.send(request));
    return this.stream(request, onPartial);
  }

  async generateArriving(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult | ArrivingResult> {
    return readArrivingAnswer(await this.transport.open(this.request(job, call, signal, false)));
  }

  /** Partial images go to the listener as they arrive; a relay that answers plain JSON is read as such. */
  private async stream(request: UpstreamRequest, onPartial: PartialImageListener): Promise<ProviderResult> {
    const res = await this.transport.open(request);
    if (res.status >= 200 && res.status < 300 && (res.headers['content-type'] ?? '').includes('text/event-stream')) {
      return readImageStream(res.body, onPartial);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    if (res.status < 200 || res.status >= 300) throw failureFromResponse({ status: res.status, headers: res.headers, body });
    return parseImagesResponse({ status: res.status, headers: res.headers, body, chunks });
  }

  private request(job: ImageJob, { channel, apiKey }: ChannelCall, signal: AbortSignal, stream: boolean): UpstreamRequest {
    const wire = buildImagesRequest(job, channel, this.profile, stream);
    return {
      method: 'POST',
      url: `${channel.baseUrl}/${wire.path}`,
      headers: { 'content-type': wire.contentType, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...channel.headers },
      body: wire.body,
      timeoutMs: channel.timeoutMs,
      signal,
      pool: channelPool(channel),
    };
  }
}
