/**
 * Stability AI's v2beta Stable Image forms as parameter maps (../parameter-map.ts), one per
 * endpoint, all multipart/form-data (Stability's API reference: Generate Ultra, Core, SD3; Edit
 * Inpaint, Search and Replace):
 * - `generate/ultra`: prompt, negative_prompt, aspect_ratio, seed, style_preset, output_format;
 *   image + strength for image-to-image;
 * - `generate/core`: the same without an image;
 * - `generate/sd3`: model (sd3.5-large...), mode (text-to-image, or image-to-image with image +
 *   strength, when aspect_ratio is not sent), prompt, negative_prompt, aspect_ratio, seed,
 *   cfg_scale, output_format;
 * - `edit/inpaint`: image, mask (white = redrawn; without one, the image's transparency),
 *   prompt, negative_prompt, grow_mask, seed, output_format;
 * - `edit/search-and-replace`: image, prompt, search_prompt (what to replace), negative_prompt,
 *   grow_mask, seed, output_format.
 * One image per call (n is the provider's number of calls). Our size is Stability's aspect_ratio
 * (the catalogue's sizes are exactly its ratios' images); the answer comes as image bytes
 * (`Accept: image/*`, provider.ts), so there is no response_format to send.
 *
 * What Stability cannot do is refused, naming the field, never dropped: background, moderation,
 * output_compression, watermark, metadata, style where the endpoint has no style_preset,
 * a mask anywhere but inpaint, and any passthrough field that is not one of the endpoint's own.
 */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import { isRelayObject, type ImageJob } from '../../core/job.js';
import { STABILITY_RATIO_SIZES } from '../../core/catalogue/stability.js';
import { channelModel, fileParam, type DropRule, type FieldRules, type ParameterMap, type ParamRule, type SpreadRule } from '../parameter-map.js';

/** Stability's image-to-image needs a strength (0: the input as it is, 1: ignore it); sent when the caller gives none. */
export const DEFAULT_STRENGTH = 0.7;

/** size -> aspect_ratio: the catalogue's sizes are the images Stability makes for each ratio. */
const RATIO_OF_SIZE: ReadonlyMap<string, string> = new Map(Object.entries(STABILITY_RATIO_SIZES).map(([ratio, size]) => [size, ratio]));

export function stabilityAspectRatio(size: string): string | undefined {
  return RATIO_OF_SIZE.get(size);
}

function unsupported(param: string, job: ImageJob, why = 'Stability has no such parameter'): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a Stability channel (${why}).`);
}

/** A field Stability has no param for: any value is the client's 400 (routing skips stability channels for it), and never sent. */
function refused<V>(param: string, why?: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

/** The endpoint's own fields go through as given; any other passthrough field is refused, naming it. */
function passthroughOf(own: readonly string[], required?: string): SpreadRule<Readonly<Record<string, unknown>>> {
  // strength goes with the input image (imageToImage), never alone.
  const sent = own.filter((name) => name !== 'strength');
  return {
    spread: (passthrough) =>
      Object.entries(passthrough).flatMap(([name, value]) => (sent.includes(name) && value !== null && value !== undefined ? [[name, value] as const] : [])),
    refuse: (passthrough, job) => {
      const foreign = Object.keys(passthrough).find((name) => !own.includes(name));
      if (foreign !== undefined) return unsupported(foreign, job, `Stability's own fields here are ${own.join(', ')}`);
      if (required !== undefined && (typeof passthrough[required] !== 'string' || passthrough[required] === '')) {
        return invalidRequest(required, 'missing_required_parameter', `${job.model.id} needs ${required}: what to find in the image and replace.`);
      }
      return undefined;
    },
  };
}

/** The image of an image-to-image call (with its strength, the caller's or DEFAULT_STRENGTH); a mask is inpaint's. */
function imageToImage(withMode: boolean): SpreadRule<ImageJob['inputs']> {
  return {
    spread: ({ images: [image] }, { job }) =>
      image === undefined
        ? []
        : [
            fileParam('image', image, 'image'),
            ...(withMode ? [['mode', 'image-to-image'] as const] : []),
            ['strength', job.passthrough.strength ?? DEFAULT_STRENGTH] as const,
          ],
    refuse: (inputs, job) => {
      if (inputs.mask) return unsupported('mask', job, 'a masked edit is stable-image-inpaint');
      if (inputs.images.length === 0 && job.passthrough.strength !== undefined)
        return unsupported('strength', job, 'strength weighs an input image: send one (images.edit)');
      return undefined;
    },
  };
}

