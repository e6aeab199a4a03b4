/** ImageJob -> the JSON body of the task API's POST /api/v1/images/generations (the task API dialect), as a parameter map. */
import type { Channel } from '../../core/channel.js';
import type { ImageJob } from '../../core/job.js';
import { channelModel, encodeParameters, type DropRule, type EncodedParams, type ParameterMap } from '../parameter-map.js';
import { aspectRatioForSize } from './aspect-ratio.js';

/** The task API's own fields a client may pass through (reference images and the NSFW filter). */
const PASSTHROUGH_FIELDS = ['image_url', 'image_urls', 'nsfw_checker'] as const;

/** OpenAI dialect: the task API does not take it. */
const OPENAI_ONLY: DropRule = { drop: 'OpenAI dialect; the task API does not take it' };

/**
 * No `n` (the task API does not list it: one image per task) and no `callback_url` (we poll; a
 * client's callback would leak the task to a third party). OpenAI-only fields (quality,
 * output_format, ...) and the model's fixedParams are OpenAI dialect and stay home; the
 * channel's own mapping params are in this API's dialect and win.
 */
export const TASK_API_PARAMETERS: ParameterMap = {
  encoding: 'json',
  fields: {
    id: { drop: "the gateway's own request id" },
    operation: { drop: 'one endpoint: reference images make an edit' },
    model: { to: 'model', transform: channelModel },
    prompt: { to: 'prompt' },
    size: { to: 'aspect_ratio', transform: aspectRatioForSize },
    passthrough: {
      spread: (passthrough) =>
        PASSTHROUGH_FIELDS.flatMap((name) => (passthrough[name] !== undefined && passthrough[name] !== null ? [[name, passthrough[name]] as const] : [])),
    },
    // Checked reference images go as the URLs they were fetched from (accepts() saw they have one).
    inputs: {
      spread: ({ images }) => {
        const urls = images.map((image) => image.sourceUrl).filter((url) => url !== undefined);
        if (urls.length === 1) return [['image_url', urls[0]]];
        return urls.length > 1 ? [['image_urls', urls]] : [];
      },
    },
    n: { drop: 'one image per task (the task API does not list n)' },
    quality: OPENAI_ONLY,
    responseFormat: { drop: 'the task API answers with URLs' },
    outputFormat: OPENAI_ONLY,
    outputCompression: OPENAI_ONLY,
    background: OPENAI_ONLY,
    moderation: OPENAI_ONLY,
    style: OPENAI_ONLY,
    watermark: OPENAI_ONLY,
    user: OPENAI_ONLY,
    metadata: OPENAI_ONLY,
    stream: { drop: 'the task is polled' },
    inputFidelity: OPENAI_ONLY,
  },
  overrides: ['channel'],
};

export function buildTaskBody(job: ImageJob, channel: Channel): EncodedParams {
  return encodeParameters(TASK_API_PARAMETERS, { job, channel, stream: false });
}
