/**
 * Validates an OpenAI-dialect image request (generations, edits, variations; JSON or multipart
 * fields) against the model catalogue and turns it into an ImageJob plus the input images it
 * names. Every refusal is a 400/404 naming its param. Input bytes are checked later, in
 * src/inputs/, against the rules the job's model gives (core/image-input.ts).
 */
import { invalidRequest, modelNotFound, modelNotServed } from './errors.js';
import { FieldReader } from './field-reader.js';
import { inputRulesFor, NO_INPUTS, tooManyImages, type ImageInputRefs, type InputOperation, type ResolvedInputs } from './image-input.js';
import { refFromImageRefParam, refsFromImageRefParams, refsFromStrings } from './input-refs.js';
import {
  isRelayObject,
  type Background,
  type ImageJob,
  type InputFidelity,
  type Moderation,
  type OutputFormat,
  type RelayObject,
  type ResponseFormat,
} from './job.js';
import { DEFAULT_MODEL, DEFAULT_VARIATION_MODEL, type ModelCapabilities, type ModelCatalogue, type ModelSpec, type ServedModels } from './models.js';
import { customSizeProblem, parseSize } from './sizes.js';

type Body = Record<string, unknown>;

/** Which OpenAI endpoint the request came to. */
export type ImageEndpoint = 'generations' | 'edits' | 'variations';

export interface ImageRequestInput {
  endpoint: ImageEndpoint;
  /** The JSON body, or the multipart form's text fields. */
  body: unknown;
  /** Multipart forms: all fields are strings; `uploads` holds the files. */
  multipart?: { uploads: ImageInputRefs };
}

/** A validated job whose input images are still as the client gave them. */
export interface ParsedImageRequest {
  job: ImageJob;
  inputs: ImageInputRefs;
}

/** Fields imagegate reads itself; anything else passes through to OpenAI-style upstreams. */
const KNOWN_FIELDS = new Set([
  'model',
  'prompt',
  'n',
  'size',
  'quality',
  'response_format',
  'output_format',
  'output_compression',
  'background',
  'moderation',
  'style',
  'user',
  'stream',
  'partial_images',
  'watermark',
  'metadata',
  'image',
  'images',
  'mask',
  'input_fidelity',
]);

const RESPONSE_FORMATS: Readonly<Record<string, ResponseFormat>> = {
  url: 'url',
  b64_json: 'b64_json',
  base64: 'b64_json', // an alias relay gateways accept
};
/** Formats output_compression applies to. */
const LOSSY_FORMATS: readonly OutputFormat[] = ['jpeg', 'webp'];
const BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;
const INPUT_FIDELITIES = ['high', 'low'] as const;

/** A generations body (JSON), as most tests and the task dialects need it. */
export function parseGenerationRequest(raw: unknown, catalogue: ModelCatalogue, id: string): ParsedImageRequest {
  return parseImageRequest({ endpoint: 'generations', body: raw }, catalogue, id);
}

/** `served`: when given, a catalogue model it does not serve is refused first, as an unknown one (404 model_not_found). */
export function parseImageRequest(input: ImageRequestInput, catalogue: ModelCatalogue, id: string, served?: ServedModels): ParsedImageRequest {
  const raw = input.body;
  if (raw === undefined) throw emptyBody();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidRequest(null, 'invalid_request', 'The request body must be a JSON object.');
  }
  const body = raw as Body;
  const model = resolveModel(body, catalogue, input.endpoint);
  if (served && !served.serves(model.id)) throw modelNotServed(model.id, served.ids());
  const rules = model.capabilities;
  const fields = new FieldReader(body, input.multipart !== undefined);
  const refs = input.multipart?.uploads ?? jsonInputRefs(body, input.endpoint);
  const operation = operationOf(input.endpoint, refs);
  if (operation !== 'generate') checkInputCount(refs, model, operation, input.endpoint);

  const prompt = operation === 'variation' ? '' : parsePrompt(fields, rules);
  const n = parseN(fields, model, rules);
  const size = parseSizeField(fields, model, rules);
  const quality = operation === 'variation' ? rules.defaultQuality : parseQuality(fields, model, rules);
  const responseFormat = parseResponseFormat(fields);
  const gpt = parseGptOptions(fields, model, rules);
  const inputFidelity = operation === 'edit' ? parseInputFidelity(fields, model, rules) : undefined;
  const style = parseStyle(fields, model, rules);
  const watermark = fields.optional('watermark', 'boolean');
  const user = fields.optional('user', 'string');
  const stream = parseStream(fields, rules);
  // The gateway's content check in every dialect (safety-policy.ts); it stays a passthrough field, as relays take it too.
  const nsfwChecker = fields.optional('nsfw_checker', 'boolean');

  // fromEntries keeps a `__proto__` key as data instead of re-parenting the object.
  const passthrough = Object.fromEntries(Object.entries(body).filter(([key]) => !KNOWN_FIELDS.has(key)));
  // A form's "true" is read as the boolean it means.
  if (nsfwChecker !== undefined) passthrough.nsfw_checker = nsfwChecker;
  for (const [key, value] of Object.entries(passthrough)) checkPassthroughSize(key, value);

  const job: ImageJob = {
    id,
    operation,
    model,
    prompt,
    n,
    size,
    quality,
    responseFormat,
    inputs: NO_INPUTS,
    ...gpt,
    ...(inputFidelity !== undefined ? { inputFidelity } : {}),
    ...(style !== undefined ? { style } : {}),
    ...(watermark !== undefined ? { watermark } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(stream ? { stream } : {}),
    ...(body.metadata != null ? { metadata: body.metadata } : {}),
    passthrough,
  };
  return { job, inputs: refs };
}