/** Inpaint: the image and, when given, its mask (already Stability's white-is-edited, white-edit-mask.ts). */
const INPAINT_INPUTS: SpreadRule<ImageJob['inputs']> = {
  spread: ({ images: [image], mask }) => [...(image ? [fileParam('image', image, 'image')] : []), ...(mask ? [fileParam('mask', mask, 'mask')] : [])],
};

const SEARCH_INPUTS: SpreadRule<ImageJob['inputs']> = {
  spread: ({ images: [image] }) => (image ? [fileParam('image', image, 'image')] : []),
  refuse: (inputs, job) => (inputs.mask ? unsupported('mask', job, 'search_prompt finds what to replace; a masked edit is stable-image-inpaint') : undefined),
};

/** The aspect ratio of a text-to-image call (`auto`: none, Stability's 1:1); an image-to-image call answers in its input's shape. */
const ASPECT_RATIO: ParamRule<string> = {
  to: 'aspect_ratio',
  transform: (size, { job }) => (job.inputs.images.length > 0 ? undefined : stabilityAspectRatio(size)),
};

const STYLE_PRESET: ParamRule<unknown> = {
  to: 'style_preset',
  refuse: (style, job) => (isRelayObject(style) ? unsupported('style', job, 'Stability takes one of its style_preset names') : undefined),
};

function fields(overrides: Partial<FieldRules> & Pick<FieldRules, 'model' | 'inputs' | 'size' | 'style' | 'passthrough'>): FieldRules {
  return {
    id: drop("the gateway's own request id"),
    operation: drop('the endpoint follows the model and its inputs (endpoints.ts)'),
    model: overrides.model,
    prompt: { to: 'prompt' },
    inputs: overrides.inputs,
    n: drop('Stability makes one image per call: the provider makes n calls'),
    size: overrides.size,
    quality: drop('Stability has no quality: the catalogue refuses the field, the job carries only the price column'),
    responseFormat: drop("Stability answers the image's bytes (Accept: image/*); the gateway answers in the client's form"),
    outputFormat: { to: 'output_format', default: 'png' },
    outputCompression: refused('output_compression'),
    background: refused('background'),
    moderation: refused('moderation'),
    style: overrides.style,
    watermark: refused('watermark'),
    user: drop("Stability's is a header, stability-client-user-id (provider.ts), not a form field"),
    metadata: refused('metadata'),
    stream: drop('Stability answers whole images: a stream gets each as its completed event'),
    inputFidelity: drop('GPT image edits only'),
    passthrough: overrides.passthrough,
  };
}

const NO_MODEL = drop('the endpoint names the model (generate/ultra, generate/core, edit/...)');

export const STABILITY_ULTRA: ParameterMap = {
  encoding: 'multipart',
  fields: fields({
    model: NO_MODEL,
    inputs: imageToImage(false),
    size: ASPECT_RATIO,
    style: STYLE_PRESET,
    passthrough: passthroughOf(['negative_prompt', 'seed', 'strength']),
  }),
  overrides: ['model', 'channel'],
};

export const STABILITY_CORE: ParameterMap = {
  encoding: 'multipart',
  fields: fields({
    model: NO_MODEL,
    inputs: drop('none: Stable Image Core takes no input image (capabilities.edits is null)'),
    size: ASPECT_RATIO,
    style: STYLE_PRESET,
    passthrough: passthroughOf(['negative_prompt', 'seed']),
  }),
  overrides: ['model', 'channel'],
};

export const STABILITY_SD3: ParameterMap = {
  encoding: 'multipart',
  fields: fields({
    model: { to: 'model', transform: channelModel },
    inputs: imageToImage(true),
    size: ASPECT_RATIO,
    style: refused('style', 'generate/sd3 has no style_preset'),
    passthrough: passthroughOf(['negative_prompt', 'seed', 'strength', 'cfg_scale']),
  }),
  overrides: ['model', 'channel'],
};

export const STABILITY_INPAINT: ParameterMap = {
  encoding: 'multipart',
  fields: fields({
    model: NO_MODEL,
    inputs: INPAINT_INPUTS,
    size: drop('the answer is in the input image’s shape'),
    style: refused('style'),
    passthrough: passthroughOf(['negative_prompt', 'seed', 'grow_mask']),
  }),
  overrides: ['model', 'channel'],
};

export const STABILITY_SEARCH_AND_REPLACE: ParameterMap = {
  encoding: 'multipart',
  fields: fields({
    model: NO_MODEL,
    inputs: SEARCH_INPUTS,
    size: drop('the answer is in the input image’s shape'),
    style: refused('style'),
    passthrough: passthroughOf(['search_prompt', 'negative_prompt', 'seed', 'grow_mask'], 'search_prompt'),
  }),
  overrides: ['model', 'channel'],
};
