/**
 * The imagine body of a midjourney-proxy (`POST /mj/submit/imagine`, the proxies' SubmitImagineDTO):
 * `{prompt, base64Array?}`. The prompt carries the size (`--ar`) and the model's version flag
 * (prompt.ts); an edit's input images are image prompts, data URIs in `base64Array`. `notifyHook`
 * and `state` are not sent: the gateway polls. A channel's `params` for a model are laid over (a
 * proxy's own fields: trueai-org's `botType: NIJI_JOURNEY`, `accountFilter`).
 *
 * What Midjourney cannot do is refused, naming the field: a mask (image prompts only), background,
 * moderation, style, watermark, metadata, and any field the OpenAI dialect does not know
 * (Midjourney's own parameters are prompt flags: write them in the prompt).
 */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob } from '../../core/job.js';
import { dataUri, type DropRule, type ParameterMap, type ParamRule } from '../parameter-map.js';
import { midjourneyPrompt } from './prompt.js';

function unsupported(param: string, job: ImageJob, why = 'Midjourney has no such parameter'): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a midjourney channel (${why}).`);
}

/** A field Midjourney has no param for: any value is the client's 400, and never sent. */
function refused<V>(param: string, why?: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

const FIELDS: ParameterMap['fields'] = {
  id: drop("the gateway's own request id"),
  operation: drop('an edit is an imagine whose input images are image prompts'),
  model: drop('the version is a prompt flag (prompt.ts)'),
  prompt: { to: 'prompt', transform: (_prompt, { job, channel }) => midjourneyPrompt(job, channel) },
  inputs: {
    spread: (inputs) => (inputs.images.length > 0 ? [['base64Array', inputs.images.map(dataUri)] as const] : []),
    refuse: (inputs, job) => (inputs.mask ? unsupported('mask', job, 'its input images are image prompts, never edited in place') : undefined),
  },
  n: drop('one imagine makes a grid of four: the provider keeps the first n'),
  size: drop('sent as --ar in the prompt'),
  quality: drop('chooses how the provider makes the four images (the grid split, or its upscales)'),
  responseFormat: drop('the proxy answers an image URL: the gateway stores the images and answers in the form asked'),
  outputFormat: drop('Midjourney answers PNG; output/ converts it to the format asked'),
  outputCompression: drop('applied by output/ when it converts to jpeg or webp'),
  background: refused('background'),
  moderation: refused('moderation'),
  style: refused('style', 'write its style flags (--style raw, --stylize) in the prompt'),
  watermark: refused('watermark', 'Midjourney marks nothing and has no such switch'),
  user: drop("an end-user id for OpenAI's abuse monitoring: the proxy has no such field"),
  metadata: refused('metadata'),
  stream: drop('the proxy answers whole images: a stream waits for the job and gets each as its completed event'),
  inputFidelity: drop('GPT image edits only'),
  passthrough: {
    spread: () => [],
    refuse: (passthrough, job) => {
      const foreign = Object.keys(passthrough)[0];
      return foreign === undefined ? undefined : unsupported(foreign, job, "Midjourney's parameters are prompt flags, e.g. --seed 42 --stylize 250");
    },
  },
};

export const MIDJOURNEY_IMAGINE: ParameterMap = { encoding: 'json', fields: FIELDS, overrides: ['model', 'channel'] };
