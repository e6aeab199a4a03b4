/**
 * Seedream's `POST {base_url}/images/generations` (Volcengine Ark, BytePlus ModelArk) as a parameter
 * map (../parameter-map.ts). Ark's body is OpenAI-shaped with fields of its own: model (the
 * platform's dated id), prompt, image (a URL or data URI, or an array of them: reference images
 * and edits alike), size (a tier or WxH: the gateway sends WxH), seed, guidance_scale (3.0),
 * sequential_image_generation (`auto` | `disabled`) and its options' max_images (a group of related
 * images in one answer), optimize_prompt_options, tools (5.0 Lite's web search), output_format
 * (5.0 Lite: png or jpeg), stream, response_format, watermark.
 *
 * `n`: Ark has none. OpenAI's n asks for n independent images, so the provider makes n calls (one
 * image each). A group (the client's `sequential_image_generation: auto`) is one call whose
 * max_images is the client's n: the reservation covers the n images the group may hold, and Ark
 * counts reference images and group images together against its 15.
 *
 * What Seedream cannot do is refused, naming the field: a mask (Seedream edits from the whole
 * image and the prompt), background, moderation, output_compression, style (the catalogue refuses
 * them first), metadata, and any passthrough field that is not one of Ark's own.
 */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob, OutputFormat } from '../../core/job.js';
import { dataUri, type DropRule, type MapContext, type ParameterMap, type Param, type ParamRule } from '../parameter-map.js';
import { platformModelId, type SeedreamRegion } from './regions.js';

/** Ark's own generation fields a client may send as they are (unknown to the OpenAI dialect, so they arrive as passthrough). */
export const SEEDREAM_PASSTHROUGH_FIELDS: readonly string[] = [
  'seed',
  'guidance_scale',
  'sequential_image_generation',
  'sequential_image_generation_options',
  'optimize_prompt_options',
  'tools',
];

/** What `size: auto` asks Ark for: its 2K tier (every model with `auto` has it), shaped by the model. */
export const SEEDREAM_AUTO_TIER = '2K';

/** Ark's limit on one request's images: its reference images plus the images of a group. */
export const SEEDREAM_MAX_IMAGES_PER_CALL = 15;

/**
 * Whether Ark streams this model: Seedream 4.0 and later do; 3.0 takes no `stream` (Ark refuses
 * it; the catalogue says `fromWholeAnswer`), so its stream gets each image of the JSON answer.
 */
export function arkStreams(job: ImageJob): boolean {
  return job.model.capabilities.streaming?.fromWholeAnswer !== true;
}

/** The client asked for a group: one call whose answer holds up to n related images. */
export function isImageGroup(job: ImageJob): boolean {
  return job.passthrough.sequential_image_generation === 'auto';
}

