/**
 * BFL's task bodies as parameter maps (../parameter-map.ts), one per kind of endpoint (BFL's API
 * reference, read 2026-11-30). Every endpoint is `POST /v1/{model}` with a flat JSON body: the
 * model is the path, never a field.
 * - FLUX.2 (flux-2-pro, -max, -flex, -klein-4b, -klein-9b): `prompt`, `width`, `height`,
 *   `input_image`, `input_image_2` ... (up to 8; klein 4), `seed`, `safety_tolerance`,
 *   `output_format`, `prompt_upsampling`; flex also `steps` and `guidance`.
 * - FLUX.1 Kontext (flux-kontext-pro, -max): `prompt`, `input_image` (one), `aspect_ratio`, `seed`,
 *   `safety_tolerance`, `output_format`, `prompt_upsampling`.
 * - FLUX1.1 [pro] (flux-pro-1.1): `prompt`, `width`, `height`, `seed`, `safety_tolerance`,
 *   `output_format`, `prompt_upsampling`.
 * - FLUX1.1 [pro] Ultra (flux-pro-1.1-ultra): `prompt`, `aspect_ratio`, `raw`, `seed`,
 *   `safety_tolerance`, `output_format`, `prompt_upsampling`.
 * Input images go as bare base64 (BFL takes base64 or a URL). `size: auto` sends no size: an edit
 * then answers in its input's shape. `output_format` is jpeg or png (Kontext also webp).
 *
 * What BFL cannot do is refused, naming the field, never dropped: a mask, background, moderation,
 * style, metadata, watermark, webhook fields (the gateway polls) and any passthrough field
 * that is not the endpoint's own. A format the endpoint lacks is asked as PNG and output/
 * converts it, as it applies output_compression.
 */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob, OutputFormat } from '../../core/job.js';
import type { ModelFamily } from '../../core/models.js';
import { KONTEXT_SIZES, ULTRA_SIZES } from '../../core/catalogue/bfl.js';
import { parseSize } from '../../core/sizes.js';
import { bareBase64, type DropRule, type FieldRules, type Param, type ParameterMap, type ParamRule, type SpreadRule } from '../parameter-map.js';

