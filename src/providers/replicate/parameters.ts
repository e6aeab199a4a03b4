/**
 * A Replicate prediction's body as parameter maps, one per input schema (models.ts): the table
 * writes the model's `input` fields, replicateBody wraps them as `{input}` (official models) or
 * `{version, input}` (a model run by version). The model's fixed params and a channel's params for
 * the model are `input` fields, laid over. Field names and ranges are each model's input schema on
 * replicate.com (its API tab, read 2026-11-30):
 * - flux-pro (FLUX1.1 [pro]): `aspect_ratio: custom` with `width`/`height` (256-1440, multiples of
 *   32), `output_format` webp/jpg/png, `output_quality`; seed, safety_tolerance, prompt_upsampling.
 * - flux-ultra (FLUX1.1 [pro] Ultra): `aspect_ratio` (21:9 to 9:21), `output_format` jpg/png; raw.
 * - flux-2 (FLUX.2 pro, max, flex, klein): `aspect_ratio: custom` with `width`/`height` (256-2048,
 *   multiples of 32), or `match_input_image` for an edit's `auto`; `input_images` (data URIs).
 * - flux-kontext (FLUX.1 Kontext): one `input_image`, `aspect_ratio` (its ratio, or
 *   `match_input_image`), `output_format` jpg/png.
 * - seedream-4 (Seedream 4 and 4.5): `size: custom` with `width`/`height` (1024-4096 each), or its
 *   default 2K tier for `auto`; `image_input` (data URIs).
 * - imagen-4: `aspect_ratio` (1:1, 3:4, 4:3, 9:16, 16:9: Imagen's 1K sizes), `output_format` jpg/png.
 * - recraft-v3: `size` (WxH, Recraft's list) and `style`.
 * - ideogram-v3: `resolution` (WxH).
 * - generic (a model run by version, whose fields only its owner knows): prompt, `width`/`height`
 *   and one input image as `image`; any passthrough field goes as it is, and the model's own 422
 *   names what it refuses.
 * What a built-in schema cannot take is the client's 400 naming the field, before any prediction.
 * One prediction makes one image (FLUX, Imagen, Recraft, Ideogram answer one; Seedream's
 * sequential generation is left off): n images are n predictions (provider.ts). Output formats a
 * model does not make come back as PNG and output/ converts them, as it converts other vendors'.
 */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob, OutputFormat } from '../../core/job.js';
import { IMAGEN_4_SIZES } from '../../core/models.js';
import { parseSize, type Dimensions } from '../../core/sizes.js';
import { dataUri, type DropRule, type FieldRules, type MapContext, type Param, type ParameterMap, type ParamRule, type SpreadRule } from '../parameter-map.js';
import { routeOf, type ReplicateSchema } from './models.js';