function unsupported(param: string, job: ImageJob, why = 'Seedream has no such parameter'): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a Seedream channel (${why}).`);
}

function refused<V>(param: string, why?: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

/** Ark's output_format only where the model offers a choice (5.0 Lite); the others answer JPEG, the one format they take. */
function outputFormat(format: OutputFormat, { job }: MapContext): OutputFormat | undefined {
  return job.model.capabilities.outputFormats.length > 1 ? format : undefined;
}

/** Reference images and edits: one image as a string (every Seedream model takes it), several as an array. */
function images(inputs: ImageJob['inputs']): readonly Param[] {
  if (inputs.images.length === 0) return [];
  const uris = inputs.images.map(dataUri);
  return [['image', uris.length === 1 ? uris[0] : uris]];
}

/** Ark's fields from the passthrough; a group's max_images is the client's n. */
function passthroughParams(passthrough: Readonly<Record<string, unknown>>, { job }: MapContext): readonly Param[] {
  const own = Object.entries(passthrough).filter(([name, value]) => SEEDREAM_PASSTHROUGH_FIELDS.includes(name) && value !== null && value !== undefined);
  if (!isImageGroup(job)) return own;
  const options = passthrough.sequential_image_generation_options;
  const given = typeof options === 'object' && options !== null && !Array.isArray(options) ? options : {};
  return [...own.filter(([name]) => name !== 'sequential_image_generation_options'), ['sequential_image_generation_options', { ...given, max_images: job.n }]];
}

function passthroughRefusal(passthrough: Readonly<Record<string, unknown>>, job: ImageJob): GatewayError | undefined {
  const foreign = Object.keys(passthrough).find((name) => !SEEDREAM_PASSTHROUGH_FIELDS.includes(name));
  if (foreign !== undefined) return unsupported(foreign, job, `Ark's own fields are ${SEEDREAM_PASSTHROUGH_FIELDS.join(', ')}`);
  if (!isImageGroup(job)) return undefined;
  const options = passthrough.sequential_image_generation_options;
  const maxImages = typeof options === 'object' && options !== null ? (options as Record<string, unknown>).max_images : undefined;
  if (maxImages !== undefined && maxImages !== job.n) {
    return invalidRequest(
      'sequential_image_generation_options',
      'invalid_value',
      `A Seedream image group holds up to n images: send n (${job.n} now) rather than a different max_images (${JSON.stringify(maxImages)}).`,
    );
  }
  if (job.inputs.images.length + job.n > SEEDREAM_MAX_IMAGES_PER_CALL) {
    return invalidRequest(
      'n',
      'invalid_value',
      `A Seedream image group and its reference images hold at most ${SEEDREAM_MAX_IMAGES_PER_CALL} images together (${job.inputs.images.length} given, n ${job.n}).`,
    );
  }
  return undefined;
}

/** The generations table for one platform (its model ids differ); the provider makes one per channel kind. */
export function seedreamGenerations(region: SeedreamRegion): ParameterMap {
  return {
    encoding: 'json',
    fields: {
      id: drop("the gateway's own request id"),
      operation: drop('one endpoint: an edit is a generation with input images (Ark takes both as `image`)'),
      model: { to: 'model', transform: (spec, { channel }) => platformModelId(region, spec, channel) },
      prompt: { to: 'prompt' },
      n: drop("Ark has no n: the provider makes one call per image, or a group's max_images says it (passthrough)"),
      // WxH as asked (already within the model's bounds), which Ark answers; auto is Ark's 2K tier,
      // the model choosing the shape from the prompt and the input images.
      size: { to: 'size', transform: (size) => (size === 'auto' ? SEEDREAM_AUTO_TIER : size) },
      quality: drop('Seedream has no quality: the catalogue refuses the field, the job carries only the price column'),
      // The gateway holds the bytes and answers in the client's form; a channel's params may ask for url.
      responseFormat: { to: 'response_format', transform: () => 'b64_json' },
      outputFormat: { to: 'output_format', transform: outputFormat },
      outputCompression: refused('output_compression'),
      background: refused('background'),
      moderation: refused('moderation'),
      style: refused('style'),
      // The client's word, else the channel's watermark setting (the provider fills it in; Ark's own default is true).
      watermark: { to: 'watermark' },
      user: drop("an end-user id for OpenAI's abuse monitoring: Ark has no such field, and leaving it out changes no image"),
      metadata: refused('metadata'),
      inputs: {
        spread: images,
        refuse: (inputs, job) => (inputs.mask ? unsupported('mask', job, 'Seedream edits from the whole image and the prompt, with no mask') : undefined),
      },
      // Ark streams finished images (no previews), read by response.ts; only stream callers ask for it, on a model Ark streams.
      stream: { spread: (_stream, { job, stream }) => (stream && arkStreams(job) ? [['stream', true]] : []) },
      inputFidelity: drop('OpenAI edits only'),
      passthrough: { spread: passthroughParams, refuse: passthroughRefusal },
    },
    // The model's fixed params and the channel's for the model: both in Ark's dialect.
    overrides: ['model', 'channel'],
  };
}
