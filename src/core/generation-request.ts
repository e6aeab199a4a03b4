/**
 * Validates an OpenAI-dialect generation body (already JSON-parsed, so `unknown`) against the
 * model catalogue and turns it into an ImageJob. Every refusal is a 400/404 naming its param.
 */
import { invalidRequest, modelNotFound, type GatewayError } from './errors.js';
import type { Background, ImageJob, Moderation, OutputFormat, ResponseFormat } from './job.js';
import { DEFAULT_MODEL, FAMILY_RULES, type FamilyRules, type ModelCatalogue, type ModelSpec } from './models.js';
import { gptImage2SizeProblem, parseSize } from './sizes.js';

type Body = Record<string, unknown>;

/** Fields imagegate reads itself; anything else passes through to OpenAI-style upstreams. */
const KNOWN_FIELDS = new Set([
  'model', 'prompt', 'n', 'size', 'quality', 'response_format', 'output_format', 'output_compression',
  'background', 'moderation', 'style', 'user', 'stream', 'partial_images', 'watermark', 'metadata', 'image',
]);

const RESPONSE_FORMATS: Readonly<Record<string, ResponseFormat>> = {
  url: 'url',
  b64_json: 'b64_json',
  base64: 'b64_json', // seed 004's alias
};
const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
const BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;
const MODERATIONS = ['low', 'auto'] as const;

export function parseGenerationRequest(raw: unknown, catalogue: ModelCatalogue, id: string): ImageJob {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidRequest(null, 'invalid_request', 'The request body must be a JSON object.');
  }
  const body = raw as Body;
  const model = resolveModel(body, catalogue);
  const rules = FAMILY_RULES[model.family];
  const fields = new FieldReader(body);

  const prompt = parsePrompt(fields, rules);
  const n = parseN(fields, model, rules);
  const size = parseSizeField(fields, model, rules);
  const quality = parseQuality(fields, model, rules);
  const responseFormat = parseResponseFormat(fields);
  const gpt = parseGptOptions(fields, model, rules);
  const style = parseStyle(fields, rules);
  const watermark = fields.optional('watermark', 'boolean');
  const user = fields.optional('user', 'string');
  rejectUnsupported(fields, model);

  // fromEntries keeps a `__proto__` key as data instead of re-parenting the object.
  const passthrough = Object.fromEntries(Object.entries(body).filter(([key]) => !KNOWN_FIELDS.has(key)));

  return {
    id,
    operation: 'generate',
    model,
    prompt,
    n,
    size,
    quality,
    responseFormat,
    ...gpt,
    ...(style !== undefined ? { style } : {}),
    ...(watermark !== undefined ? { watermark } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(body.metadata != null ? { metadata: body.metadata } : {}),
    passthrough,
  };
}

function resolveModel(body: Body, catalogue: ModelCatalogue): ModelSpec {
  const name = body.model ?? DEFAULT_MODEL;
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

/** Missing, null or 0 means 1 (seeds 001 and 004). */
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

/** dall-e's `auto` means its default, standard (seed 004), so upstreams always get a concrete value. */
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
  background?: Background;
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
  const background = fields.enumValue('background', BACKGROUNDS);
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

function parseStyle(fields: FieldReader, rules: FamilyRules): unknown {
  if (!fields.has('style')) return undefined;
  if (!rules.styles) return fields.raw('style');
  return fields.enumValue('style', rules.styles);
}

/** Fields of capabilities that are not served yet: refuse clearly rather than half-serve them. */
function rejectUnsupported(fields: FieldReader, model: ModelSpec): void {
  if (fields.optional('stream', 'boolean') === true) {
    throw invalidRequest('stream', 'unsupported_parameter', `Streaming is not supported by this gateway yet (model ${model.id}).`);
  }
  if (fields.has('image')) {
    throw invalidRequest('image', 'unsupported_parameter', 'Reference images in generations are not supported by this gateway yet; use /v1/images/edits when available.');
  }
  const partial = fields.optional('partial_images', 'number');
  if (partial !== undefined && (!Number.isInteger(partial) || partial < 0 || partial > 3)) {
    throw invalidRequest('partial_images', 'invalid_value', 'partial_images must be an integer between 0 and 3.');
  }
}

type Kind = 'string' | 'number' | 'boolean';
type KindType<K extends Kind> = K extends 'string' ? string : K extends 'number' ? number : boolean;

/** Typed reads of optional fields; JSON null counts as absent (the spec marks them nullable). */
class FieldReader {
  constructor(private readonly body: Body) {}

  has(name: string): boolean {
    return this.body[name] !== undefined && this.body[name] !== null;
  }

  raw(name: string): unknown {
    return this.body[name];
  }

  optional<K extends Kind>(name: string, kind: K): KindType<K> | undefined {
    const value = this.body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== kind || (kind === 'number' && !Number.isFinite(value))) {
      throw typeError(name, kind);
    }
    return value as KindType<K>;
  }

  enumValue<T extends string>(name: string, allowed: readonly T[], context = ''): T | undefined {
    const value = this.optional(name, 'string');
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      const where = context ? ` ${context}` : '';
      throw invalidRequest(name, 'invalid_value', `Invalid ${name} '${value}'${where}. Supported: ${allowed.join(', ')}.`);
    }
    return value as T;
  }
}

function typeError(name: string, kind: Kind): GatewayError {
  return invalidRequest(name, 'invalid_type', `${name} must be a ${kind}.`);
}