/** Most bytes one field we do not read ourselves may take: it is held and sent upstream as is. */
export const MAX_PASSTHROUGH_FIELD_BYTES = 1024 * 1024;

/** Refuses an unknown field bigger than the cap, measured without serializing it. */
function checkPassthroughSize(key: string, value: unknown): void {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && size <= MAX_PASSTHROUGH_FIELD_BYTES) {
    const item = stack.pop();
    if (typeof item === 'string') size += item.length + 2;
    else if (typeof item !== 'object' || item === null) size += 8;
    else
      for (const [k, v] of Object.entries(item)) {
        size += k.length + 4;
        stack.push(v);
      }
  }
  if (size > MAX_PASSTHROUGH_FIELD_BYTES) {
    throw invalidRequest(
      key,
      'field_too_large',
      `The field '${key}' is larger than ${MAX_PASSTHROUGH_FIELD_BYTES / 1024} KB; fields the gateway does not read are passed on only up to that size.`,
    );
  }
}

/** A request that should carry a JSON object and carries nothing. */
export function emptyBody() {
  return invalidRequest(null, 'invalid_json', 'The request body is empty; send a JSON object.');
}

/** The job with its checked input images in place. */
export function withInputs(job: ImageJob, inputs: ResolvedInputs): ImageJob {
  return { ...job, inputs };
}

/** Reference images turn a generation into an edit (the relays' image-to-image `image` array). */
function operationOf(endpoint: ImageEndpoint, refs: ImageInputRefs): ImageJob['operation'] {
  if (endpoint === 'variations') return 'variation';
  if (endpoint === 'edits' || refs.images.length > 0) return 'edit';
  return 'generate';
}

function jsonInputRefs(body: Body, endpoint: ImageEndpoint): ImageInputRefs {
  const has = (key: string) => body[key] !== undefined && body[key] !== null;
  if (endpoint === 'generations') {
    if (has('mask')) throw invalidRequest('mask', 'unsupported_parameter', 'A mask needs /v1/images/edits (generations take reference images only, no mask).');
    return has('image') ? { images: refsFromStrings(body.image, 'image') } : { images: [] };
  }
  if (has('images') && has('image')) throw invalidRequest('image', 'invalid_value', 'Send images (OpenAI JSON edits) or image, not both.');
  const images = has('images') ? refsFromImageRefParams(body.images, 'images') : has('image') ? refsFromStrings(body.image, 'image') : [];
  return has('mask') ? { images, mask: refFromImageRefParam(body.mask, 'mask') } : { images };
}

function checkInputCount(refs: ImageInputRefs, model: ModelSpec, operation: InputOperation, endpoint: ImageEndpoint): void {
  const rules = inputRulesFor(model, operation);
  if (!rules) {
    const what = operation === 'variation' ? `variations (${DEFAULT_VARIATION_MODEL} makes them)` : 'image inputs';
    throw invalidRequest(endpoint === 'generations' ? 'image' : 'model', 'invalid_value', `${model.id} does not support ${what}.`);
  }
  if (refs.images.length === 0) throw invalidRequest('image', 'missing_required_parameter', "Missing required parameter: 'image'.");
  if (refs.images.length > rules.maxImages) throw tooManyImages('image', refs.images.length, rules);
  if (refs.mask && operation !== 'edit') throw invalidRequest('mask', 'unsupported_parameter', 'mask is only used by edits.');
}