function unsupported(param: string, job: ImageJob, why: string): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a Replicate channel (${why}).`);
}

/** A field Replicate's model has no input for: any value is the client's 400, never sent. */
function refused<V>(param: string, why: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

/** The schema's own input fields go through as sent; any other passthrough field is refused, naming it. */
function passthroughOf(own: readonly string[]): SpreadRule<Readonly<Record<string, unknown>>> {
  return {
    spread: (passthrough) => Object.entries(passthrough).filter(([name, value]) => own.includes(name) && value !== undefined),
    refuse: (passthrough, job) => {
      const foreign = Object.keys(passthrough).find((name) => !own.includes(name));
      if (foreign === undefined) return undefined;
      return unsupported(foreign, job, own.length > 0 ? `its own fields here are ${own.join(', ')}` : 'it takes no other field');
    },
  };
}

/**
 * A model run by version: every passthrough field is its own (its 422 names one it refuses), but
 * the gateway's own nsfw_checker (its content check, which Replicate's models do not know).
 */
const ANY_PASSTHROUGH: SpreadRule<Readonly<Record<string, unknown>>> = {
  spread: (passthrough) => Object.entries(passthrough).filter(([name, value]) => name !== 'nsfw_checker' && value !== undefined),
};

/** output_format as Replicate's FLUX and Imagen models spell it (`jpg`); a format the model lacks comes back PNG. */
function outputFormat(made: readonly OutputFormat[], fallback: OutputFormat): ParamRule<OutputFormat> {
  return { to: 'output_format', default: fallback, transform: (format) => replicateFormat(made.includes(format) ? format : 'png') };
}

function replicateFormat(format: OutputFormat): string {
  return format === 'jpeg' ? 'jpg' : format;
}

/** output_quality, for the lossy formats of models that take it. */
const OUTPUT_QUALITY: ParamRule<number> = {
  to: 'output_quality',
  when: (job) => job.outputFormat === 'jpeg' || job.outputFormat === 'webp',
};

/** Width and height within a model's bounds (and on its grid), else the 400 naming size. */
function boundedSize(min: number, max: number, multiple: number): (size: string, job: ImageJob) => GatewayError | undefined {
  return (size, job) => {
    const dims = parseSize(size);
    if (!dims) return size === 'auto' ? undefined : unsupported('size', job, 'it takes WIDTHxHEIGHT sizes');
    const inside = (side: number) => side >= min && side <= max && side % multiple === 0;
    if (inside(dims.width) && inside(dims.height)) return undefined;
    return unsupported('size', job, `Replicate's model takes ${min}-${max} px a side${multiple > 1 ? `, in multiples of ${multiple}` : ''}`);
  };
}

/** A model's aspect ratios, and how far (a factor) a size's shape may be from one to be sent as it. */
interface Ratios {
  readonly ratios: readonly string[];
  readonly tolerance: number;
}

/** A size as one of a model's aspect ratios, when it is near enough that shape. */
export function ratioOf(dims: Dimensions, { ratios, tolerance }: Ratios): string | undefined {
  const shape = dims.width / dims.height;
  let best: { ratio: string; off: number } | undefined;
  for (const ratio of ratios) {
    const [w, h] = ratio.split(':').map(Number) as [number, number];
    const off = Math.abs(Math.log(shape / (w / h)));
    if (!best || off < best.off) best = { ratio, off };
  }
  return best && best.off <= Math.log(tolerance) ? best.ratio : undefined;
}

function ratioRefusal(ratios: Ratios) {
  return (size: string, job: ImageJob): GatewayError | undefined => {
    const dims = parseSize(size);
    if (!dims) return size === 'auto' ? undefined : unsupported('size', job, 'it takes WIDTHxHEIGHT sizes');
    return ratioOf(dims, ratios) === undefined ? unsupported('size', job, `Replicate's model makes the aspect ratios ${ratios.ratios.join(', ')}`) : undefined;
  };
}

/** A custom size as `aspect_ratio: custom` with width and height (FLUX.1.1 [pro], FLUX.2); `auto` (an edit) follows the first input. */
function customAspect(size: string): Param[] {
  const dims = parseSize(size);
  if (!dims) return size === 'auto' ? [['aspect_ratio', 'match_input_image']] : [];
  return [
    ['aspect_ratio', 'custom'],
    ['width', dims.width],
    ['height', dims.height],
  ];
}

function aspectOnly(ratios: Ratios): (size: string) => Param[] {
  return (size) => {
    const dims = parseSize(size);
    const ratio = dims ? ratioOf(dims, ratios) : size === 'auto' ? 'match_input_image' : undefined;
    return ratio === undefined ? [] : [['aspect_ratio', ratio]];
  };
}

/** Input images for a model that takes none (its catalogue entry has no edits: this only guards a mapped operator model). */
const NO_INPUTS: SpreadRule<ImageJob['inputs']> = {
  spread: () => [],
  refuse: (inputs, job) => (inputs.images.length > 0 || inputs.mask ? unsupported('image', job, 'it takes no input images') : undefined),
};

