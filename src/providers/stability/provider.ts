/**
 * Stability AI's v2beta Stable Image API (channel kind `stability`): base_url is Stability's
 * origin, https://api.stability.ai, the channel's key a bearer token. Each catalogue family
 * speaks one endpoint (endpoints.ts), its form a parameter map (parameters.ts), sent as
 * multipart/form-data with `Accept: image/*`: the answer is the image's bytes, with its
 * finish-reason and seed as headers (response.ts). Bytes rather than `Accept: application/json`
 * (the same image base64 in JSON), because base64 is a third larger on the wire and its JSON string
 * would be held whole to parse.
 *
 * Synchronous: one call per image, so n images are n calls made at once; images some calls
 * delivered are kept when others fail, and only a request with no image fails (with the first
 * failure: a refusal, a 429 to fail over on...). Task-dialect callers still get a task: the
 * pipeline runs this same call inside it.
 *
 * Only Stability's models go to it (the catalogue's `vendor`), and no variations. A mask (inpaint)
 * is turned from OpenAI's convention (transparent = edit) into Stability's (white = edit).
 */
import type { ChannelCall } from '../../core/channel.js';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderResult } from '../../core/job.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { sendToChannel } from '../async-task-kit.js';
import { encodeParameters, refusalOf } from '../parameter-map.js';
import type { Provider } from '../provider.js';
import type { Transport } from '../transport.js';
import { whiteWhereTransparent } from '../white-edit-mask.js';
import { stabilityEndpointOf, stabilityUrl, type StabilityEndpoint } from './endpoints.js';
import { parseStabilityImage } from './response.js';

export class StabilityProvider implements Provider {
  constructor(readonly transport: Transport) {}

  accepts(job: ImageJob): boolean {
    return job.model.vendor === 'stability' && stabilityEndpointOf(job.model.family) !== undefined && job.operation !== 'variation';
  }

  /** What Stability would refuse (its forms' refusals; an edit service without its image), as the client's 400. */
  refuses(job: ImageJob): GatewayError | undefined {
    const endpoint = stabilityEndpointOf(job.model.family);
    if (endpoint === undefined) return undefined;
    if (endpoint.needsInputImage && job.inputs.images.length === 0) {
      return invalidRequest('image', 'missing_required_parameter', `${job.model.id} edits an input image: send one (images.edit).`);
    }
    return refusalOf(endpoint.form, job);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const endpoint = endpointFor(job);
    const mask = job.inputs.mask ? await whiteWhereTransparent(job.inputs.mask) : undefined;
    const sent = mask ? { ...job, inputs: { ...job.inputs, mask } } : job;
    const settled = await Promise.allSettled(Array.from({ length: job.n }, () => this.call(sent, endpoint, call, signal)));
    const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (results.length === 0 && failed !== undefined) throw failed.reason;
    // A size asked is what output/ makes of the image; `auto` is whatever Stability made, as its header says.
    const made = job.size === 'auto' ? results[0]?.size : undefined;
    return { images: results.flatMap((r) => r.images), ...(made !== undefined ? { size: made } : {}) };
  }

  private async call(job: ImageJob, endpoint: StabilityEndpoint, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const { contentType, body } = encodeParameters(endpoint.form, { job, channel: call.channel, stream: false });
    const url = stabilityUrl(call.channel.baseUrl, endpoint.path);
    const headers = { accept: 'image/*', ...endUserHeader(job.user) };
    const res = await sendToChannel(this.transport, call, { method: 'POST', url, headers, raw: { body, contentType } }, signal);
    return parseStabilityImage(res);
  }
}

function endpointFor(job: ImageJob): StabilityEndpoint {
  const endpoint = stabilityEndpointOf(job.model.family);
  // accepts() keeps other vendors' models away; reaching here without an endpoint is a routing bug.
  if (endpoint === undefined) throw new UpstreamFailure('protocol', `${job.model.id} is not a Stability model`);
  return endpoint;
}

/** Stability's `stability-client-user-id` (at most 256 characters): the caller's end-user id, for its moderation notices. */
function endUserHeader(user: string | undefined): Record<string, string> {
  const id = user?.replace(/[^\x20-\x7e]/g, '').slice(0, 256);
  return id ? { 'stability-client-user-id': id } : {};
}