/** Variations default to OpenAI's default there (DEFAULT_VARIATION_MODEL); elsewhere the relays' gpt-image-2. */
function resolveModel(body: Body, catalogue: ModelCatalogue, endpoint: ImageEndpoint): ModelSpec {
  const name = body.model ?? (endpoint === 'variations' ? DEFAULT_VARIATION_MODEL : DEFAULT_MODEL);
  if (typeof name !== 'string') throw invalidRequest('model', 'invalid_type', 'model must be a string.');
  const model = catalogue.get(name.trim());
  if (!model) throw modelNotFound(name);
  return model;
}

function parsePrompt(fields: FieldReader, rules: ModelCapabilities): string {
  const prompt = fields.optional('prompt', 'string');
  if (prompt === undefined) throw invalidRequest('prompt', 'missing_required_parameter', "Missing required parameter: 'prompt'.");
  if (prompt.trim().length === 0) throw invalidRequest('prompt', 'invalid_value', 'prompt must not be empty.');
  if (prompt.length > rules.maxPromptChars) {
    throw invalidRequest(
      'prompt',
      'string_above_max_length',
      `prompt is ${prompt.length} characters long; the maximum for this model is ${rules.maxPromptChars}.`,
    );
  }
  return prompt;
}

/** Missing, null or 0 means 1, as relay gateways document it. */
function parseN(fields: FieldReader, model: ModelSpec, rules: ModelCapabilities): number {
  const n = fields.optional('n', 'number');
  if (n === undefined || n === 0) return 1;
  if (!Number.isInteger(n)) throw invalidRequest('n', 'invalid_type', 'n must be an integer.');
  if (n < 1 || n > rules.maxN) {
    const range = rules.maxN === 1 ? `${model.id} only supports n=1` : `n must be between 1 and ${rules.maxN}`;
    throw invalidRequest('n', 'invalid_value', `Invalid n ${n}: ${range}.`);
  }
  return n;
}

function parseSizeField(fields: FieldReader, model: ModelSpec, rules: ModelCapabilities): string {
  const requested = fields.optional('size', 'string')?.trim().toLowerCase();
  const fallback = model.defaults.size ?? rules.defaultSize;
  if (requested === undefined) return fallback;
  // A name with its own size list (gpt-image-2-4k...) treats auto as its default size.
  if (model.sizes) {
    if (requested === 'auto') return fallback;
    if (model.sizes.includes(requested)) return requested;
    throw invalidRequest('size', 'invalid_value', `Invalid size '${requested}' for ${model.id}. Supported: ${model.sizes.join(', ')}.`);
  }
  if (rules.sizes.includes(requested)) return requested;
  if (rules.customSizes) {
    const dims = parseSize(requested);
    if (!dims) throw invalidRequest('size', 'invalid_value', `Invalid size '${requested}': expected auto or WIDTHxHEIGHT.`);
    const problem = rules.customSizeLimits ? customSizeProblem(dims, rules.customSizeLimits) : null;
    if (problem) throw invalidRequest('size', 'invalid_value', `Invalid size '${requested}' for ${model.id}: ${problem}.`);
    return `${dims.width}x${dims.height}`;
  }
  throw invalidRequest('size', 'invalid_value', `Invalid size '${requested}' for ${model.id}. Supported: ${rules.sizes.join(', ')}.`);
}

/**
 * Where `auto` means the default (dall-e: standard, as relay gateways fill it in), upstreams always
 * get a concrete value. A model with no qualities (Recraft's) refuses the field; its job carries
 * the default, the column its prices are under.
 */
function parseQuality(fields: FieldReader, model: ModelSpec, rules: ModelCapabilities): string {
  if (rules.qualities.length === 0) {
    if (fields.has('quality')) throw invalidRequest('quality', 'unsupported_parameter', `quality is not supported for ${model.id} (it has no quality levels).`);
    return model.defaults.quality ?? rules.defaultQuality;
  }
  const quality = fields.enumValue('quality', rules.qualities, `for ${model.id}`) ?? model.defaults.quality ?? rules.defaultQuality;
  return quality === 'auto' && rules.autoQualityIsDefault ? rules.defaultQuality : quality;
}

function parseResponseFormat(fields: FieldReader): ResponseFormat {
  const value = fields.optional('response_format', 'string');
  if (value === undefined) return 'url';
  const format = Object.hasOwn(RESPONSE_FORMATS, value) ? RESPONSE_FORMATS[value] : undefined;
  if (!format) throw invalidRequest('response_format', 'invalid_value', `Invalid response_format '${value}'. Supported: url, b64_json, base64.`);
  return format;
}