function imagesAs(name: string, max: number): SpreadRule<ImageJob['inputs']> {
  return {
    spread: (inputs) => (inputs.images.length > 0 ? [[name, inputs.images.map(dataUri)]] : []),
    refuse: (inputs, job) => {
      if (inputs.mask) return unsupported('mask', job, 'it edits from the prompt, without a mask');
      return inputs.images.length > max ? unsupported('image', job, `it takes at most ${max} input images`) : undefined;
    },
  };
}

function oneImageAs(name: string): SpreadRule<ImageJob['inputs']> {
  return {
    spread: ({ images: [first] }) => (first ? [[name, dataUri(first)]] : []),
    refuse: (inputs, job) => {
      if (inputs.mask) return unsupported('mask', job, 'it edits from the prompt, without a mask');
      return inputs.images.length > 1 ? unsupported('image', job, 'it takes one input image') : undefined;
    },
  };
}

const COMMON: FieldRules = {
  id: drop("the gateway's own request id"),
  operation: drop('an edit is a prediction with input images; variations are not taken (accepts)'),
  model: drop('in the URL (official models) or the body’s version'),
  prompt: { to: 'prompt' },
  inputs: NO_INPUTS,
  n: drop('one prediction makes one image: n images are n predictions (provider.ts)'),
  size: drop('per schema'),
  quality: drop('no quality on Replicate’s image models: the catalogue refuses the field, the job carries only the price column'),
  responseFormat: drop("Replicate answers URLs (replicate.delivery, an hour): the gateway stores the images and answers in the client's form"),
  outputFormat: drop('the model answers its own format; output/ converts it to the one asked'),
  outputCompression: drop('applied by output/ when it converts to jpeg or webp'),
  background: refused('background', 'Replicate’s image models make opaque images'),
  moderation: refused('moderation', 'use the model’s own safety field (safety_tolerance, safety_filter_level) as a passthrough field'),
  style: refused('style', 'the model has no style input: describe the style in the prompt'),
  watermark: {
    to: 'watermark',
    transform: () => undefined,
    refuse: (mark, job) => (mark ? unsupported('watermark', job, 'the model has no watermark input') : undefined),
  },
  user: drop("an end-user id for OpenAI's abuse monitoring: Replicate has no such field"),
  metadata: refused('metadata', 'Replicate has no metadata field'),
  stream: drop('Replicate answers whole images: a stream gets each as its completed event'),
  inputFidelity: drop('GPT image edits only'),
  passthrough: passthroughOf([]),
};

