/**
 * OpenAI's Images API as parameter maps (../parameter-map.ts): per endpoint (the JSON of
 * /images/generations, the multipart of /images/edits and /images/variations) and per profile.
 * `official` is api.openai.com (and Azure, which validates alike): it rejects parameters it does
 * not know, so the relays' extras (watermark, metadata, style outside dall-e-3, the task API
 * dialect's fields) stay home and relay-only objects are refused. A `relay` gets everything.
 */
import type { ResolvedInputs } from '../../core/image-input.js';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import { isRelayObject, type ImageJob } from '../../core/job.js';
import {
  channelModel,
  dataUri,
  fileParam,
  passthroughExcept,
  type DropRule,
  type FieldRules,
  type ParameterMap,
  type Param,
  type SpreadRule,
} from '../parameter-map.js';

export type OpenAIProfile = 'official' | 'relay';

export type ImagesEndpoint = 'generations' | 'edits' | 'variations';

/** The task API dialect's own fields: meaningful to its upstreams, refused by api.openai.com. */
const TASK_API_FIELDS = new Set(['nsfw_checker', 'callback_url', 'aspect_ratio', 'image_url', 'image_urls']);

/** An object where OpenAI takes an enum: relays take it as given, api.openai.com refuses it. */
function relaysOnly(param: string, openai: string, job: ImageJob): GatewayError {
  return invalidRequest(
    param,
    'invalid_type',
    `${param} as an object goes only to relay channels (openai-compatible, newapi-async), and none serves ${job.model.id}; OpenAI's API takes ${openai}.`,
  );
}

/** The gateway asks for b64_json so it holds the bytes, and answers in the client's form. */
const B64_JSON = { to: 'response_format', transform: () => 'b64_json' } as const;

/** Only a caller that reads the stream asks the upstream for one; neither model nor channel params can change that. */
const STREAM: SpreadRule<{ readonly partialImages: number }> = {
  final: true,
  spread: ({ partialImages }, { stream }) =>
    stream
      ? [
          ['stream', true],
          ['partial_images', partialImages],
        ]
      : [],
};

/** `image` for one input or `image[]` for several (as the official SDKs send them), then `mask`. */
const EDIT_FILES: SpreadRule<ResolvedInputs> = {
  spread: ({ images, mask }) => {
    const name = images.length > 1 ? 'image[]' : 'image';
    const parts: Param[] = images.map((image, i) => fileParam(name, image, `image-${i + 1}`));
    return mask ? [...parts, fileParam('mask', mask, 'mask')] : parts;
  },
};

const drop = (why: string): DropRule => ({ drop: why });

const OFFICIAL_GENERATION_FIELDS: FieldRules = {
  id: drop("the gateway's own request id"),
  operation: drop('the endpoint says it'),
  passthrough: passthroughExcept(TASK_API_FIELDS),
  model: { to: 'model', transform: channelModel },
  prompt: { to: 'prompt' },
  n: { to: 'n' },
  size: { to: 'size' },
  quality: { to: 'quality' },
  // GPT image models reject response_format; the models that take it (dall-e) get b64_json.
  responseFormat: { ...B64_JSON, when: (job) => job.model.capabilities.officialFields.responseFormat },
  outputFormat: { to: 'output_format' },
  outputCompression: { to: 'output_compression' },
  background: {
    to: 'background',
    refuse: (background, job) => (isRelayObject(background) ? relaysOnly('background', 'transparent, opaque or auto', job) : undefined),
  },
  moderation: { to: 'moderation' },
  user: { to: 'user' },
  // dall-e-3's style, the only style api.openai.com is sent: its enum, never the relays' object.
  style: {
    to: 'style',
    when: (job) => job.model.capabilities.officialFields.style,
    refuse: (style, job) => (isRelayObject(style) ? relaysOnly('style', (job.model.capabilities.styles ?? ['a string']).join(' or '), job) : undefined),
  },
  watermark: drop('a relay extension'),
  metadata: drop('a relay extension'),
  inputs: drop('a generation has none; edits go to /images/edits'),
  stream: STREAM,
  inputFidelity: drop('edits only'),
};

