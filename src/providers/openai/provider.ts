import type { ChannelCall } from '../../core/channel.js';
import type { ImageJob, ProviderResult } from '../../core/job.js';
import type { Provider } from '../provider.js';
import type { Transport } from '../transport.js';
import { buildGenerationBody, type OpenAIProfile } from './request.js';
import { parseImagesResponse } from './response.js';

/** Speaks the OpenAI Images API: the official one, or a relay that imitates it. */
export class OpenAIProvider implements Provider {
  constructor(
    private readonly transport: Transport,
    private readonly profile: OpenAIProfile,
  ) {}

  async generate(job: ImageJob, { channel, apiKey }: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const res = await this.transport.send({
      method: 'POST',
      url: `${channel.baseUrl}/images/generations`,
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...channel.headers },
      body: JSON.stringify(buildGenerationBody(job, channel, this.profile)),
      timeoutMs: channel.timeoutMs,
      signal,
    });
    return parseImagesResponse(res);
  }
}
