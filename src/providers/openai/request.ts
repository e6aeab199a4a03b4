/** ImageJob -> the JSON body of OpenAI's POST /v1/images/generations. */
import type { Channel } from '../../core/channel.js';
import type { ImageJob } from '../../core/job.js';

/**
 * `official` is api.openai.com: it rejects parameters it does not know, so the relays' extras
 * (watermark, metadata, style outside dall-e-3) stay home. A `relay` gets everything.
 */
export type OpenAIProfile = 'official' | 'relay';

export function buildGenerationBody(job: ImageJob, channel: Channel, profile: OpenAIProfile): Record<string, unknown> {
  const mapping = channel.modelMap[job.model.id];
  const isDalle = job.model.family === 'dall-e-2' || job.model.family === 'dall-e-3';
  const body: Record<string, unknown> = {
    ...job.passthrough,
    model: mapping?.upstreamModel ?? job.model.upstreamModel,
    prompt: job.prompt,
    n: job.n,
    size: job.size,
    quality: job.quality,
  };
  // GPT image models reject response_format; dall-e gets b64 so the gateway holds the bytes.
  if (isDalle) body.response_format = 'b64_json';
  setIfDefined(body, 'output_format', job.outputFormat);
  setIfDefined(body, 'output_compression', job.outputCompression);
  setIfDefined(body, 'background', job.background);
  setIfDefined(body, 'moderation', job.moderation);
  setIfDefined(body, 'user', job.user);
  const styleAccepted = profile === 'relay' || job.model.family === 'dall-e-3';
  if (styleAccepted) setIfDefined(body, 'style', job.style);
  if (profile === 'relay') {
    setIfDefined(body, 'watermark', job.watermark);
    setIfDefined(body, 'metadata', job.metadata);
  }
  return { ...body, ...job.model.fixedParams, ...mapping?.params };
}

function setIfDefined(body: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) body[key] = value;
}