/**
 * The gateway honours nsfw_checker itself (output/content-safety.ts); a relay forwarding it to an
 * OpenAI-shaped upstream would meet a 400 for an unknown parameter.
 */
const CHECKED_HERE = new Set(['nsfw_checker']);

/** A relay takes every other field as given, the task API dialect's and the relay objects included. */
const RELAY_GENERATION_FIELDS: FieldRules = {
  ...OFFICIAL_GENERATION_FIELDS,
  passthrough: passthroughExcept(CHECKED_HERE),
  background: { to: 'background' },
  style: { to: 'style' },
  watermark: { to: 'watermark' },
  metadata: { to: 'metadata' },
  // Reference images in the generation body (channels with reference_images: inline): an `image`
  // array, URLs as given, else data URIs. A plain generation has none, and sends none.
  inputs: {
    to: 'image',
    final: true,
    transform: ({ images }) => (images.length > 0 ? images.map((image) => image.sourceUrl ?? dataUri(image)) : undefined),
  },
};

const WITH_OVERRIDES = ['model', 'channel'] as const;

const OFFICIAL_GENERATIONS: ParameterMap = { encoding: 'json', fields: OFFICIAL_GENERATION_FIELDS, overrides: WITH_OVERRIDES };

const RELAY_GENERATIONS: ParameterMap = { encoding: 'json', fields: RELAY_GENERATION_FIELDS, overrides: WITH_OVERRIDES };

/** OpenAI's multipart edits do not take style and moderation (generation-only or JSON-edit-only), whoever set them. */
const OFFICIAL_EDITS: ParameterMap = {
  encoding: 'multipart',
  fields: {
    ...OFFICIAL_GENERATION_FIELDS,
    moderation: drop('not taken by multipart edits'),
    style: drop('not taken by multipart edits'),
    inputs: EDIT_FILES,
    inputFidelity: { to: 'input_fidelity', final: true },
  },
  overrides: WITH_OVERRIDES,
  neverSent: ['style', 'moderation'],
};

const RELAY_EDITS: ParameterMap = {
  encoding: 'multipart',
  fields: { ...RELAY_GENERATION_FIELDS, inputs: EDIT_FILES, inputFidelity: { to: 'input_fidelity', final: true } },
  overrides: WITH_OVERRIDES,
};

/** dall-e-2 variations: the one image, n, size; relays get the same (they take no more here). */
const VARIATIONS: ParameterMap = {
  encoding: 'multipart',
  fields: {
    id: drop("the gateway's own request id"),
    operation: drop('the endpoint says it'),
    passthrough: passthroughExcept(TASK_API_FIELDS),
    model: { to: 'model', transform: channelModel },
    prompt: drop('a variation has none'),
    n: { to: 'n' },
    size: { to: 'size' },
    quality: drop('not taken by variations'),
    responseFormat: B64_JSON,
    outputFormat: drop('not taken by variations'),
    outputCompression: drop('not taken by variations'),
    background: drop('not taken by variations'),
    moderation: drop('not taken by variations'),
    user: { to: 'user' },
    style: drop('not taken by variations'),
    watermark: drop('not taken by variations'),
    metadata: drop('not taken by variations'),
    inputs: { spread: ({ images }) => (images[0] ? [fileParam('image', images[0], 'image')] : []) },
    stream: drop('variations do not stream'),
    inputFidelity: drop('edits only'),
  },
  // Only the channel's params: a model's fixed params have never gone with its variations.
  overrides: ['channel'],
};

export const OPENAI_PARAMETERS: Readonly<Record<OpenAIProfile, Readonly<Record<ImagesEndpoint, ParameterMap>>>> = {
  official: { generations: OFFICIAL_GENERATIONS, edits: OFFICIAL_EDITS, variations: VARIATIONS },
  relay: { generations: RELAY_GENERATIONS, edits: RELAY_EDITS, variations: VARIATIONS },
};
