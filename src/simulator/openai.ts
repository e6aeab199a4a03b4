// A faithful, in-memory simulator of the OpenAI Images API (generations), used by
// tests, the demo channel and benchmarks. The core (`handle`) is transport-free;
// `startOpenAISimulator` puts it behind a node:http server.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { startSimulatorServer, type SimRequest, type SimResponse } from './http-server.js';
import { renderImage, type ImageFormat } from './render.js';

// ---------------------------------------------------------------------------
// Public types

export type SimFault =
  | {
      kind: 'status';
      status: number;
      retryAfterSeconds?: number;
      message?: string;
      type?: string;
      code?: string | null;
      param?: string | null;
    }
  | { kind: 'hang' }
  | { kind: 'malformed' }
  | { kind: 'truncated' }
  | { kind: 'delay'; ms: number };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  /** Parsed JSON body; undefined when the body is empty or not valid JSON. */
  json: unknown;
}

export interface OpenAISimulatorOptions {
  /** When set, require `Authorization: Bearer <apiKey>`, else 401 invalid_api_key. */
  apiKey?: string;
  /** Added before every answer (default 0). */
  latencyMs?: number;
  /** Behave like a third-party relay: always answer in this form, at most maxImages images. */
  relay?: { answer: 'url' | 'b64_json' | 'data_uri'; maxImages?: number; /** ignores output_format: always PNG, as many relays do */ alwaysPng?: boolean };
  /** Benchmark fast path: answer every generation with this image instead of rendering. */
  fixedImage?: Buffer;
  /** Base for url answers; startOpenAISimulator sets it to its own origin. */
  publicBaseUrl?: string;
}

