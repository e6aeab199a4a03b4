/** ImageJob -> the JSON body of the task API's POST /api/v1/images/generations (the task API dialect). */
import { upstreamModelFor, type Channel } from '../../core/channel.js';
import type { ImageJob } from '../../core/job.js';
import { aspectRatioForSize } from './aspect-ratio.js';

/** The task API's own fields a client may pass through (reference images and the NSFW filter). */
const PASSTHROUGH_FIELDS = ['image_url', 'image_urls', 'nsfw_checker'] as const;

/**
 * No `n` (the task API does not list it: one image per task) and no `callback_url` (we poll; a
 * client's callback would leak the task to a third party). OpenAI-only fields (quality,
 * output_format, ...) and the model's fixedParams are OpenAI dialect and stay home; the
 * channel's own mapping params are in this API's dialect and win.
 */
export function buildTaskBody(job: ImageJob, channel: Channel): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: upstreamModelFor(channel, job.model.id, job.model.upstreamModel),
    prompt: job.prompt,
    aspect_ratio: aspectRatioForSize(job.size),
  };
  for (const key of PASSTHROUGH_FIELDS) {
    const value = job.passthrough[key];
    if (value !== undefined && value !== null) body[key] = value;
  }
  // Checked reference images go as the URLs they were fetched from (accepts() saw they have one).
  const urls = job.inputs.images.map((image) => image.sourceUrl).filter((url) => url !== undefined);
  if (urls.length === 1) body.image_url = urls[0];
  else if (urls.length > 1) body.image_urls = urls;
  return { ...body, ...channel.modelMap[job.model.id]?.params };
}
