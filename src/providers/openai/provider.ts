import type { ChannelCall } from '../../core/channel.js';
import type { ImageJob, ProviderResult } from '../../core/job.js';
import type { Provider } from '../provider.js';
import type { Transport } from '../transport.js';
import { buildImagesRequest, type OpenAIProfile } from './request.js';
import { parseImagesResponse } from './response.js';

/** Speaks the OpenAI Images API: the official one, or a relay that imitates it. */
export class OpenAIProvider implements Provider {
  constructor(
    private readonly transport: Transport,
    private readonly profile: OpenAIProfile,
  ) {}

  async generate(job: ImageJob, { channel, apiKey }: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const wire = buildImagesRequest(job, channel, this.profile);
    const res = await this.transport.send({
      method: 'POST',
      url: `${channel.baseUrl}/${wire.path}`,
      headers: { 'content-type': wire.contentType, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...channel.headers },
      body: wire.body,
      timeoutMs: channel.timeoutMs,
      signal,
    });
    return parseImagesResponse(res);
  }
}
