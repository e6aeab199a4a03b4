/**
 * Recraft's image API (external.api.recraft.ai/v1): `POST {base_url}/images/generations` with the
 * channel's key as a bearer token, the body its parameter map makes (parameters.ts), the answer
 * read by response.ts. Synchronous: one request, whole images back.
 *
 * Only Recraft's models go to it (the catalogue's `vendor`), and only generations: Recraft's
 * image-to-image, inpaint, background and vectorize endpoints are not mapped, and its models'
 * capabilities take no input images.
 */
import type { ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderResult } from '../../core/job.js';
import { sendToChannel } from '../async-task-kit.js';
import { encodeParameters, refusalOf } from '../parameter-map.js';
import type { Provider } from '../provider.js';
import type { Transport } from '../transport.js';
import { RECRAFT_GENERATIONS } from './parameters.js';
import { parseRecraftAnswer } from './response.js';

export class RecraftProvider implements Provider {
  constructor(private readonly transport: Transport) {}

  accepts(job: ImageJob): boolean {
    return job.model.vendor === 'recraft' && job.operation === 'generate';
  }

  /** What Recraft has no param for (its table's refusals), as the client's 400 naming the field. */
  refuses(job: ImageJob): GatewayError | undefined {
    return refusalOf(RECRAFT_GENERATIONS, job);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const { channel } = call;
    const raw = encodeParameters(RECRAFT_GENERATIONS, { job, channel, stream: false });
    const url = `${channel.baseUrl.replace(/\/+$/, '')}/images/generations`;
    return parseRecraftAnswer(await sendToChannel(this.transport, call, { method: 'POST', url, raw }, signal));
  }
}
