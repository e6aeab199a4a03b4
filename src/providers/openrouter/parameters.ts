/**
 * OpenRouter's image generation, `POST {base_url}/chat/completions`, as a parameter map
 * (../parameter-map.ts). The body (OpenRouter's chat request, its SDK's field names):
 * `{model, messages: [{role: "user", content}], modalities, image_config: {aspect_ratio,
 * image_size}, user?, seed?, stream: false}`. `content` is the prompt, or, with input images, the
 * prompt as a text part followed by each image as an `image_url` part holding a data URI
 * (OpenRouter's way to send images to a chat model: an edit is its images beside the prompt).
 * `modalities` is ["image", "text"] for a model that answers text too (Gemini), ["image"] for an
 * image-only one (FLUX, Seedream), which OpenRouter refuses to ask for text.
 *
 * The size goes as image_config: the nearest of OpenRouter's aspect ratios, and the resolution
 * tier above 1K (2K, 4K; 1K is the default). A channel's params for the model are OpenRouter's
 * chat fields (e.g. `provider: {order: [...]}`, `temperature`); `aspect_ratio` and `image_size`
 * given there go into image_config.
 *
 * One image per call: chat completions have no `n` for images, so n is n calls (provider.ts).
 */
import type { ResolvedInputs } from '../../core/image-input.js';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob } from '../../core/job.js';
import { googleShape } from '../google/sizes.js';
import { dataUri, type DropRule, type FieldRules, type Param, type ParameterMap, type ParamRule } from '../parameter-map.js';
import type { OpenRouterModel } from './slugs.js';

/** image_config.aspect_ratio values OpenRouter documents for chat image generation. */
export const OPENROUTER_ASPECT_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] as const;

/** Flat params placed by chatBody rather than sent as they are. */
const PROMPT = 'prompt';
const IMAGE_PARTS = 'imageParts';
const IMAGE_CONFIG_FIELDS = new Set(['aspect_ratio', 'image_size']);

/** OpenRouter's own chat fields a client may send (unknown to the OpenAI dialect, so they arrive as passthrough). */
const PASSTHROUGH = new Set(['seed']);

export function unsupported(param: string, job: ImageJob, why: string): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on an OpenRouter channel (${why}).`);
}

function refused<V>(param: string, why: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

function sizeParams(size: string): Param[] {
  if (size === 'auto') return [];
  const shape = googleShape(size, OPENROUTER_ASPECT_RATIOS);
  if (!shape) return [];
  return [['aspect_ratio', shape.aspectRatio], ...(shape.tier !== '1K' ? [['image_size', shape.tier] as const] : [])];
}

function imageParts(inputs: ResolvedInputs): Param[] {
  if (inputs.images.length === 0) return [];
  return [[IMAGE_PARTS, inputs.images.map((image) => ({ type: 'image_url', image_url: { url: dataUri(image) } }))]];
}

function fields(target: OpenRouterModel): FieldRules {
  return {
    id: drop("the gateway's own request id"),
    operation: drop('generations and edits are one call: an edit is its input images beside the prompt'),
    model: { to: 'model', transform: () => target.slug },
    prompt: { to: PROMPT },
    n: drop('one image per call: chat completions take no n for images, so the provider makes n calls'),
    size: {
      spread: sizeParams,
      refuse: (size, job) =>
        size === 'auto' || googleShape(size, OPENROUTER_ASPECT_RATIOS)
          ? undefined
          : unsupported('size', job, `OpenRouter takes the aspect ratios ${OPENROUTER_ASPECT_RATIOS.join(', ')} only`),
    },
    quality: drop('OpenRouter’s chat image generation has no quality: the job carries only the price column'),
    responseFormat: drop('OpenRouter answers images as base64 data URIs; the gateway answers in the client’s form'),
    outputFormat: drop('OpenRouter’s chat image generation has no output options: the gateway converts to the format asked'),
    outputCompression: drop('the gateway converts with it (no output options upstream)'),
    background: refused('background', 'OpenRouter’s chat image generation has no background option'),
    moderation: refused('moderation', 'OpenRouter has no moderation level to set'),
    style: refused('style', 'OpenRouter has no style parameter: describe the style in the prompt'),
    watermark: refused('watermark', 'OpenRouter has no watermark switch'),
    user: { to: 'user' },
    metadata: refused('metadata', 'OpenRouter’s metadata is not mapped'),
    inputs: {
      spread: imageParts,
      refuse: (inputs, job) => (inputs.mask ? unsupported('mask', job, 'OpenRouter edits by instruction and takes no mask') : undefined),
    },
    stream: drop('no partial images: a stream gets the final image as its completed event, from one whole answer'),
    inputFidelity: drop('OpenAI edits only; the catalogue refuses it elsewhere'),
    passthrough: {
      spread: (passthrough) => Object.entries(passthrough).filter(([name, value]) => PASSTHROUGH.has(name) && value !== null && value !== undefined),
      refuse: (passthrough, job) => {
        const foreign = Object.keys(passthrough).find((name) => !PASSTHROUGH.has(name));
        return foreign === undefined ? undefined : unsupported(foreign, job, `OpenRouter's own fields here are ${[...PASSTHROUGH].join(', ')}`);
      },
    },
  };
}

/** The flat params as OpenRouter's chat request. */
function chatBody(target: OpenRouterModel): (params: Readonly<Record<string, unknown>>) => Record<string, unknown> {
  return (params) => {
    const { [PROMPT]: prompt, [IMAGE_PARTS]: parts, ...rest } = params;
    const imageConfig: Record<string, unknown> = {};
    const body: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(rest)) {
      if (IMAGE_CONFIG_FIELDS.has(name)) imageConfig[name] = value;
      else body[name] = value;
    }
    const images = Array.isArray(parts) ? parts : [];
    return {
      ...body,
      messages: [{ role: 'user', content: images.length > 0 ? [{ type: 'text', text: prompt }, ...images] : prompt }],
      modalities: target.answersText ? ['image', 'text'] : ['image'],
      ...(Object.keys(imageConfig).length > 0 ? { image_config: imageConfig } : {}),
      stream: false,
    };
  };
}

/** The chat request for one model (its slug and modalities). */
export function openRouterChat(target: OpenRouterModel): ParameterMap {
  return { encoding: 'json', fields: fields(target), overrides: ['model', 'channel'], shape: chatBody(target), neverSent: ['stream', 'n'] };
}

/** The refusals are the same for every model: one table to ask. */
export const OPENROUTER_REFUSALS = openRouterChat({ slug: '', answersText: true });