function unsupported(param: string, job: ImageJob, why = 'BFL has no such parameter'): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a BFL channel (${why}).`);
}

/** A field BFL has no param for: any value is the client's 400 (routing skips bfl channels for it), and never sent. */
function refused<V>(param: string, why?: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

/** BFL's own fields every endpoint takes, sent as the client gave them (BFL checks their values: its 422 names the field). */
const COMMON_FIELDS = ['seed', 'safety_tolerance', 'prompt_upsampling'] as const;

/** How an endpoint takes the size: pixels, or an aspect ratio of a size table. */
type SizeForm = { kind: 'pixels' } | { kind: 'ratio'; table: Readonly<Record<string, string>> };

interface Endpoint {
  readonly size: SizeForm;
  /** Its input images' fields: `input_image`, `input_image_2`, ... up to this many; 0: none. */
  readonly maxInputs: number;
  /** Its own fields a client may send as they are (unknown to the OpenAI dialect, so they arrive as passthrough). */
  readonly own: readonly string[];
  /** The output_format values it takes (Kontext's include webp). */
  readonly formats: readonly OutputFormat[];
}

const JPEG_PNG: readonly OutputFormat[] = ['jpeg', 'png'];

const FLUX2_INPUTS = 8;

const ENDPOINTS: Partial<Readonly<Record<ModelFamily, Endpoint>>> = {
  'flux-2': { size: { kind: 'pixels' }, maxInputs: FLUX2_INPUTS, own: COMMON_FIELDS, formats: JPEG_PNG },
  'flux-2-flex': { size: { kind: 'pixels' }, maxInputs: FLUX2_INPUTS, own: [...COMMON_FIELDS, 'steps', 'guidance'], formats: JPEG_PNG },
  'flux-2-klein': { size: { kind: 'pixels' }, maxInputs: 4, own: COMMON_FIELDS, formats: JPEG_PNG },
  'flux-kontext': { size: { kind: 'ratio', table: KONTEXT_SIZES }, maxInputs: 1, own: COMMON_FIELDS, formats: ['jpeg', 'png', 'webp'] },
  'flux-1.1-pro': { size: { kind: 'pixels' }, maxInputs: 0, own: COMMON_FIELDS, formats: JPEG_PNG },
  'flux-1.1-pro-ultra': { size: { kind: 'ratio', table: ULTRA_SIZES }, maxInputs: 0, own: [...COMMON_FIELDS, 'raw'], formats: JPEG_PNG },
};

/** `input_image`, `input_image_2`, `input_image_3`, ... */
function inputImageField(index: number): string {
  return index === 0 ? 'input_image' : `input_image_${index + 1}`;
}

function sizeRule(form: SizeForm): SpreadRule<string> {
  if (form.kind === 'pixels') {
    return {
      spread: (size) => {
        const dims = parseSize(size);
        return dims ? [['width', dims.width] as const, ['height', dims.height] as const] : [];
      },
    };
  }
  return {
    spread: (size) => {
      const ratio = form.table[size];
      return ratio === undefined ? [] : [['aspect_ratio', ratio] as const];
    },
    refuse: (size, job) =>
      size === 'auto' || form.table[size] !== undefined
        ? undefined
        : invalidRequest('size', 'invalid_value', `${job.model.id} on a BFL channel makes ${Object.keys(form.table).join(', ')} or auto, not ${size}.`),
  };
}

function inputsRule(maxInputs: number): SpreadRule<ImageJob['inputs']> {
  return {
    spread: ({ images }) => images.map((image, i): Param => [inputImageField(i), bareBase64(image)] as const),
    refuse: ({ images, mask }, job) => {
      if (mask) return unsupported('mask', job, 'BFL edits from the prompt and its reference images');
      if (images.length > maxInputs) {
        return maxInputs === 0
          ? unsupported('image', job, 'this BFL endpoint takes no input image')
          : invalidRequest('image', 'too_many_images', `${job.model.id} on a BFL channel takes at most ${maxInputs} input images.`);
      }
      return undefined;
    },
  };
}

/**
 * Always sent, so BFL answers what the answer reports: the client's format, else the model's
 * default. One the endpoint lacks (webp on FLUX.2) is asked as png, lossless, and converted by output/.
 */
function outputFormatRule(formats: readonly OutputFormat[]): ParamRule<OutputFormat> {
  return {
    to: 'output_format',
    default: 'png',
    transform: (_given, { job }) => {
      const format = job.outputFormat ?? job.model.capabilities.defaultOutputFormat ?? 'png';
      return formats.includes(format) ? format : 'png';
    },
  };
}

function passthroughRule(own: readonly string[]): SpreadRule<Readonly<Record<string, unknown>>> {
  return {
    spread: (passthrough) =>
      Object.entries(passthrough).flatMap(([name, value]) => (own.includes(name) && value !== null && value !== undefined ? [[name, value] as const] : [])),
    refuse: (passthrough, job) => {
      const foreign = Object.keys(passthrough).find((name) => !own.includes(name));
      return foreign === undefined ? undefined : unsupported(foreign, job, `BFL's own fields here are ${own.join(', ')}`);
    },
  };
}

function fieldsOf(endpoint: Endpoint): FieldRules {
  return {
    id: drop("the gateway's own request id"),
    operation: drop('one endpoint per model: its input images make it an edit'),
    model: drop('the endpoint path names the model (POST /v1/{model})'),
    prompt: { to: 'prompt' },
    inputs: inputsRule(endpoint.maxInputs),
    n: drop('one image per BFL task: the catalogue keeps n at 1'),
    size: sizeRule(endpoint.size),
    quality: drop('BFL has no quality: the catalogue refuses the field, the job carries only the price column'),
    responseFormat: drop("BFL answers a URL valid 10 minutes: the gateway stores the image at once and answers in the client's form"),
    outputFormat: outputFormatRule(endpoint.formats),
    outputCompression: drop('applied by output/ when it converts to jpeg or webp'),
    background: refused('background'),
    moderation: refused('moderation', 'BFL takes safety_tolerance, 0 (strict) to 6'),
    style: refused('style'),
    watermark: refused('watermark'),
    user: drop("an end-user id for OpenAI's abuse monitoring: BFL has no such field, and leaving it out changes no image"),
    metadata: refused('metadata'),
    stream: drop('BFL answers whole images: a stream waits for the task and gets each as its completed event'),
    inputFidelity: drop('GPT image edits only'),
    passthrough: passthroughRule(endpoint.own),
  };
}

function tableOf(endpoint: Endpoint): ParameterMap {
  // The model's fixed params and the channel's for the model: both in BFL's dialect.
  return { encoding: 'json', fields: fieldsOf(endpoint), overrides: ['model', 'channel'] };
}

const TABLES = new Map<ModelFamily, ParameterMap>(Object.entries(ENDPOINTS).map(([family, endpoint]) => [family as ModelFamily, tableOf(endpoint)]));

/** The body table of a model's family; undefined: not a BFL family (a bfl channel does not take it). */
export function bflTableOf(family: ModelFamily): ParameterMap | undefined {
  return TABLES.get(family);
}