export interface RunningSimulator {
  sim: OpenAIImagesSimulator;
  port: number;
  /** http://127.0.0.1:port */
  origin: string;
  /** origin + '/v1' */
  baseURL: string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Constants

type Family = 'gpt' | 'dall-e-2' | 'dall-e-3';
type AnswerForm = 'url' | 'b64_json' | 'data_uri';
type Background = 'opaque' | 'transparent';

const MODEL_CATALOGUE: readonly { id: string; created: number }[] = [
  { id: 'gpt-image-2', created: 1776729600 },
  { id: 'gpt-image-2-2026-04-21', created: 1776729600 },
  { id: 'gpt-image-1.5', created: 1765152000 },
  { id: 'gpt-image-1', created: 1745366400 },
  { id: 'gpt-image-1-mini', created: 1759708800 },
  { id: 'chatgpt-image-latest', created: 1765152000 },
  { id: 'dall-e-3', created: 1698785189 },
  { id: 'dall-e-2', created: 1698798177 },
];

const KNOWN_PARAMS = new Set([
  'prompt', 'model', 'n', 'quality', 'response_format', 'output_format', 'output_compression',
  'stream', 'partial_images', 'size', 'moderation', 'background', 'style', 'user',
]);
/** Parameters that make a model-less request default to a GPT image model (per the spec). */
const GPT_ONLY_PARAMS = ['output_format', 'output_compression', 'background', 'moderation', 'partial_images'];
const ALL_QUALITIES = ['standard', 'hd', 'low', 'medium', 'high', 'auto'] as const;
const GPT_QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
const GPT_STANDARD_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;
/** Published output-token counts for a 1024x1024 image; other sizes scale by pixel count. */
const OUTPUT_TOKENS_1024: Record<string, number> = { low: 272, medium: 1056, high: 4160 };
const MIME: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
const EXT: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

const MAX_HOSTED_FILES = 200;
const MAX_RECORDED_REQUESTS = 10_000;
const FIXED_CACHE_MAX_BYTES = 256 * 1024 * 1024;
/** Cached fixed-image bodies embed `created`; rebuild them once it is this stale. */
const FIXED_CACHE_MAX_AGE_S = 60;
const DEFAULT_PUBLIC_BASE = 'http://openai-simulator.invalid';

// ---------------------------------------------------------------------------
// Errors in OpenAI's envelope

class SimApiError extends Error {
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

function invalidRequest(message: string, param: string | null, code: string | null): SimApiError {
  return new SimApiError(400, message, 'invalid_request_error', param, code);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function typeError(key: string, expected: string, value: unknown): SimApiError {
  return invalidRequest(
    `Invalid type for '${key}': expected ${expected}, but got ${describeType(value)} instead.`,
    key,
    'invalid_type',
  );
}

function quotedList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')}, and ${quoted[quoted.length - 1] ?? ''}`;
}

function invalidValue(key: string, value: string, allowed: readonly string[]): SimApiError {
  return invalidRequest(
    `Invalid value: '${value}'. Supported values are: ${quotedList(allowed)}.`,
    key,
    'invalid_value',
  );
}

/** Defaults that mirror what OpenAI sends for common upstream failures. */
function statusFaultError(fault: Extract<SimFault, { kind: 'status' }>): SimApiError {
  const status = fault.status;
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
  const defaults = statusDefaults(status, fault.retryAfterSeconds);
  return new SimApiError(
    status,
    fault.message ?? defaults.message,
    fault.type ?? defaults.type,
    fault.param ?? null,
    fault.code !== undefined ? fault.code : defaults.code,
    headers,
  );
}

function statusDefaults(status: number, retryAfter: number | undefined): { message: string; type: string; code: string | null } {
  if (status === 429) {
    const wait = retryAfter !== undefined ? ` Please try again in ${retryAfter}s.` : '';
    return {
      message: `Rate limit reached for images in organization org-simulator on requests per min (RPM): Limit 5, Used 5, Requested 1.${wait}`,
      type: 'requests',
      code: 'rate_limit_exceeded',
    };
  }
  if (status === 401) return { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 503) return { message: 'The server is overloaded or not ready yet.', type: 'server_error', code: null };
  if (status >= 500) {
    return { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null };
  }
  return { message: `Simulated upstream error (HTTP ${status}).`, type: 'invalid_request_error', code: null };
}

// ---------------------------------------------------------------------------
// Small helpers

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function requestId(): string {
  return `req_${randomBytes(16).toString('hex')}`;
}

/** Resolves after `ms`, or early when `signal` aborts (nobody is waiting any more). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function headerValue(headers: Record<string, string | undefined>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  // In-process callers may not lowercase their header names.
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

type ParsedJson = { ok: true; value: unknown } | { ok: false };

function parseJson(body: Buffer): ParsedJson {
  if (body.length === 0) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

function jsonBuffer(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', 'x-request-id': requestId(), ...extra };
}

function jsonResponse(status: number, value: unknown, extra: Record<string, string> = {}): SimResponse {
  return { kind: 'full', status, headers: jsonHeaders(extra), body: jsonBuffer(value) };
}

function errorResponse(err: SimApiError): SimResponse {
  const envelope = { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
  return jsonResponse(err.status, envelope, err.headers);
}

function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(Math.min(20, key.length - 7))}${key.slice(-4)}`;
}

// ---------------------------------------------------------------------------
// Request parameter readers (OpenAI-style validation messages)

function readString(body: JsonObject, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw typeError(key, 'a string', value);
  return value;
}

function readEnum<T extends string>(body: JsonObject, key: string, allowed: readonly T[]): T | undefined {
  const value = readString(body, key);
  if (value === undefined) return undefined;
  if (!isOneOf(value, allowed)) throw invalidValue(key, value, allowed);
  return value;
}

function readInteger(body: JsonObject, key: string, min: number, max: number): number | undefined {
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

function readBoolean(body: JsonObject, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw typeError(key, 'a boolean', value);
  return value;
}

// ---------------------------------------------------------------------------
// Models and the generation plan

interface ModelSpec {
  family: Family;
  maxPromptChars: number;
  /** 'flexible': any WxH within gpt-image-2's limits. */
  sizes: readonly string[] | 'flexible';
  qualities: readonly string[];
}

function modelSpec(model: string): ModelSpec | undefined {
  if (model === 'dall-e-2') {
    return { family: 'dall-e-2', maxPromptChars: 1000, sizes: ['256x256', '512x512', '1024x1024'], qualities: ['standard', 'auto'] };
  }
  if (model === 'dall-e-3') {
    return { family: 'dall-e-3', maxPromptChars: 4000, sizes: ['1024x1024', '1792x1024', '1024x1792'], qualities: ['standard', 'hd', 'auto'] };
  }
  if (model.startsWith('gpt-image-2')) return { family: 'gpt', maxPromptChars: 32000, sizes: 'flexible', qualities: GPT_QUALITIES };
  if (model.startsWith('gpt-image-') || model === 'chatgpt-image-latest') {
    return { family: 'gpt', maxPromptChars: 32000, sizes: GPT_STANDARD_SIZES, qualities: GPT_QUALITIES };
  }
  return undefined;
}

interface GenerationPlan {
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
}

type RelayOption = NonNullable<OpenAISimulatorOptions['relay']>;

function resolveModel(body: JsonObject): string {
  const model = readString(body, 'model');
  if (model !== undefined) return model;
  // Spec: "Defaults to dall-e-2 unless a parameter specific to the GPT image models is used."
  const gptHint = GPT_ONLY_PARAMS.some((key) => body[key] !== undefined && body[key] !== null);
  return gptHint ? 'gpt-image-1' : 'dall-e-2';
}

function rejectUnknownParams(body: JsonObject, family: Family): void {
  for (const key of Object.keys(body)) {
    const unknown = !KNOWN_PARAMS.has(key) || (family === 'gpt' && key === 'response_format' && body[key] !== null);
    if (unknown) throw invalidRequest(`Unknown parameter: '${key}'.`, key, 'unknown_parameter');
  }
}

function readPrompt(body: JsonObject, spec: ModelSpec): string {
  if (body.prompt === undefined || body.prompt === null) {
    throw invalidRequest("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  }
  const prompt = readString(body, 'prompt') ?? '';
  if (prompt.length === 0) {
    throw invalidRequest(
      "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      'prompt',
      'empty_string',
    );
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

function readCount(body: JsonObject, family: Family): number {
  const n = readInteger(body, 'n', 1, 10) ?? 1;
  if (family === 'dall-e-3' && n !== 1) throw invalidRequest('You must provide n=1 for this model.', 'n', 'invalid_value');
  return n;
}

function resolveSize(body: JsonObject, spec: ModelSpec): { width: number; height: number } {
  const size = readString(body, 'size') ?? 'auto';
  if (size === 'auto') return { width: 1024, height: 1024 };
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  const width = Number(match?.[1] ?? 0);
  const height = Number(match?.[2] ?? 0);
  if (width < 1 || height < 1) {
    throw invalidRequest(
      `Invalid value: '${size}'. Size must be 'auto' or 'WIDTHxHEIGHT' with positive integers, e.g. '1024x1024'.`,
      'size',
      'invalid_value',
    );
  }
  if (spec.sizes === 'flexible') checkFlexibleSize(size, width, height);
  else if (!spec.sizes.includes(`${width}x${height}`)) {
    throw invalidValue('size', size, spec.family === 'gpt' ? [...spec.sizes, 'auto'] : spec.sizes);
  }
  return { width, height };
}

/** gpt-image-2 limits from the spec: multiples of 16, ratio within 3:1, at most 3840x2160 worth. */
function checkFlexibleSize(size: string, width: number, height: number): void {
  const fail = (why: string): SimApiError => invalidRequest(`Invalid size '${size}'. ${why}`, 'size', 'invalid_value');
  if (width % 16 !== 0 || height % 16 !== 0) throw fail('Width and height must both be divisible by 16.');
  if (Math.max(width, height) > 3 * Math.min(width, height)) throw fail('The aspect ratio must be between 1:3 and 3:1.');
  if (Math.max(width, height) > 3840) throw fail('The maximum edge length is 3840 pixels.');
  if (width * height > 3840 * 2160) throw fail('The maximum supported resolution is 3840x2160.');
}

function resolveQuality(body: JsonObject, spec: ModelSpec): string {
  const quality = readEnum(body, 'quality', ALL_QUALITIES) ?? 'auto';
  if (!spec.qualities.includes(quality)) throw invalidValue('quality', quality, spec.qualities);
  if (quality !== 'auto') return quality;
  return spec.family === 'gpt' ? 'medium' : 'standard';
}

interface GptOutput {
  format: ImageFormat;
  compression: number;
  background: Background;
}

function resolveGptOutput(body: JsonObject): GptOutput {
  const format = readEnum(body, 'output_format', ['png', 'jpeg', 'webp'] as const) ?? 'png';
  const compression = readInteger(body, 'output_compression', 0, 100) ?? 100;
  const background = readEnum(body, 'background', ['transparent', 'opaque', 'auto'] as const) ?? 'auto';
  readEnum(body, 'moderation', ['low', 'auto'] as const);
  readInteger(body, 'partial_images', 0, 3);
  if (background === 'transparent' && format === 'jpeg') {
    throw invalidRequest(
      "Transparent background is not supported with output_format 'jpeg'. Use 'png' or 'webp'.",
      'background',
      'invalid_value',
    );
  }
  return { format, compression, background: background === 'transparent' ? 'transparent' : 'opaque' };
}

function checkStream(body: JsonObject): void {
  if (readBoolean(body, 'stream') === true) {
    // Streaming (SSE partial images) is not simulated; fail loudly rather than answer in the wrong shape.
    throw invalidRequest('The simulator does not support stream=true.', 'stream', 'unsupported_value');
  }
}

function parsePlan(body: JsonObject, relay: RelayOption | undefined): GenerationPlan {
  const model = resolveModel(body);
  const spec = modelSpec(model);
  if (spec === undefined) throw invalidValue('model', model, MODEL_CATALOGUE.map((m) => m.id));
  // Relays are lenient: they forward what they understand and ignore the rest.
  if (relay === undefined) rejectUnknownParams(body, spec.family);
  const prompt = readPrompt(body, spec);
  const n = readCount(body, spec.family);
  const { width, height } = resolveSize(body, spec);
  const quality = resolveQuality(body, spec);
  checkStream(body);
  readString(body, 'user');
  const resolved: GptOutput =
    spec.family === 'gpt' ? resolveGptOutput(body) : { format: 'png', compression: 100, background: 'opaque' };
  const output: GptOutput = relay?.alwaysPng ? { ...resolved, format: 'png' } : resolved;
  if (spec.family === 'dall-e-3') readEnum(body, 'style', ['vivid', 'natural'] as const);
  const requested = spec.family === 'gpt' ? 'b64_json' : readDalleResponseFormat(body, relay);
  const answer = relay?.answer ?? requested;
  const count = relay?.maxImages !== undefined ? Math.max(1, Math.min(n, relay.maxImages)) : n;
  return { model, family: spec.family, prompt, n: count, width, height, quality, ...output, answer };
}

function readDalleResponseFormat(body: JsonObject, relay: RelayOption | undefined): AnswerForm {
  if (relay !== undefined) return 'url'; // ignored by relays anyway
  return readEnum(body, 'response_format', ['url', 'b64_json'] as const) ?? 'url';
}

function usageFor(plan: GenerationPlan): JsonObject {
  const textTokens = Math.ceil(plan.prompt.length / 4);
  const perImage = Math.round(((OUTPUT_TOKENS_1024[plan.quality] ?? 1056) * plan.width * plan.height) / (1024 * 1024));
  const outputTokens = perImage * plan.n;
  return {
    total_tokens: textTokens + outputTokens,
    input_tokens: textTokens,
    output_tokens: outputTokens,
    input_tokens_details: { text_tokens: textTokens, image_tokens: 0 },
  };
}

function revisePrompt(prompt: string): string {
  return `${prompt.trim()}, depicted as a richly detailed digital illustration with balanced composition and soft, natural lighting.`;
}

// ---------------------------------------------------------------------------
// Fault parsing (control endpoint)

function parseFault(value: unknown): SimFault | string {
  if (!isObject(value) || typeof value.kind !== 'string') return 'each fault must be an object with a string "kind"';
  switch (value.kind) {
    case 'hang':
    case 'malformed':
    case 'truncated':
      return { kind: value.kind };
    case 'delay':
      return typeof value.ms === 'number' && value.ms >= 0 ? { kind: 'delay', ms: value.ms } : 'delay needs a non-negative "ms"';
    case 'status':
      return parseStatusFault(value);
    default:
      return `unknown fault kind '${value.kind}'`;
  }
}

function parseStatusFault(value: JsonObject): SimFault | string {
  const { status, retryAfterSeconds, message, type, code, param } = value;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    return 'status fault needs an integer "status" in 100..599';
  }
  const fault: Extract<SimFault, { kind: 'status' }> = { kind: 'status', status };
  if (typeof retryAfterSeconds === 'number') fault.retryAfterSeconds = retryAfterSeconds;
  if (typeof message === 'string') fault.message = message;
  if (typeof type === 'string') fault.type = type;
  if (typeof code === 'string' || code === null) fault.code = code;
  if (typeof param === 'string' || param === null) fault.param = param;
  return fault;
}

// ---------------------------------------------------------------------------
// The simulator core

interface OutImage {
  bytes: Buffer;
  /** Precomputed for the fixed image so it is encoded once. */
  base64?: string;
  format: ImageFormat;
  width: number;
  height: number;
}

interface FixedCacheEntry {
  created: number;
  body: Buffer;
}

type Route =
  | { kind: 'generate' }
  | { kind: 'models' }
  | { kind: 'model'; id: string }
  | { kind: 'file'; name: string }
  | { kind: 'control-faults' }
  | { kind: 'control-state' }
  | { kind: 'not-found' };

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed %-escapes: look the raw text up (and 404)
  }
}

function route(method: string, path: string): Route {
  if (method === 'POST' && path === '/v1/images/generations') return { kind: 'generate' };
  if (method === 'GET' && path === '/v1/models') return { kind: 'models' };
  if (method === 'GET' && path.startsWith('/v1/models/')) return { kind: 'model', id: safeDecode(path.slice(11)) };
  if (method === 'GET' && path.startsWith('/files/')) return { kind: 'file', name: path.slice(7) };
  if (method === 'POST' && path === '/_sim/faults') return { kind: 'control-faults' };
  if (method === 'GET' && path === '/_sim/state') return { kind: 'control-state' };
  return { kind: 'not-found' };
}

export class OpenAIImagesSimulator {
  /** Every API request received (control requests excluded), oldest first; keeps the last 10,000. */
  readonly requests: RecordedRequest[] = [];
  /** Requests whose client went away before the answer (maintained by the http server). */
  aborted = 0;

  private readonly opts: OpenAISimulatorOptions;
  private readonly faults: SimFault[] = [];
  private readonly files = new Map<string, { bytes: Buffer; contentType: string }>();
  private readonly fixedCache = new Map<string, FixedCacheEntry>();
  private fixedCacheBytes = 0;
  private fixed: Promise<OutImage> | undefined;

  constructor(opts: OpenAISimulatorOptions = {}) {
    this.opts = { ...opts };
  }

  /** Faults apply to the next generation requests, one per request, FIFO. */
  enqueueFault(...faults: SimFault[]): void {
    this.faults.push(...faults);
  }

  /** `signal` (optional) lets a transport cut latency short once its client is gone. */
  async handle(req: SimRequest, signal?: AbortSignal): Promise<SimResponse> {
    const path = req.path.split('?')[0] ?? req.path;
    const method = req.method.toUpperCase();
    const target = route(method, path);
    const parsed = parseJson(req.body);
    if (target.kind === 'control-faults') return this.controlFaults(parsed);
    if (target.kind === 'control-state') return this.controlState();
    this.record(method, req, parsed);
    const fault = target.kind === 'generate' ? this.faults.shift() : undefined;
    if (fault !== undefined) return this.applyFault(fault, req, parsed, signal);
    await sleep(this.opts.latencyMs ?? 0, signal);
    if (signal?.aborted === true) return { kind: 'hang' }; // client gone: do not render for nobody
    return this.answer(target, method, path, req, parsed);
  }

  // -- dispatch ---------------------------------------------------------------

  private async answer(target: Route, method: string, path: string, req: SimRequest, parsed: ParsedJson): Promise<SimResponse> {
    try {
      switch (target.kind) {
        case 'generate':
          this.authorize(req);
          return await this.generate(parsed);
        case 'models':
          this.authorize(req);
          return jsonResponse(200, { object: 'list', data: MODEL_CATALOGUE.map(modelObject) });
        case 'model':
          this.authorize(req);
          return this.model(target.id);
        case 'file':
          return this.file(target.name, method, path);
        default:
          throw new SimApiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error');
      }
    } catch (err) {
      if (err instanceof SimApiError) return errorResponse(err);
      throw err;
    }
  }

  private async applyFault(fault: SimFault, req: SimRequest, parsed: ParsedJson, signal?: AbortSignal): Promise<SimResponse> {
    if (fault.kind === 'hang') return { kind: 'hang' };
    const extra = fault.kind === 'delay' ? fault.ms : 0;
    await sleep((this.opts.latencyMs ?? 0) + extra, signal);
    // Nobody is listening any more: skip the (possibly expensive) rendering.
    if (signal?.aborted === true) return { kind: 'hang' };
    if (fault.kind === 'status') return errorResponse(statusFaultError(fault));
    if (fault.kind === 'malformed') {
      return { kind: 'full', status: 200, headers: jsonHeaders(), body: Buffer.from('{"created": 1, "data": [', 'utf8') };
    }
    const full = await this.answer({ kind: 'generate' }, 'POST', '/v1/images/generations', req, parsed);
    if (fault.kind === 'delay' || full.kind !== 'full') return full;
    return { ...full, kind: 'truncated', sendBytes: Math.floor(full.body.length / 2) };
  }

  private authorize(req: SimRequest): void {
    const expected = this.opts.apiKey;
    if (expected === undefined) return;
    const header = headerValue(req.headers, 'authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    const given = match?.[1]?.trim();
    if (given === expected) return;
    const message =
      given === undefined || given === ''
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        : `Incorrect API key provided: ${maskKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
    throw new SimApiError(401, message, 'invalid_request_error', null, 'invalid_api_key');
  }

  private model(id: string): SimResponse {
    const entry = MODEL_CATALOGUE.find((m) => m.id === id);
    if (entry === undefined) {
      throw new SimApiError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model', 'model_not_found');
    }
    return jsonResponse(200, modelObject(entry));
  }

  private file(name: string, method: string, path: string): SimResponse {
    const file = this.files.get(name);
    if (file === undefined) throw new SimApiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error');
    return {
      kind: 'full',
      status: 200,
      headers: { 'content-type': file.contentType, 'cache-control': 'private, max-age=3600' },
      body: file.bytes,
    };
  }

  // -- generation -------------------------------------------------------------

  private async generate(parsed: ParsedJson): Promise<SimResponse> {
    if (!parsed.ok) {
      throw invalidRequest(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
        null,
        null,
      );
    }
    if (!isObject(parsed.value)) throw typeError('body', 'an object', parsed.value);
    const plan = parsePlan(parsed.value, this.opts.relay);
    if (this.opts.fixedImage !== undefined) return this.fixedAnswer(plan);
    const images = await Promise.all(Array.from({ length: plan.n }, (_, i) => this.render(plan, i)));
    return jsonResponse(200, this.envelope(plan, images, nowSeconds()));
  }

  private async render(plan: GenerationPlan, variant: number): Promise<OutImage> {
    const bytes = await renderImage({
      width: plan.width,
      height: plan.height,
      format: plan.format,
      text: plan.prompt,
      compression: plan.compression,
      transparent: plan.background === 'transparent',
      variant,
    });
    return { bytes, format: plan.format, width: plan.width, height: plan.height };
  }

  private envelope(plan: GenerationPlan, images: readonly OutImage[], created: number): JsonObject {
    const data = images.map((image) => this.item(plan, image));
    const first = images[0];
    if (plan.family !== 'gpt' || first === undefined) return { created, data };
    return {
      created,
      background: plan.background,
      data,
      output_format: first.format,
      quality: plan.quality,
      size: `${first.width}x${first.height}`,
      usage: usageFor(plan),
    };
  }

  private item(plan: GenerationPlan, image: OutImage): Record<string, string> {
    const item: Record<string, string> = {};
    if (plan.family === 'dall-e-3') item.revised_prompt = revisePrompt(plan.prompt);
    const base64 = (): string => image.base64 ?? image.bytes.toString('base64');
    if (plan.answer === 'url') item.url = this.host(image);
    else if (plan.answer === 'data_uri') item.url = `data:${MIME[image.format]};base64,${base64()}`;
    else item.b64_json = base64();
    return item;
  }

  /** Keeps the image for GET /files/<name>, bounded to the most recent ones. */
  private host(image: OutImage): string {
    const name = `img-${randomBytes(12).toString('hex')}.${EXT[image.format]}`;
    this.files.set(name, { bytes: image.bytes, contentType: MIME[image.format] });
    while (this.files.size > MAX_HOSTED_FILES) {
      const oldest = this.files.keys().next();
      if (oldest.done === true) break;
      this.files.delete(oldest.value);
    }
    const base = (this.opts.publicBaseUrl ?? DEFAULT_PUBLIC_BASE).replace(/\/+$/, '');
    return `${base}/files/${name}`;
  }

  // -- fixed-image fast path --------------------------------------------------

  private fixedImage(): Promise<OutImage> {
    const bytes = this.opts.fixedImage;
    if (bytes === undefined) throw new Error('fixedImage is not configured');
    this.fixed ??= describeFixedImage(bytes);
    return this.fixed;
  }

  /** Inline answers are served from cached bytes; only url answers are built per request. */
  private async fixedAnswer(plan: GenerationPlan): Promise<SimResponse> {
    const image = await this.fixedImage();
    const images = Array.from({ length: plan.n }, () => image);
    if (plan.answer === 'url') return jsonResponse(200, this.envelope(plan, images, nowSeconds()));
    const key = fixedCacheKey(plan);
    const now = nowSeconds();
    let entry = this.fixedCache.get(key);
    if (entry === undefined || now - entry.created > FIXED_CACHE_MAX_AGE_S) {
      entry = { created: now, body: jsonBuffer(this.envelope(plan, images, now)) };
      this.cacheFixed(key, entry);
    }
    return { kind: 'full', status: 200, headers: jsonHeaders(), body: entry.body };
  }

  private cacheFixed(key: string, entry: FixedCacheEntry): void {
    const previous = this.fixedCache.get(key);
    if (previous !== undefined) this.fixedCacheBytes -= previous.body.length;
    this.fixedCache.delete(key);
    this.fixedCache.set(key, entry);
    this.fixedCacheBytes += entry.body.length;
    for (const [oldKey, old] of this.fixedCache) {
      if (this.fixedCacheBytes <= FIXED_CACHE_MAX_BYTES || oldKey === key) break;
      this.fixedCache.delete(oldKey);
      this.fixedCacheBytes -= old.body.length;
    }
  }

  // -- bookkeeping and control ------------------------------------------------

  private record(method: string, req: SimRequest, parsed: ParsedJson): void {
    this.requests.push({ method, path: req.path, headers: { ...req.headers }, json: parsed.ok ? parsed.value : undefined });
    // Bounded so long benchmarks do not grow without limit; drop in chunks to keep it cheap.
    if (this.requests.length > MAX_RECORDED_REQUESTS + 1000) this.requests.splice(0, 1000);
  }

  private controlFaults(parsed: ParsedJson): SimResponse {
    const raw = parsed.ok ? parsed.value : undefined;
    const list: unknown[] = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
    if (list.length === 0) return errorResponse(invalidRequest('Expected a JSON array of faults.', null, null));
    const faults: SimFault[] = [];
    for (const value of list) {
      const fault = parseFault(value);
      if (typeof fault === 'string') return errorResponse(invalidRequest(`Invalid fault: ${fault}.`, null, null));
      faults.push(fault);
    }
    this.enqueueFault(...faults);
    return jsonResponse(200, { enqueued: faults.length, pending: this.faults.length });
  }

  private controlState(): SimResponse {
    return jsonResponse(200, { requests: this.requests.length, aborted: this.aborted, pendingFaults: this.faults.length });
  }
}

/** Everything that shapes a fixed-image body besides `created` (format and size come from the image). */
function fixedCacheKey(plan: GenerationPlan): string {
  const revised = plan.family === 'dall-e-3' ? plan.prompt : null;
  const usage = plan.family === 'gpt' ? usageFor(plan) : null;
  return JSON.stringify([plan.answer, plan.n, plan.family, plan.quality, plan.background, usage, revised]);
}

function modelObject(entry: { id: string; created: number }): JsonObject {
  return { id: entry.id, object: 'model', created: entry.created, owned_by: 'system' };
}

async function describeFixedImage(bytes: Buffer): Promise<OutImage> {
  const meta = await sharp(bytes).metadata();
  const format: ImageFormat = meta.format === 'jpeg' || meta.format === 'webp' ? meta.format : 'png';
  return { bytes, base64: bytes.toString('base64'), format, width: meta.width ?? 1024, height: meta.height ?? 1024 };
}

// ---------------------------------------------------------------------------
// node:http transport

export async function startOpenAISimulator(
  opts: OpenAISimulatorOptions & { host?: string; port?: number } = {},
): Promise<RunningSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer(
    (origin) => new OpenAIImagesSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }),
    { host, port },
  );
  return { ...running, baseURL: `${running.origin}/v1` };
}
