// Request validation shared by the OpenAI simulator's generations, edits and variations:
// OpenAI's error envelope and wording, typed parameter readers, and the output/size/quality
// resolution every image answer goes through. The models come from models.ts (the gateway's
// catalogue).
import type { CustomSizeLimits } from '../../src/core/sizes.js';
import type { ImageFormat } from '../render.js';
import { ALL_QUALITIES, type Family, type ModelSpec } from './models.js';

export type { Family, ModelSpec } from './models.js';

// ---------------------------------------------------------------------------
// Answer forms
export type AnswerForm = 'url' | 'b64_json' | 'data_uri';
export type Background = 'opaque' | 'transparent';

// ---------------------------------------------------------------------------
// Errors in OpenAI's envelope

export class SimApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function invalidRequest(message: string, param: string | null, code: string | null): SimApiError {
  return new SimApiError(400, message, 'invalid_request_error', param, code);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

export function typeError(key: string, expected: string, value: unknown): SimApiError {
  return invalidRequest(`Invalid type for '${key}': expected ${expected}, but got ${describeType(value)} instead.`, key, 'invalid_type');
}

export function quotedList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')}, and ${quoted[quoted.length - 1] ?? ''}`;
}

export function invalidValue(key: string, value: string, allowed: readonly string[]): SimApiError {
  return invalidRequest(`Invalid value: '${value}'. Supported values are: ${quotedList(allowed)}.`, key, 'invalid_value');
}

// ---------------------------------------------------------------------------
// Small helpers

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------
// Request parameter readers (OpenAI-style validation messages)

export function readString(body: JsonObject, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw typeError(key, 'a string', value);
  return value;
}

export function readEnum<T extends string>(body: JsonObject, key: string, allowed: readonly T[]): T | undefined {
  const value = readString(body, key);
  if (value === undefined) return undefined;
  if (!isOneOf(value, allowed)) throw invalidValue(key, value, allowed);
  return value;
}

export function readInteger(body: JsonObject, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(key, 'an integer', value);
  if (value < min) {
    throw invalidRequest(
      `Invalid '${key}': integer below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      key,
      'integer_below_min_value',
    );
  }
  if (value > max) {
    throw invalidRequest(
      `Invalid '${key}': integer above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      key,
      'integer_above_max_value',
    );
  }
  return value;
}

export function readBoolean(body: JsonObject, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw typeError(key, 'a boolean', value);
  return value;
}

// ---------------------------------------------------------------------------
// The generation plan

export interface GenerationPlan {
  model: string;
  family: Family;
  prompt: string;
  n: number;
  width: number;
  height: number;
  /** Resolved: low/medium/high for GPT models, standard/hd for DALL·E. */
  quality: string;
  format: ImageFormat;
  compression: number;
  background: Background;
  answer: AnswerForm;
  /** Edits: what the input images cost, reported in usage.input_tokens_details.image_tokens. */
  inputImageTokens?: number;
  /** Set when the answer is to be streamed as server-sent events (stream=true). */
  stream?: StreamPlan;
}

/** A streamed answer (stream=true, GPT image models): `partialImages` previews before each image. */
export interface StreamPlan {
  /** 0..3 (spec PartialImages); 0 sends each image in a single completed event. */
  partialImages: number;
}

/** How a relay (a third-party reseller in front of OpenAI) bends every answer. */
export interface RelayOption {
  answer: AnswerForm;
  maxImages?: number;
  /** ignores output_format: always PNG, as many relays do */
  alwaysPng?: boolean;
  /** ignores size: always answers this size (e.g. 1024x1024), as some relays do */
  fixedSize?: { width: number; height: number };
  /** ignores stream=true: answers the plain JSON body, as most relays do (they do not stream) */
  noStream?: boolean;
}

/** Rejects keys outside `known`, and response_format for GPT models (they only answer b64_json). */
export function rejectUnknownParams(body: JsonObject, known: ReadonlySet<string>, family: Family): void {
  for (const key of Object.keys(body)) {
    const unknown = !known.has(key) || (family === 'gpt' && key === 'response_format' && body[key] !== null);
    if (unknown) throw invalidRequest(`Unknown parameter: '${key}'.`, key, 'unknown_parameter');
  }
}

