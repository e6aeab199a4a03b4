import type { Channel } from '../core/channel.js';
import type { ImageJob, ProviderResult } from '../core/job.js';

/**
 * One upstream protocol. Takes a job and a channel, returns images or throws UpstreamFailure.
 * Never touches the database, billing or the client's HTTP request.
 */
export interface Provider {
  generate(job: ImageJob, channel: Channel, signal: AbortSignal): Promise<ProviderResult>;
}
