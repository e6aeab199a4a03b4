/**
 * ImageJob -> OpenAI's wire format: which endpoint a job goes to, and its body as that endpoint's
 * parameter map (parameters.ts) makes it: the JSON of /images/generations, the multipart of
 * /images/edits and /images/variations.
 */
import type { Channel } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob } from '../../core/job.js';
import { encodeParameters, refusalOf, type ParameterMap } from '../parameter-map.js';
import type { UpstreamBody } from '../transport.js';
import { OPENAI_PARAMETERS, type ImagesEndpoint, type OpenAIProfile } from './parameters.js';

export type { OpenAIProfile } from './parameters.js';

export type ImagesOperationPath = `images/${ImagesEndpoint}`;

/** One OpenAI-dialect call: where it goes (relative to the base URL) and what it carries. */
export interface ImagesWireRequest {
  path: ImagesOperationPath;
  contentType: string;
  /** Generations: JSON text; bodies with input images: streamed (upstream-body.ts). */
  body: UpstreamBody;
}

const ENDPOINT_OF: Readonly<Record<ImageJob['operation'], ImagesEndpoint>> = { generate: 'generations', edit: 'edits', variation: 'variations' };

/**
 * The endpoint and table for a job. A relay that takes reference images in the generation body
 * (reference_images: inline) gets an unmasked edit as a generation, by the relays' table: the
 * `image` array is their extension.
 */
function route(job: ImageJob, channel: Channel, profile: OpenAIProfile): { endpoint: ImagesEndpoint; map: ParameterMap } {
  if (job.operation === 'edit' && channel.referenceImages === 'inline' && !job.inputs.mask) {
    return { endpoint: 'generations', map: OPENAI_PARAMETERS.relay.generations };
  }
  const endpoint = ENDPOINT_OF[job.operation];
  return { endpoint, map: OPENAI_PARAMETERS[profile][endpoint] };
}

/**
 * The call for any job. `stream` asks the upstream for SSE with the job's partial images (only
 * callers that read streams set it).
 */
export function buildImagesRequest(job: ImageJob, channel: Channel, profile: OpenAIProfile, stream = false): ImagesWireRequest {
  const { endpoint, map } = route(job, channel, profile);
  const { contentType, body } = encodeParameters(map, { job, channel, stream });
  return { path: `images/${endpoint}`, contentType, body };
}

/** A field of the job this profile's upstream would refuse (api.openai.com: the relays' objects), by the job's endpoint's table. */
export function imagesRefusal(job: ImageJob, profile: OpenAIProfile): GatewayError | undefined {
  return refusalOf(OPENAI_PARAMETERS[profile][ENDPOINT_OF[job.operation]], job);
}

/** What api.openai.com (and whatever answers as it does) would refuse in this job: an object where OpenAI takes an enum. */
export function officialRefusal(job: ImageJob): GatewayError | undefined {
  return imagesRefusal(job, 'official');
}