const FLUX_OPTIONS = ['seed', 'safety_tolerance', 'prompt_upsampling'];
/** Ultra's sizes are its ratios at 4 MP, within 1%. */
const ULTRA_RATIOS: Ratios = { ratios: ['21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '9:21'], tolerance: 1.05 };
/**
 * Kontext makes about a megapixel at a ratio: BFL's list has ratios Replicate's enum lacks, sent
 * as the nearest within 7% (7:6, 1104x944, as 5:4: the task API's 5:4 on Kontext); 5:3 (1328x800)
 * has none that near and is refused.
 */
const KONTEXT_RATIOS: Ratios = { ratios: ['1:1', '16:9', '9:16', '4:3', '3:4', '3:2', '2:3', '4:5', '5:4', '21:9', '9:21', '2:1', '1:2'], tolerance: 1.07 };
/** Imagen's 1K sizes (Google's own table), each sent as its aspect ratio: Replicate's Imagen takes no 2K. */
const IMAGEN_1K_RATIOS: ReadonlyMap<string, string> = new Map(
  Object.entries(IMAGEN_4_SIZES).flatMap(([ratio, tiers]) => (tiers['1K'] !== undefined ? [[tiers['1K'], ratio] as const] : [])),
);

/** Each schema's table. */
export const REPLICATE_MAPS: Readonly<Record<ReplicateSchema, ParameterMap>> = {
  'flux-pro': map({
    ...COMMON,
    size: { spread: customAspect, refuse: boundedSize(256, 1440, 32) },
    outputFormat: outputFormat(['jpeg', 'png', 'webp'], 'jpeg'),
    outputCompression: OUTPUT_QUALITY,
    passthrough: passthroughOf([...FLUX_OPTIONS, 'image_prompt']),
  }),
  'flux-ultra': map({
    ...COMMON,
    size: { spread: aspectOnly(ULTRA_RATIOS), refuse: ratioRefusal(ULTRA_RATIOS) },
    outputFormat: outputFormat(['jpeg', 'png'], 'jpeg'),
    passthrough: passthroughOf(['seed', 'safety_tolerance', 'raw', 'image_prompt', 'image_prompt_strength']),
  }),
  'flux-2': map({
    ...COMMON,
    inputs: imagesAs('input_images', 8),
    size: { spread: customAspect, refuse: boundedSize(256, 2048, 32) },
    outputFormat: outputFormat(['jpeg', 'png', 'webp'], 'jpeg'),
    outputCompression: OUTPUT_QUALITY,
    passthrough: passthroughOf([...FLUX_OPTIONS, 'resolution', 'steps', 'guidance', 'go_fast', 'disable_safety_checker']),
  }),
  'flux-kontext': map({
    ...COMMON,
    inputs: oneImageAs('input_image'),
    size: { spread: aspectOnly(KONTEXT_RATIOS), refuse: ratioRefusal(KONTEXT_RATIOS) },
    outputFormat: outputFormat(['jpeg', 'png'], 'png'),
    passthrough: passthroughOf(FLUX_OPTIONS),
  }),
  'seedream-4': map({
    ...COMMON,
    inputs: imagesAs('image_input', 10),
    size: { spread: seedreamSize, refuse: boundedSize(1024, 4096, 1) },
    passthrough: passthroughOf(['enhance_prompt']),
  }),
  'imagen-4': map({
    ...COMMON,
    size: {
      spread: (size) => {
        const ratio = IMAGEN_1K_RATIOS.get(size);
        return ratio === undefined ? [] : [['aspect_ratio', ratio]];
      },
      refuse: (size, job) =>
        IMAGEN_1K_RATIOS.has(size)
          ? undefined
          : unsupported('size', job, `Replicate's Imagen makes Imagen's 1K sizes: ${[...IMAGEN_1K_RATIOS.keys()].join(', ')}`),
    },
    outputFormat: outputFormat(['jpeg', 'png'], 'png'),
    passthrough: passthroughOf(['safety_filter_level']),
  }),
  'recraft-v3': map({
    ...COMMON,
    size: { to: 'size' },
    style: { to: 'style' },
    passthrough: passthroughOf([]),
  }),
  'ideogram-v3': map({
    ...COMMON,
    size: { to: 'resolution', transform: (size) => (parseSize(size) ? size : undefined) },
    passthrough: passthroughOf(['seed', 'magic_prompt_option', 'style_type', 'style_preset', 'aspect_ratio']),
  }),
  generic: map({
    ...COMMON,
    inputs: oneImageAs('image'),
    size: { spread: (size) => widthHeight(size) },
    passthrough: ANY_PASSTHROUGH,
  }),
};

function widthHeight(size: string): Param[] {
  const dims = parseSize(size);
  return dims
    ? [
        ['width', dims.width],
        ['height', dims.height],
      ]
    : [];
}

/** Seedream: a WxH is `size: custom`; `auto` leaves Replicate's default, the 2K tier in the input's (or the prompt's) shape. */
function seedreamSize(size: string): Param[] {
  const dims = widthHeight(size);
  return dims.length > 0 ? [['size', 'custom'], ...dims] : [];
}

/** The prediction's body: the params as its `input`, with the version when the model is run by version. */
function replicateBody(params: Readonly<Record<string, unknown>>, { job, channel }: MapContext): Record<string, unknown> {
  const route = routeOf(job, channel);
  return route?.kind === 'version' ? { version: route.version, input: params } : { input: params };
}

function map(fields: FieldRules): ParameterMap {
  return { encoding: 'json', fields, overrides: ['model', 'channel'], shape: replicateBody };
}