interface GptOptions {
  outputFormat?: OutputFormat;
  outputCompression?: number;
  background?: Background | RelayObject;
  moderation?: Moderation;
}

/** The output options, in the order they are checked, and whether a model takes each (its capabilities). */
const OUTPUT_OPTIONS: readonly (readonly [param: string, taken: (rules: ModelCapabilities) => boolean])[] = [
  ['output_format', (rules) => rules.outputFormats.length > 0],
  ['output_compression', (rules) => rules.outputCompression],
  ['background', (rules) => rules.backgrounds.length > 0],
  ['moderation', (rules) => rules.moderations.length > 0],
  ['stream', (rules) => rules.streaming !== null],
  ['partial_images', (rules) => rules.streaming !== null],
];

function parseGptOptions(fields: FieldReader, model: ModelSpec, rules: ModelCapabilities): GptOptions {
  for (const [param, taken] of OUTPUT_OPTIONS) {
    if (fields.has(param) && !taken(rules)) {
      throw invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${model.id} (the GPT image models take it).`);
    }
  }
  const outputFormat = fields.enumValue('output_format', rules.outputFormats);
  // An object is the relays' form: kept as given, for relay channels only (routing checks).
  const rawBackground = fields.raw('background');
  const background = isRelayObject(rawBackground) ? rawBackground : fields.enumValue('background', BACKGROUNDS);
  const moderation = fields.enumValue('moderation', rules.moderations);
  const outputCompression = fields.optional('output_compression', 'number');
  if (outputCompression !== undefined) {
    if (!Number.isInteger(outputCompression) || outputCompression < 0 || outputCompression > 100) {
      throw invalidRequest('output_compression', 'invalid_value', 'output_compression must be an integer between 0 and 100.');
    }
    const format = outputFormat ?? rules.defaultOutputFormat;
    if (format === undefined || !LOSSY_FORMATS.includes(format)) {
      throw invalidRequest('output_compression', 'invalid_value', 'output_compression is only supported with output_format jpeg or webp.');
    }
  }
  if (typeof background === 'string' && !rules.backgrounds.includes(background)) {
    throw invalidRequest('background', 'invalid_value', `${model.id} does not support ${background} backgrounds (it takes ${rules.backgrounds.join(', ')}).`);
  }
  if (background === 'transparent') {
    if (outputFormat === 'jpeg') {
      throw invalidRequest('output_format', 'invalid_value', 'A transparent background needs output_format png or webp.');
    }
  }
  return {
    ...(outputFormat ? { outputFormat } : {}),
    ...(outputCompression !== undefined ? { outputCompression } : {}),
    ...(background ? { background } : {}),
    ...(moderation ? { moderation } : {}),
  };
}

function parseInputFidelity(fields: FieldReader, model: ModelSpec, rules: ModelCapabilities): InputFidelity | undefined {
  if (!rules.inputFidelity && fields.has('input_fidelity')) {
    throw invalidRequest('input_fidelity', 'unsupported_parameter', `input_fidelity is not supported for ${model.id} (the GPT image models take it).`);
  }
  return fields.enumValue('input_fidelity', INPUT_FIDELITIES);
}

function parseStyle(fields: FieldReader, model: ModelSpec, rules: ModelCapabilities): unknown {
  if (!fields.has('style')) return undefined;
  if (rules.styles?.length === 0) throw invalidRequest('style', 'unsupported_parameter', `style is not supported for ${model.id}.`);
  // An object is the relays' form (also on dall-e-3): kept as given, for relay channels only.
  if (!rules.styles || isRelayObject(fields.raw('style'))) return fields.raw('style');
  return fields.enumValue('style', rules.styles);
}

/**
 * `stream` with `partial_images` 0 to the model's most (models that do not stream were refused
 * with the other output options). OpenAI allows 0 partial images (just the completed events); some relays ask for >= 1,
 * but accepting 0 serves both.
 */
function parseStream(fields: FieldReader, rules: ModelCapabilities): ImageJob['stream'] {
  const partial = fields.optional('partial_images', 'number');
  const most = rules.streaming?.maxPartialImages ?? 0;
  if (partial !== undefined && (!Number.isInteger(partial) || partial < 0 || partial > most)) {
    throw invalidRequest('partial_images', 'invalid_value', `partial_images must be an integer between 0 and ${most}.`);
  }
  if (fields.optional('stream', 'boolean') !== true) return undefined;
  return { partialImages: partial ?? 0 };
}
