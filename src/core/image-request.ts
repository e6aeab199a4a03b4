/**
 * Validates an OpenAI-dialect image request (generations, edits, variations; JSON or multipart
 * fields) against the model catalogue and turns it into an ImageJob plus the input images it
 * names. Every refusal is a 400/404 naming its param. Input bytes are checked later, in
 * src/inputs/, against the rules the job's model gives (core/image-input.ts).
 */
import { invalidRequest, modelNotFound } from './errors.js';
import { FieldReader } from './field-reader.js';
import { inputRulesFor, NO_INPUTS, tooManyImages, type ImageInputRefs, type InputOperation, type ResolvedInputs } from './image-input.js';
import { refFromImageRefParam, refsFromImageRefParams, refsFromStrings } from './input-refs.js';
import { isRelayObject, type Background, type ImageJob, type InputFidelity, type Moderation, type OutputFormat, type RelayObject, type ResponseFormat } from './job.js';
import { DEFAULT_MODEL, FAMILY_RULES, type FamilyRules, type ModelCatalogue, type ModelSpec } from './models.js';
import { gptImage2SizeProblem, parseSize } from './sizes.js';

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
  'model', 'prompt', 'n', 'size', 'quality', 'response_format', 'output_format', 'output_compression',
  'background', 'moderation', 'style', 'user', 'stream', 'partial_images', 'watermark', 'metadata', 'image',
  'images', 'mask', 'input_fidelity',
]);

const RESPONSE_FORMATS: Readonly<Record<string, ResponseFormat>> = {
  url: 'url',
  b64_json: 'b64_json',
  base64: 'b64_json', // an alias relay gateways accept
};
const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
const BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;
const MODERATIONS = ['low', 'auto'] as const;
const INPUT_FIDELITIES = ['high', 'low'] as const;

/** A generations body (JSON), as most tests and the task dialects need it. */
export function parseGenerationRequest(raw: unknown, catalogue: ModelCatalogue, id: string): ParsedImageRequest {
  return parseImageRequest({ endpoint: 'generations', body: raw }, catalogue, id);
}

export function parseImageRequest(input: ImageRequestInput, catalogue: ModelCatalogue, id: string): ParsedImageRequest {
  const raw = input.body;
  if (raw === undefined) throw emptyBody();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidRequest(null, 'invalid_request', 'The request body must be a JSON object.');
  }
  const body = raw as Body;
  const model = resolveModel(body, catalogue, input.endpoint);
  const rules = FAMILY_RULES[model.family];
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
  const style = parseStyle(fields, rules);
  const watermark = fields.optional('watermark', 'boolean');
  const user = fields.optional('user', 'string');
  const stream = parseStream(fields);

  // fromEntries keeps a `__proto__` key as data instead of re-parenting the object.
  const passthrough = Object.fromEntries(Object.entries(body).filter(([key]) => !KNOWN_FIELDS.has(key)));
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
    throw invalidRequest(key, 'field_too_large', `The field '${key}' is larger than ${MAX_PASSTHROUGH_FIELD_BYTES / 1024} KB; fields the gateway does not read are passed on only up to that size.`);
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
  const rules = inputRulesFor(model.family, operation);
  if (!rules) {
    const what = operation === 'variation' ? 'variations (only dall-e-2 makes them)' : 'image inputs';
    throw invalidRequest(endpoint === 'generations' ? 'image' : 'model', 'invalid_value', `${model.id} does not support ${what}.`);
  }
  if (refs.images.length === 0) throw invalidRequest('image', 'missing_required_parameter', "Missing required parameter: 'image'.");
  if (refs.images.length > rules.maxImages) throw tooManyImages('image', refs.images.length, rules);
  if (refs.mask && operation !== 'edit') throw invalidRequest('mask', 'unsupported_parameter', 'mask is only used by edits.');
}

/** Variations exist only for dall-e-2, OpenAI's default there; elsewhere the relays' gpt-image-2. */
function resolveModel(body: Body, catalogue: ModelCatalogue, endpoint: ImageEndpoint): ModelSpec {
  const name = body.model ?? (endpoint === 'variations' ? 'dall-e-2' : DEFAULT_MODEL);
  if (typeof name !== 'string') throw invalidRequest('model', 'invalid_type', 'model must be a string.');
  const model = catalogue.get(name.trim());
  if (!model) throw modelNotFound(name);
  return model;
}

