/**
 * fal app inputs as parameter maps (../parameter-map.ts): one table of fields, its rules read off
 * the app's schema (schemas.ts). The body is the app's input JSON, flat: `{prompt, image_size,
 * num_images, output_format, enable_safety_checker, image_urls, seed, ...}`; the model's fixed
 * input fields (Ideogram's rendering_speed) go first, the mapped fields and the channel's params
 * for the model over them.
 *
 * What an app cannot take is refused, naming the field, never dropped: n above 1 where the app
 * makes one image per request, input images on an app without any, a mask, background,
 * moderation, style (except Recraft's own styles), metadata, watermark, and any
 * passthrough field that is not one of the app's own. quality has no fal field (the catalogue
 * refuses it); output/ converts to the format asked where the app has no output_format.
 * `sync_mode` (the image as a data URI in the answer, kept out of fal's request history) is never
 * sent: the gateway stores the image itself.
 */
import { shapeDistance } from '../../core/aspect-ratio.js';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob } from '../../core/job.js';
import { parseSize } from '../../core/sizes.js';
import { dataUri, type DropRule, type MapContext, type ParameterMap, type ParamRule, type SpreadRule } from '../parameter-map.js';
import type { FalTarget } from './apps.js';
import type { FalSchema } from './schemas.js';

function unsupported(param: string, job: ImageJob, why: string): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a fal channel (${why}).`);
}

function refused<V>(param: string, why = "fal's app has no such input"): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

/** How far (log scale) a size may be from the ratio it is sent as: Google's Imagen sizes are within 0.07 of theirs. */
const MAX_SHAPE_DISTANCE = 0.1;

/** The nearest of the app's aspect ratios to a WxH, on the log scale, when it is near enough to stand for it. */
export function nearestAspectRatio(width: number, height: number, ratios: readonly string[]): string | undefined {
  let best: { ratio: string; distance: number } | undefined;
  for (const ratio of ratios) {
    const [w, h] = ratio.split(':').map(Number);
    const distance = shapeDistance(width / height, (w ?? 1) / (h ?? 1));
    if (!best || distance < best.distance) best = { ratio, distance };
  }
  return best && best.distance <= MAX_SHAPE_DISTANCE ? best.ratio : undefined;
}

/** size -> image_size `{width, height}`, or aspect_ratio (and Imagen's resolution); `auto` as the app names it, or not sent. */
function sizeRule(schema: FalSchema): SpreadRule<string> {
  const ratios = schema.aspectRatios ?? [];
  return {
    spread: (size) => {
      const dims = parseSize(size);
      if (!dims) return schema.size === 'image_size' && schema.autoSize !== undefined ? [['image_size', schema.autoSize]] : [];
      if (schema.size === 'image_size') return [['image_size', { width: dims.width, height: dims.height }]];
      const ratio = nearestAspectRatio(dims.width, dims.height, ratios);
      const resolution = schema.resolution ? [['resolution', Math.max(dims.width, dims.height) > 1_700 ? '2K' : '1K'] as const] : [];
      return ratio === undefined ? [] : [['aspect_ratio', ratio], ...resolution];
    },
    // A shape the app has no ratio for (Kontext's 2:1 or 7:6 on BFL's list) would come back in another shape.
    refuse: (size, job) => {
      const dims = parseSize(size);
      if (schema.size !== 'aspect_ratio' || !dims || nearestAspectRatio(dims.width, dims.height, ratios) !== undefined) return undefined;
      return unsupported('size', job, `fal's app takes the aspect ratios ${ratios.join(', ')}`);
    },
  };
}

function passthroughOf(schema: FalSchema): SpreadRule<Readonly<Record<string, unknown>>> {
  const own = schema.own;
  if (own === null) return { spread: (passthrough) => Object.entries(passthrough).filter(([, value]) => value !== null && value !== undefined) };
  return {
    spread: (passthrough) => Object.entries(passthrough).filter(([name, value]) => own.includes(name) && value !== null && value !== undefined),
    refuse: (passthrough, job) => {
      const foreign = Object.keys(passthrough).find((name) => !own.includes(name));
      return foreign === undefined
        ? undefined
        : unsupported(foreign, job, own.length > 0 ? `the app's own fields here are ${own.join(', ')}` : 'the app has no such input');
    },
  };
}

function inputsRule(schema: FalSchema): SpreadRule<ImageJob['inputs']> {
  return {
    spread: ({ images }) => {
      if (images.length === 0) return [];
      if (schema.inputImages === 'image_url') return images[0] ? [['image_url', dataUri(images[0])]] : [];
      return [['image_urls', images.map(dataUri)]];
    },
    refuse: ({ images, mask }, job) => {
      if (mask) return unsupported('mask', job, "fal's edit apps mapped here edit from the prompt, without a mask");
      if (images.length > 0 && schema.inputImages === null) return unsupported('image', job, "fal's app for it takes no input images");
      if (images.length > schema.maxInputImages) return unsupported('image', job, `fal's app takes at most ${schema.maxInputImages} input images`);
      return undefined;
    },
  };
}

function fieldsOf(schema: FalSchema): ParameterMap['fields'] {
  return {
    id: drop("the gateway's own request id"),
    operation: drop('the app follows the job: its edit app when it has input images (apps.ts)'),
    model: drop("the app id is the request's path, not a field"),
    prompt: { to: 'prompt' },
    inputs: inputsRule(schema),
    n: schema.numImages
      ? { to: 'num_images' }
      : {
          to: 'num_images',
          transform: () => undefined,
          refuse: (n, job) => (n > 1 ? unsupported('n', job, "fal's app makes one image per request") : undefined),
        },
    size: sizeRule(schema),
    quality: drop('fal apps have no quality: the catalogue refuses the field, the job carries only the price column'),
    responseFormat: drop("fal answers URLs: the gateway stores the images and answers in the client's form"),
    outputFormat: {
      to: 'output_format',
      transform: (format) => (schema.outputFormats.includes(format) ? format : undefined),
    },
    outputCompression: drop('applied by output/ when it converts to jpeg or webp'),
    background: refused('background'),
    moderation: refused('moderation', 'fal apps have their own safety checker, on by default'),
    style:
      schema.styles.length > 0
        ? {
            to: 'style',
            refuse: (style, job) =>
              typeof style === 'string' && schema.styles.includes(style) ? undefined : unsupported('style', job, `fal's app takes ${schema.styles.join(', ')}`),
          }
        : refused('style'),
    watermark: {
      to: 'watermark',
      transform: () => undefined,
      refuse: (mark, job) => (mark ? unsupported('watermark', job, 'fal apps add no mark') : undefined),
    },
    user: drop("an end-user id for OpenAI's abuse monitoring: fal has no such field, and leaving it out changes no image"),
    metadata: refused('metadata'),
    stream: drop("fal's queue answers whole images: a stream waits for the request and gets each as its completed event"),
    inputFidelity: drop('GPT image edits only'),
    passthrough: passthroughOf(schema),
  };
}

/** The app's input JSON for a target: the model's fixed fields first, then the table's (safety checker on unless overridden). */
export function falParameterMap(target: FalTarget): ParameterMap {
  const { schema, params: fixed } = target;
  return {
    encoding: 'json',
    fields: fieldsOf(schema),
    overrides: ['model', 'channel'],
    neverSent: ['sync_mode'],
    shape: (params: Readonly<Record<string, unknown>>, _ctx: MapContext) => ({
      ...fixed,
      ...(schema.safetyChecker ? { enable_safety_checker: true } : {}),
      ...params,
    }),
  };
}
