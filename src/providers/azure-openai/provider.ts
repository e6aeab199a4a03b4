/**
 * Azure OpenAI image generation: OpenAI's request body and response, sent to a deployment URL
 * with an `api-version` query and an `api-key` header. Only key auth (no Entra ID tokens).
 */
import { upstreamModelFor, type Channel, type ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderResult } from '../../core/job.js';
import { buildImagesRequest, officialRefusal, type ImagesOperationPath } from '../openai/request.js';
import type { Provider } from '../provider.js';
import { channelPool, type Transport } from '../transport.js';
import { parseAzureImagesResponse } from './errors.js';

/**
 * The newest GA data-plane version (Microsoft's API version lifecycle page). gpt-image-1 was
 * announced with 2025-04-01-preview; a channel that needs preview features sets `apiVersion`.
 */
export const AZURE_OPENAI_DEFAULT_API_VERSION = '2024-10-21';

/** `{endpoint}/openai/deployments/{deployment}/images/{generations|edits|variations}?api-version=...` */
export function azureImagesUrl(channel: Channel, deployment: string, path: ImagesOperationPath = 'images/generations'): string {
  // The portal shows endpoints with a trailing slash; the official SDKs strip it too.
  const endpoint = channel.baseUrl.replace(/\/+$/, '');
  const version = channel.apiVersion?.trim() || AZURE_OPENAI_DEFAULT_API_VERSION;
  return `${endpoint}/openai/deployments/${encodeURIComponent(deployment)}/${path}?api-version=${encodeURIComponent(version)}`;
}

export class AzureOpenAIProvider implements Provider {
  constructor(private readonly transport: Transport) {}

  /** Azure deploys OpenAI's models only. */
  accepts(job: ImageJob): boolean {
    return job.model.vendor === 'openai';
  }

  /** Azure validates as api.openai.com does: relay-only objects are refused. */
  refuses(job: ImageJob): GatewayError | undefined {
    return officialRefusal(job);
  }

  async generate(job: ImageJob, { channel, apiKey }: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    // On Azure the deployment picks the model; the body's `model` (same name) is ignored upstream.
    const deployment = upstreamModelFor(channel, job.model.id, job.model.upstreamModel);
    const wire = buildImagesRequest(job, channel, 'official');
    const res = await this.transport.send({
      method: 'POST',
      url: azureImagesUrl(channel, deployment, wire.path),
      headers: { 'content-type': wire.contentType, ...(apiKey ? { 'api-key': apiKey } : {}), ...channel.headers },
      body: wire.body,
      timeoutMs: channel.timeoutMs,
      signal,
      pool: channelPool(channel),
    });
    return parseAzureImagesResponse(res);
  }
}
