/**
 * DashScope's image bodies as parameter maps (../parameter-map.ts): one table of fields, shaped two
 * ways (Model Studio's Qwen-Image, Qwen-Image Edit and Wan text-to-image API references):
 * - multimodal-generation (Qwen-Image):
 *   `{model, input: {messages: [{role: 'user', content: [{image}..., {text}]}]}, parameters}`;
 * - text2image image-synthesis (Wan): `{model, input: {prompt, negative_prompt}, parameters}`;
 * - image2image image-synthesis (Wan's image editor): `{model, input: {function, prompt,
 *   base_image_url, mask_image_url}, parameters}`, the images as data URIs.
 * `parameters` holds size (`W*H`, an asterisk), n, seed, prompt_extend, watermark and, for
 * Qwen-Image, negative_prompt. The model's fixed params and a channel's params for the model are
 * DashScope's `parameters` fields (model, prompt and negative_prompt go where DashScope reads them).
 *
 * What DashScope cannot do is refused, naming the field, never dropped: background, moderation,
 * style, metadata, a mask (Qwen-Image Edit has none), and any passthrough field that is not
 * one of DashScope's own. quality and output_format have no DashScope param and need none: a
 * DashScope model has no quality levels (the catalogue refuses the field), and output/ converts
 * DashScope's PNG into the format asked.
 */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob } from '../../core/job.js';
import { parseSize } from '../../core/sizes.js';
import { channelModel, dataUri, type DropRule, type MapContext, type ParameterMap, type ParamRule, type SpreadRule } from '../parameter-map.js';

/** DashScope's own fields a client may send as they are (unknown to the OpenAI dialect, so they arrive as passthrough). */
export const DASHSCOPE_PASSTHROUGH_FIELDS: readonly string[] = ['negative_prompt', 'seed', 'prompt_extend'];

/** The flat names input images are gathered under before the body is shaped. */
const IMAGES = 'images';
const BASE_IMAGE = 'base_image_url';
const MASK_IMAGE = 'mask_image_url';

function unsupported(param: string, job: ImageJob, why = 'DashScope has no such parameter'): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a DashScope channel (${why}).`);
}

/** A field DashScope has no param for: any value is the client's 400 (routing skips dashscope channels for it), and never sent. */
function refused<V>(param: string, why?: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

/** WxH as DashScope's `W*H`; `auto` (the edit models answer in their input's shape) is not sent. */
function dashscopeSize(size: string): string | undefined {
  const dims = parseSize(size);
  return dims ? `${dims.width}*${dims.height}` : undefined;
}

/** DashScope's own fields of an endpoint go through; any other passthrough field is refused, naming it. */
function passthroughOf(own: readonly string[]): SpreadRule<Readonly<Record<string, unknown>>> {
  return {
    spread: (passthrough) =>
      Object.entries(passthrough).flatMap(([name, value]) => (own.includes(name) && value !== null && value !== undefined ? [[name, value] as const] : [])),
    refuse: (passthrough, job) => {
      const foreign = Object.keys(passthrough).find((name) => !own.includes(name));
      return foreign === undefined ? undefined : unsupported(foreign, job, `DashScope's own fields here are ${own.join(', ')}`);
    },
  };
}

const FIELDS: ParameterMap['fields'] = {
  id: drop("the gateway's own request id"),
  operation: drop('the endpoint follows the model (endpoints.ts): Qwen-Image Edit takes the input images, the others none'),
  model: { to: 'model', transform: channelModel },
  prompt: { to: 'prompt' },
  inputs: {
    spread: (inputs) => (inputs.images.length > 0 ? [[IMAGES, inputs.images.map(dataUri)] as const] : []),
    refuse: (inputs, job) => (inputs.mask ? unsupported('mask', job, 'it edits from the prompt alone; wanx2.1-imageedit takes a mask') : undefined),
  },
  n: { to: 'n' },
  size: { to: 'size', transform: dashscopeSize },
  quality: drop('DashScope has no quality: the catalogue refuses the field, the job carries only the price column'),
  responseFormat: drop("DashScope answers URLs (valid 24 hours): the gateway stores the images and answers in the client's form"),
  outputFormat: drop('DashScope answers PNG; output/ converts it to the format asked'),
  outputCompression: drop('applied by output/ when it converts to jpeg or webp'),
  background: refused('background'),
  moderation: refused('moderation'),
  style: refused('style'),
  // DashScope marks images when asked: the client's choice, else the channel's `watermark` setting, else no mark.
  watermark: { to: 'watermark', default: false, transform: (_value, { job, channel }) => job.watermark ?? channel.watermark ?? false },
  user: drop("an end-user id for OpenAI's abuse monitoring: DashScope has no such field, and leaving it out changes no image"),
  metadata: refused('metadata'),
  stream: drop('DashScope answers whole images: a stream waits for the call or task and gets each as its completed event'),
  inputFidelity: drop('GPT image edits only'),
  passthrough: passthroughOf(DASHSCOPE_PASSTHROUGH_FIELDS),
};

/** Qwen-Image's multimodal-generation body: the images, then the prompt, as one user message. */
function multimodalBody(params: Readonly<Record<string, unknown>>, _ctx: MapContext): Record<string, unknown> {
  const { model, prompt, [IMAGES]: images, ...parameters } = params;
  const imageParts = Array.isArray(images) ? images.map((image: unknown) => ({ image })) : [];
  return { model, input: { messages: [{ role: 'user', content: [...imageParts, { text: prompt }] }] }, parameters };
}

/** Wan's image-synthesis body: prompt and negative_prompt are its input, the rest its parameters. */
function text2imageBody(params: Readonly<Record<string, unknown>>, _ctx: MapContext): Record<string, unknown> {
  const { model, prompt, negative_prompt: negativePrompt, [IMAGES]: _images, ...parameters } = params;
  return { model, input: { prompt, ...(negativePrompt !== undefined ? { negative_prompt: negativePrompt } : {}) }, parameters };
}

export const DASHSCOPE_MULTIMODAL: ParameterMap = { encoding: 'json', fields: FIELDS, overrides: ['model', 'channel'], shape: multimodalBody };

/** Wan's image editor: the first image is the base, a mask (already DashScope's black and white, mask.ts) makes it an inpainting. */
const IMAGE_EDIT_FIELDS: ParameterMap['fields'] = {
  ...FIELDS,
  inputs: {
    spread: ({ images: [base], mask }) => [...(base ? [[BASE_IMAGE, dataUri(base)] as const] : []), ...(mask ? [[MASK_IMAGE, dataUri(mask)] as const] : [])],
  },
  passthrough: passthroughOf(['seed']),
};

/** Wan's image-editor body: the function follows the mask. */
function image2imageBody(params: Readonly<Record<string, unknown>>, _ctx: MapContext): Record<string, unknown> {
  const { model, prompt, [BASE_IMAGE]: base, [MASK_IMAGE]: mask, ...parameters } = params;
  const input = {
    function: mask === undefined ? 'description_edit' : 'description_edit_with_mask',
    prompt,
    base_image_url: base,
    ...(mask !== undefined ? { mask_image_url: mask } : {}),
  };
  return { model, input, parameters };
}

export const DASHSCOPE_IMAGE2IMAGE: ParameterMap = { encoding: 'json', fields: IMAGE_EDIT_FIELDS, overrides: ['model', 'channel'], shape: image2imageBody };

export const DASHSCOPE_TEXT2IMAGE: ParameterMap = { encoding: 'json', fields: FIELDS, overrides: ['model', 'channel'], shape: text2imageBody };