function parsePrompt(fields: FieldReader, rules: FamilyRules): string {
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
function parseN(fields: FieldReader, model: ModelSpec, rules: FamilyRules): number {
  const n = fields.optional('n', 'number');
  if (n === undefined || n === 0) return 1;
  if (!Number.isInteger(n)) throw invalidRequest('n', 'invalid_type', 'n must be an integer.');
  if (n < 1 || n > rules.maxN) {
    const range = rules.maxN === 1 ? `${model.id} only supports n=1` : `n must be between 1 and ${rules.maxN}`;
    throw invalidRequest('n', 'invalid_value', `Invalid n ${n}: ${range}.`);
  }
  return n;
}

function parseSizeField(fields: FieldReader, model: ModelSpec, rules: FamilyRules): string {
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
    const problem = gptImage2SizeProblem(dims);
    if (problem) throw invalidRequest('size', 'invalid_value', `Invalid size '${requested}' for ${model.id}: ${problem}.`);
    return `${dims.width}x${dims.height}`;
  }
  throw invalidRequest('size', 'invalid_value', `Invalid size '${requested}' for ${model.id}. Supported: ${rules.sizes.join(', ')}.`);
}

/** dall-e's `auto` means its default, standard (as relay gateways fill it in), so upstreams always get a concrete value. */
function parseQuality(fields: FieldReader, model: ModelSpec, rules: FamilyRules): string {
  const quality = fields.enumValue('quality', rules.qualities, `for ${model.id}`) ?? model.defaults.quality ?? rules.defaultQuality;
  return quality === 'auto' && !rules.gptOptions ? rules.defaultQuality : quality;
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

function parseGptOptions(fields: FieldReader, model: ModelSpec, rules: FamilyRules): GptOptions {
  const gptOnly = ['output_format', 'output_compression', 'background', 'moderation', 'stream', 'partial_images'];
  if (!rules.gptOptions) {
    for (const param of gptOnly) {
      if (fields.has(param)) {
        throw invalidRequest(param, 'unsupported_parameter', `${param} is only supported for the GPT image models, not ${model.id}.`);
      }
    }
    return {};
  }
  const outputFormat = fields.enumValue('output_format', OUTPUT_FORMATS);
  // An object is the relays' form: kept as given, for relay channels only (routing checks).
  const rawBackground = fields.raw('background');
  const background = isRelayObject(rawBackground) ? rawBackground : fields.enumValue('background', BACKGROUNDS);
  const moderation = fields.enumValue('moderation', MODERATIONS);
  const outputCompression = fields.optional('output_compression', 'number');
  if (outputCompression !== undefined) {
    if (!Number.isInteger(outputCompression) || outputCompression < 0 || outputCompression > 100) {
      throw invalidRequest('output_compression', 'invalid_value', 'output_compression must be an integer between 0 and 100.');
    }
    if ((outputFormat ?? 'png') === 'png') {
      throw invalidRequest('output_compression', 'invalid_value', 'output_compression is only supported with output_format jpeg or webp.');
    }
  }
  if (background === 'transparent') {
    if (!rules.transparentBackground) {
      throw invalidRequest('background', 'invalid_value', `${model.id} does not support transparent backgrounds; use gpt-image-1.5.`);
    }
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

function parseInputFidelity(fields: FieldReader, model: ModelSpec, rules: FamilyRules): InputFidelity | undefined {
  if (!rules.gptOptions && fields.has('input_fidelity')) {
    throw invalidRequest('input_fidelity', 'unsupported_parameter', `input_fidelity is only supported for the GPT image models, not ${model.id}.`);
  }
  return fields.enumValue('input_fidelity', INPUT_FIDELITIES);
}

function parseStyle(fields: FieldReader, rules: FamilyRules): unknown {
  if (!fields.has('style')) return undefined;
  // An object is the relays' form (also on dall-e-3): kept as given, for relay channels only.
  if (!rules.styles || isRelayObject(fields.raw('style'))) return fields.raw('style');
  return fields.enumValue('style', rules.styles);
}

/**
 * `stream` with `partial_images` 0-3 (GPT image models: dall-e was refused with the other GPT
 * options). OpenAI allows 0 partial images (just the completed events); some relays ask for >= 1,
 * but accepting 0 serves both.
 */
function parseStream(fields: FieldReader): ImageJob['stream'] {
  const partial = fields.optional('partial_images', 'number');
  if (partial !== undefined && (!Number.isInteger(partial) || partial < 0 || partial > 3)) {
    throw invalidRequest('partial_images', 'invalid_value', 'partial_images must be an integer between 0 and 3.');
  }
  if (fields.optional('stream', 'boolean') !== true) return undefined;
  return { partialImages: partial ?? 0 };
}