export function readPrompt(body: JsonObject, spec: ModelSpec): string {
  if (body.prompt === undefined || body.prompt === null) {
    throw invalidRequest("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  }
  const prompt = readString(body, 'prompt') ?? '';
  if (prompt.length === 0) {
    throw invalidRequest("Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.", 'prompt', 'empty_string');
  }
  if (prompt.length > spec.maxPromptChars) {
    throw invalidRequest(
      `Invalid 'prompt': string too long. Expected a string with maximum length ${spec.maxPromptChars}, but got a string with length ${prompt.length} instead.`,
      'prompt',
      'string_above_max_length',
    );
  }
  return prompt;
}

export function readCount(body: JsonObject, family: Family): number {
  const n = readInteger(body, 'n', 1, 10) ?? 1;
  if (family === 'dall-e-3' && n !== 1) throw invalidRequest('You must provide n=1 for this model.', 'n', 'invalid_value');
  return n;
}

export function resolveSize(body: JsonObject, spec: ModelSpec): { width: number; height: number } {
  const size = readString(body, 'size') ?? 'auto';
  if (size === 'auto') return { width: 1024, height: 1024 };
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  const width = Number(match?.[1] ?? 0);
  const height = Number(match?.[2] ?? 0);
  if (width < 1 || height < 1) {
    throw invalidRequest(`Invalid value: '${size}'. Size must be 'auto' or 'WIDTHxHEIGHT' with positive integers, e.g. '1024x1024'.`, 'size', 'invalid_value');
  }
  if ('custom' in spec.sizes) checkCustomSize(size, width, height, spec.sizes.custom);
  else if (!spec.sizes.includes(`${width}x${height}`)) {
    throw invalidValue('size', size, spec.family === 'gpt' ? [...spec.sizes, 'auto'] : spec.sizes);
  }
  return { width, height };
}

/**
 * Custom sizes (gpt-image-2) within the catalogue's limits: edges a multiple of 16, ratio within
 * 3:1, the long edge and the pixel count at most 4K's. No pixel floor: tests ask for small images,
 * which are quick to render.
 */
export function checkCustomSize(size: string, width: number, height: number, limits: CustomSizeLimits): void {
  const fail = (why: string): SimApiError => invalidRequest(`Invalid size '${size}'. ${why}`, 'size', 'invalid_value');
  const { edgeMultiple, maxAspect, maxEdge, maxPixels } = limits;
  if (width % edgeMultiple !== 0 || height % edgeMultiple !== 0) throw fail(`Width and height must both be divisible by ${edgeMultiple}.`);
  if (Math.max(width, height) > maxAspect * Math.min(width, height)) throw fail(`The aspect ratio must be between 1:${maxAspect} and ${maxAspect}:1.`);
  if (Math.max(width, height) > maxEdge) throw fail(`The maximum edge length is ${maxEdge} pixels.`);
  if (width * height > maxPixels) throw fail(`The maximum supported resolution is ${maxPixels.toLocaleString('en-US')} pixels.`);
}

export function resolveQuality(body: JsonObject, spec: ModelSpec): string {
  const quality = readEnum(body, 'quality', ALL_QUALITIES) ?? 'auto';
  if (!spec.qualities.includes(quality)) throw invalidValue('quality', quality, spec.qualities);
  if (quality !== 'auto') return quality;
  return spec.family === 'gpt' ? 'medium' : 'standard';
}

export interface GptOutput {
  format: ImageFormat;
  compression: number;
  background: Background;
}

/**
 * `relay`: a relay gateway takes `background` as an object too (its documents say it goes to its
 * own upstreams as given) and renders it as `auto`; OpenAI refuses anything but the enum.
 */
export function resolveGptOutput(body: JsonObject, relay?: RelayOption): GptOutput {
  const format = readEnum(body, 'output_format', ['png', 'jpeg', 'webp'] as const) ?? 'png';
  const compression = readInteger(body, 'output_compression', 0, 100) ?? 100;
  const relayObject = relay !== undefined && isRelayObject(body.background);
  const background = relayObject ? 'auto' : (readEnum(body, 'background', ['transparent', 'opaque', 'auto'] as const) ?? 'auto');
  readEnum(body, 'moderation', ['low', 'auto'] as const);
  readInteger(body, 'partial_images', 0, 3);
  if (background === 'transparent' && format === 'jpeg') {
    throw invalidRequest("Transparent background is not supported with output_format 'jpeg'. Use 'png' or 'webp'.", 'background', 'invalid_value');
  }
  return { format, compression, background: background === 'transparent' ? 'transparent' : 'opaque' };
}

/** A field given as an object (multipart: its JSON text), as relay gateways take `background` and `style`. */
export function isRelayObject(value: unknown): boolean {
  if (typeof value === 'string' && value.trimStart().startsWith('{')) return true;
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * stream / partial_images: streaming is for the GPT image models only (spec: "This parameter is
 * only supported for the GPT image models"); partial_images without stream is read (and
 * checked) but changes nothing, as the spec ties it to streaming.
 */
export function readStream(body: JsonObject, family: Family, relay: RelayOption | undefined): StreamPlan | undefined {
  // A relay that does not stream ignores the parameter altogether (and answers plain JSON).
  if (relay?.noStream === true) return undefined;
  if (readBoolean(body, 'stream') !== true) return undefined;
  if (family !== 'gpt') {
    throw invalidRequest('Streaming is only supported for the GPT image models.', 'stream', 'unsupported_value');
  }
  return { partialImages: readInteger(body, 'partial_images', 0, 3) ?? 0 };
}

export function readDalleResponseFormat(body: JsonObject, relay: RelayOption | undefined): AnswerForm {
  if (relay !== undefined) return 'url'; // ignored by relays anyway
  return readEnum(body, 'response_format', ['url', 'b64_json'] as const) ?? 'url';
}

/**
 * What a relay changes in a plan: the answer form, the image cap, (alwaysPng) the format and
 * (fixedSize) the size. (noStream is applied by readStream.) A streaming relay still streams
 * b64_json events: the answer form only shapes JSON bodies.
 */
export function withRelay<P extends GenerationPlan>(plan: P, relay: RelayOption | undefined): P {
  if (relay === undefined) return plan;
  const format: ImageFormat = relay.alwaysPng === true ? 'png' : plan.format;
  const n = relay.maxImages !== undefined ? Math.max(1, Math.min(plan.n, relay.maxImages)) : plan.n;
  return { ...plan, ...relay.fixedSize, format, n, answer: relay.answer };
}
