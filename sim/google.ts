// A simulator of Google's two image APIs, on both of Google's doors, written from Google's public
// documents (the Gemini API's image-generation and Imagen guides and API reference, Vertex AI's
// generateContent and Imagen API references, Google's OAuth 2.0 service-account flow) and the wire
// names its genai SDKs send:
// - Gemini API: POST /v1beta/models/{model}:generateContent and :predict, the key in
//   `x-goog-api-key` (or `?key=`); a key it does not know is 400 INVALID_ARGUMENT whose ErrorInfo
//   reason is API_KEY_INVALID, as Google answers it.
// - Vertex AI: POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:
//   generateContent and :predict, `Authorization: Bearer <access token>` (else 401 UNAUTHENTICATED).
//   Access tokens come from POST /token, the JWT-bearer grant: an RS256 assertion signed by a
//   service account this simulator was given the public key of (iss = its client_email, aud =
//   Google's token URL, a scope, unexpired); otherwise 400 invalid_grant.
// - generateContent (gemini-2.5-flash-image, gemini-3-pro-image-preview): contents[].parts of text
//   and inlineData (reference images); generationConfig.responseModalities must hold IMAGE;
//   imageConfig.aspectRatio (Google's ten), imageSize (1K/2K/4K, gemini-3-pro-image-preview only),
//   imageOutputOptions {mimeType, compressionQuality} and personGeneration (Vertex AI only); one
//   candidate (candidateCount above 1 is refused). Without a ratio the image takes the first
//   reference image's shape, else square. Answers a text part and the image as inlineData, PNG
//   unless Vertex AI was asked for JPEG, of Google's size for the ratio and tier, and
//   usageMetadata (1,290 image tokens per image on 2.5 Flash; 1,120 at 1K/2K and 2,000 at 4K on
//   3 Pro, which also reports thinking tokens).
// - predict (imagen-4.0-generate-001, -ultra-, -fast-): instances[{prompt}], parameters sampleCount
//   1-4, aspectRatio (Imagen's five), sampleImageSize (1K/2K; Fast 1K only), personGeneration,
//   outputOptions {mimeType png/jpeg, compressionQuality}, includeRaiReason, and on Vertex AI only
//   seed (refused while addWatermark, on by default, is on), addWatermark, enhancePrompt. Answers
//   predictions[{bytesBase64Encoded, mimeType}].
// - Unknown fields are refused as Google refuses them (`Invalid JSON payload received. Unknown name`),
//   so a gateway that leaks a field is caught.
// - Safety, scripted by the prompt: `[sim:block]` is promptFeedback.blockReason PROHIBITED_CONTENT,
//   `[sim:image-safety]` a candidate with finishReason IMAGE_SAFETY and no image, `[sim:text-only]`
//   a candidate with text only; on predict `[sim:rai]` filters every image (raiFilteredReason when
//   includeRaiReason) and `[sim:rai-one]` the first. enqueueFault scripts any google.rpc error.
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { GEMINI_25_FLASH_IMAGE_SIZES, GEMINI_3_PRO_IMAGE_SIZES, IMAGEN_4_SIZES, type GoogleSizeTable } from '../src/core/models.js';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { renderImage, type ImageFormat } from './render.js';
import { bearerToken, headerValue, isObject, jsonResponse, parseJson, safeDecode } from './wire.js';

/** Where Google's token endpoint is: the audience of every assertion, whichever endpoint receives it. */
export const GOOGLE_TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_TTL_S = 3600;

interface GeminiSimModel {
  readonly kind: 'gemini';
  readonly sizes: GoogleSizeTable;
  readonly tiers: readonly string[];
  /** Output tokens per image, by tier. */
  readonly imageTokens: Readonly<Record<string, number>>;
  readonly thinkingTokens: number;
}
interface ImagenSimModel {
  readonly kind: 'imagen';
  readonly tiers: readonly string[];
}

export const GOOGLE_SIM_MODELS: Readonly<Record<string, GeminiSimModel | ImagenSimModel>> = {
  'gemini-2.5-flash-image': { kind: 'gemini', sizes: GEMINI_25_FLASH_IMAGE_SIZES, tiers: ['1K'], imageTokens: { '1K': 1290 }, thinkingTokens: 0 },
  'gemini-3-pro-image-preview': {
    kind: 'gemini',
    sizes: GEMINI_3_PRO_IMAGE_SIZES,
    tiers: ['1K', '2K', '4K'],
    imageTokens: { '1K': 1120, '2K': 1120, '4K': 2000 },
    thinkingTokens: 180,
  },
  'imagen-4.0-generate-001': { kind: 'imagen', tiers: ['1K', '2K'] },
  'imagen-4.0-ultra-generate-001': { kind: 'imagen', tiers: ['1K', '2K'] },
  'imagen-4.0-fast-generate-001': { kind: 'imagen', tiers: ['1K'] },
};

const GEMINI_RATIOS = Object.keys(GEMINI_3_PRO_IMAGE_SIZES);
const INPUT_IMAGE_TOKENS = 258;

export interface GoogleSimulatorOptions {
  /** The Gemini API key taken; unset: any key. */
  apiKey?: string;
  /** Vertex AI: service accounts whose assertions /token takes, client_email -> public key (PEM). */
  serviceAccounts?: Readonly<Record<string, string>>;
  /** Added before every generation (default 0). */
  latencyMs?: number;
  /** Added before /token answers (default 0): a slow token endpoint. */
  tokenLatencyMs?: number;
}

/** A scripted google.rpc error for the next generation(s). */
export interface GoogleFault {
  status: number;
  /** google.rpc code name, e.g. RESOURCE_EXHAUSTED. */
  statusName: string;
  message?: string;
  /** An ErrorInfo reason, e.g. API_KEY_INVALID. */
  reason?: string;
  retryDelaySeconds?: number;
}

export interface GoogleRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  json: unknown;
}

type Door = 'gemini' | 'vertex-ai';

export class GoogleSimulator implements SimHandler {
  readonly requests: GoogleRecordedRequest[] = [];
  /** Generation calls that produced images. */
  generations = 0;
  /** Access tokens issued by /token. */
  tokensIssued = 0;
  aborted = 0;
  private readonly faults: GoogleFault[] = [];
  private readonly tokens = new Map<string, { email: string; expiresAt: number }>();

  constructor(private readonly opts: GoogleSimulatorOptions = {}) {}

  enqueueFault(...faults: GoogleFault[]): void {
    this.faults.push(...faults);
  }

  /** The bodies of generation calls (`generateContent` or `predict`), oldest first, with the door they came through. */
  calls(method: 'generateContent' | 'predict'): { door: Door; model: string; body: Record<string, unknown>; headers: Record<string, string | undefined> }[] {
    return this.requests.flatMap((r) => {
      const route = routeOf(r.path);
      return route && route.method === method ? [{ door: route.door, model: route.model, body: isObject(r.json) ? r.json : {}, headers: r.headers }] : [];
    });
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://google-simulator.invalid');
    const method = req.method.toUpperCase();
    const json = headerValue(req.headers, 'content-type')?.includes('json') ? parseJson(req.body) : undefined;
    this.requests.push({ method, path: url.pathname, headers: { ...req.headers }, json });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'POST' && url.pathname === '/token') {
      if ((this.opts.tokenLatencyMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, this.opts.tokenLatencyMs));
      return this.token(req.body);
    }
    const route = routeOf(url.pathname);
    if (method !== 'POST' || !route) return rpcError(404, 'NOT_FOUND', `The requested URL ${url.pathname} was not found on this server.`);
    const denied = route.door === 'gemini' ? this.checkKey(req, url) : this.checkToken(req);
    if (denied) return denied;
    const spec = GOOGLE_SIM_MODELS[route.model];
    if (!spec) return rpcError(404, 'NOT_FOUND', `models/${route.model} is not found for API version v1beta, or is not supported for ${route.method}.`);
    if ((spec.kind === 'gemini') !== (route.method === 'generateContent')) {
      return rpcError(400, 'INVALID_ARGUMENT', `models/${route.model} does not support ${route.method}.`);
    }
    if (!isObject(json)) return rpcError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    const fault = this.faults.shift();
    if (fault) return faultResponse(fault);
    if ((this.opts.latencyMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, this.opts.latencyMs));
    return spec.kind === 'gemini' ? this.generateContent(spec, route.model, route.door, json) : this.predict(spec, route.door, json);
  }

  private checkKey(req: SimRequest, url: URL): SimResponse | undefined {
    const key = headerValue(req.headers, 'x-goog-api-key') ?? url.searchParams.get('key') ?? undefined;
    if (key === undefined)
      return rpcError(
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    if (this.opts.apiKey !== undefined && key !== this.opts.apiKey) {
      return rpcError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', 'API_KEY_INVALID');
    }
    return undefined;
  }

  private checkToken(req: SimRequest): SimResponse | undefined {
    const token = bearerToken(req.headers);
    const held = token !== undefined ? this.tokens.get(token) : undefined;
    if (!held || held.expiresAt <= Date.now()) {
      return rpcError(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        'ACCESS_TOKEN_TYPE_UNSUPPORTED',
      );
    }
    return undefined;
  }

  /** Google's OAuth 2.0 token endpoint, the JWT-bearer grant (a service account's signed assertion). */
  private token(body: Buffer): SimResponse {
    const form = new URLSearchParams(body.toString('utf8'));
    const refuse = (description: string): SimResponse => jsonResponse(400, { error: 'invalid_grant', error_description: description });
    if (form.get('grant_type') !== JWT_BEARER) return jsonResponse(400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type.' });
    const [head, payload, signature] = (form.get('assertion') ?? '').split('.');
    if (head === undefined || payload === undefined || signature === undefined) return refuse('Invalid JWT.');
    const header = decodePart(head);
    const claims = decodePart(payload);
    if (!header || !claims || header.alg !== 'RS256') return refuse('Invalid JWT: expected an RS256 signed assertion.');
    const email = typeof claims.iss === 'string' ? claims.iss : '';
    const publicKey = this.opts.serviceAccounts?.[email];
    if (publicKey === undefined) return refuse('Invalid grant: account not found');
    const signed = verify('RSA-SHA256', Buffer.from(`${head}.${payload}`), createPublicKey(publicKey), Buffer.from(signature, 'base64url'));
    if (!signed) return refuse('Invalid JWT Signature.');
    const now = Date.now() / 1000;
    if (claims.aud !== GOOGLE_TOKEN_AUDIENCE)
      return refuse(
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    if (typeof claims.exp !== 'number' || claims.exp <= now || typeof claims.iat !== 'number' || claims.exp - claims.iat > 3600) {
      return refuse('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    if (typeof claims.scope !== 'string' || claims.scope.trim() === '')
      return jsonResponse(400, { error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' });
    const token = `ya29.sim-${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, { email, expiresAt: Date.now() + TOKEN_TTL_S * 1000 });
    this.tokensIssued += 1;
    return jsonResponse(200, { access_token: token, expires_in: TOKEN_TTL_S, token_type: 'Bearer' });
  }

  private async generateContent(spec: GeminiSimModel, model: string, door: Door, body: Record<string, unknown>): Promise<SimResponse> {
    const plan = readGeminiPlan(spec, model, door, body);
    if (typeof plan === 'string') return rpcError(400, 'INVALID_ARGUMENT', plan);
    if (plan.prompt.includes('[sim:block]')) {
      return jsonResponse(200, {
        promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
        usageMetadata: { promptTokenCount: plan.promptTokens, totalTokenCount: plan.promptTokens },
      });
    }
    if (plan.prompt.includes('[sim:image-safety]')) {
      return jsonResponse(200, {
        candidates: [
          {
            content: { role: 'model', parts: [] },
            finishReason: 'IMAGE_SAFETY',
            finishMessage: 'Unable to show the generated image: it may violate our policies.',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: plan.promptTokens, candidatesTokenCount: 0, totalTokenCount: plan.promptTokens },
      });
    }
    const usage = (imageTokens: number) => ({
      promptTokenCount: plan.promptTokens,
      candidatesTokenCount: imageTokens + 8,
      ...(spec.thinkingTokens > 0 ? { thoughtsTokenCount: spec.thinkingTokens } : {}),
      totalTokenCount: plan.promptTokens + imageTokens + 8 + spec.thinkingTokens,
      promptTokensDetails: [
        { modality: 'TEXT', tokenCount: plan.promptTokens - plan.inputImages * INPUT_IMAGE_TOKENS },
        ...(plan.inputImages > 0 ? [{ modality: 'IMAGE', tokenCount: plan.inputImages * INPUT_IMAGE_TOKENS }] : []),
      ],
      candidatesTokensDetails: [{ modality: 'TEXT', tokenCount: 8 }, ...(imageTokens > 0 ? [{ modality: 'IMAGE', tokenCount: imageTokens }] : [])],
    });
    if (plan.prompt.includes('[sim:text-only]')) {
      return jsonResponse(200, {
        candidates: [{ content: { role: 'model', parts: [{ text: 'I can describe it, but here is no image.' }] }, finishReason: 'STOP', index: 0 }],
        usageMetadata: usage(0),
      });
    }
    const bytes = await renderImage({
      width: plan.width,
      height: plan.height,
      format: plan.format,
      ...(plan.compression !== undefined ? { compression: plan.compression } : {}),
      text: `google simulator · ${model} · ${plan.prompt}`,
      variant: this.generations,
    });
    this.generations += 1;
    return jsonResponse(200, {
      candidates: [
        {
          content: {
            role: 'model',
            parts: [{ text: 'Here is the image.' }, { inlineData: { mimeType: `image/${plan.format}`, data: bytes.toString('base64') } }],
          },
          finishReason: 'STOP',
          index: 0,
        },
      ],
      usageMetadata: usage(spec.imageTokens[plan.tier] ?? 0),
      modelVersion: model,
    });
  }

  private async predict(spec: ImagenSimModel, door: Door, body: Record<string, unknown>): Promise<SimResponse> {
    const plan = readImagenPlan(spec, door, body);
    if (typeof plan === 'string') return rpcError(400, 'INVALID_ARGUMENT', plan);
    if (plan.prompt.includes('[sim:blocked-prompt]')) {
      return rpcError(
        400,
        'INVALID_ARGUMENT',
        "Image generation failed with the following error: The prompt could not be submitted. This prompt contains sensitive words that violate Google's Responsible AI practices. Try rephrasing the prompt.",
      );
    }
    const reason = 'Your current safety filter threshold filtered out the generated image. (58061214)';
    const filteredAll = plan.prompt.includes('[sim:rai]');
    const predictions: Record<string, unknown>[] = [];
    for (let i = 0; i < plan.count; i += 1) {
      if (filteredAll || (i === 0 && plan.prompt.includes('[sim:rai-one]'))) {
        if (plan.raiReason) predictions.push({ raiFilteredReason: reason });
        continue;
      }
      const bytes = await renderImage({
        width: plan.width,
        height: plan.height,
        format: plan.format,
        ...(plan.compression !== undefined ? { compression: plan.compression } : {}),
        text: `google simulator · imagen · ${plan.prompt}`,
        variant: i,
      });
      predictions.push({ bytesBase64Encoded: bytes.toString('base64'), mimeType: `image/${plan.format}` });
    }
    if (predictions.length > 0) this.generations += 1;
    return jsonResponse(200, predictions.length > 0 ? { predictions } : {});
  }
}

interface Route {
  door: Door;
  model: string;
  method: string;
}

function routeOf(path: string): Route | undefined {
  const gemini = /^\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  if (gemini) return { door: 'gemini', model: safeDecode(gemini[1] ?? ''), method: gemini[2] ?? '' };
  const vertex = /^\/v1\/projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  if (vertex) return { door: 'vertex-ai', model: safeDecode(vertex[1] ?? ''), method: vertex[2] ?? '' };
  return undefined;
}

interface GeminiPlan {
  prompt: string;
  width: number;
  height: number;
  tier: string;
  format: ImageFormat;
  compression?: number;
  promptTokens: number;
  inputImages: number;
}

const GEMINI_BODY_FIELDS = new Set(['contents', 'generationConfig', 'safetySettings', 'systemInstruction']);
const GENERATION_CONFIG_FIELDS = new Set(['responseModalities', 'imageConfig', 'seed', 'temperature', 'topP', 'topK', 'candidateCount', 'maxOutputTokens']);
const IMAGE_CONFIG_FIELDS: Readonly<Record<Door, ReadonlySet<string>>> = {
  gemini: new Set(['aspectRatio', 'imageSize']),
  'vertex-ai': new Set(['aspectRatio', 'imageSize', 'imageOutputOptions', 'personGeneration']),
};

function unknownName(object: Record<string, unknown>, known: ReadonlySet<string>, where: string): string | undefined {
  const name = Object.keys(object).find((key) => !known.has(key));
  return name === undefined ? undefined : `Invalid JSON payload received. Unknown name "${name}" at '${where}': Cannot find field.`;
}

function readGeminiPlan(spec: GeminiSimModel, model: string, door: Door, body: Record<string, unknown>): GeminiPlan | string {
  const unknown = unknownName(body, GEMINI_BODY_FIELDS, '');
  if (unknown) return unknown;
  const contents = Array.isArray(body.contents) ? body.contents : [];
  const parts = contents.flatMap((c) => (isObject(c) && Array.isArray(c.parts) ? c.parts : []));
  const texts: string[] = [];
  const inputs: Buffer[] = [];
  for (const part of parts) {
    if (isObject(part) && typeof part.text === 'string') texts.push(part.text);
    else if (isObject(part) && isObject(part.inlineData)) {
      const { mimeType, data } = part.inlineData;
      if (mimeType !== 'image/png' && mimeType !== 'image/jpeg' && mimeType !== 'image/webp') return `Unsupported MIME type: ${String(mimeType)}`;
      if (typeof data !== 'string' || data.startsWith('data:'))
        return "Invalid value at 'contents[0].parts[1].inline_data.data' (TYPE_BYTES), Base64 decoding failed.";
      inputs.push(Buffer.from(data, 'base64'));
    } else return 'contents.parts must be text or inlineData.';
  }
  const prompt = texts.join('\n');
  if (prompt.trim() === '') return 'contents is not specified';
  const config = isObject(body.generationConfig) ? body.generationConfig : {};
  const configProblem = unknownName(config, GENERATION_CONFIG_FIELDS, 'generation_config');
  if (configProblem) return configProblem;
  if (!Array.isArray(config.responseModalities) || !config.responseModalities.includes('IMAGE')) {
    return `Model ${model} answers images only when generationConfig.responseModalities includes IMAGE.`;
  }
  if (config.candidateCount !== undefined && config.candidateCount !== 1) return `Multiple candidates is not enabled for models/${model}`;
  if (config.seed !== undefined && !Number.isInteger(config.seed)) return "Invalid value at 'generation_config.seed' (TYPE_INT32)";
  const image = isObject(config.imageConfig) ? config.imageConfig : {};
  const imageProblem = unknownName(image, IMAGE_CONFIG_FIELDS[door], 'generation_config.image_config');
  if (imageProblem) return imageProblem;
  const ratio = image.aspectRatio ?? (inputs[0] ? referenceRatio(inputs[0]) : '1:1');
  if (typeof ratio !== 'string' || !GEMINI_RATIOS.includes(ratio)) return `Unsupported aspect ratio: ${String(ratio)}. Supported: ${GEMINI_RATIOS.join(', ')}.`;
  const tier = image.imageSize ?? '1K';
  if (typeof tier !== 'string' || !spec.tiers.includes(tier))
    return `Unsupported image size ${String(tier)} for models/${model} (supported: ${spec.tiers.join(', ')}).`;
  const size = spec.sizes[ratio]?.[tier];
  const [width, height] = (size ?? '1024x1024').split('x').map(Number) as [number, number];
  const output = isObject(image.imageOutputOptions) ? image.imageOutputOptions : {};
  const mime = output.mimeType ?? 'image/png';
  if (mime !== 'image/png' && mime !== 'image/jpeg') return `Unsupported output mime type: ${String(mime)}`;
  const compression = output.compressionQuality;
  if (compression !== undefined && (typeof compression !== 'number' || compression < 0 || compression > 100)) return 'compressionQuality must be 0-100';
  return {
    prompt,
    width,
    height,
    tier,
    format: mime === 'image/jpeg' ? 'jpeg' : 'png',
    ...(typeof compression === 'number' ? { compression } : {}),
    promptTokens: Math.ceil(prompt.length / 4) + inputs.length * INPUT_IMAGE_TOKENS,
    inputImages: inputs.length,
  };
}

/** A reference image's aspect ratio (the nearest of Google's), read from its header. */
function referenceRatio(bytes: Buffer): string {
  const dims = pngOrJpegSize(bytes);
  if (!dims) return '1:1';
  let best = '1:1';
  let distance = Number.POSITIVE_INFINITY;
  for (const ratio of GEMINI_RATIOS) {
    const [w, h] = ratio.split(':').map(Number) as [number, number];
    const d = Math.abs(Math.log(dims.width / dims.height) - Math.log(w / h));
    if (d < distance) {
      best = ratio;
      distance = d;
    }
  }
  return best;
}

/** PNG's IHDR, or a baseline/progressive JPEG's SOF: enough for the simulator's reference images. */
function pngOrJpegSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47) return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] ?? 0;
    const length = bytes.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
    at += 2 + length;
  }
  return undefined;
}

interface ImagenPlan {
  prompt: string;
  count: number;
  width: number;
  height: number;
  format: ImageFormat;
  compression?: number;
  raiReason: boolean;
}

const IMAGEN_PARAMETERS: Readonly<Record<Door, ReadonlySet<string>>> = {
  gemini: new Set([
    'sampleCount',
    'aspectRatio',
    'sampleImageSize',
    'personGeneration',
    'outputOptions',
    'includeRaiReason',
    'includeSafetyAttributes',
    'safetySetting',
    'language',
    'guidanceScale',
  ]),
  'vertex-ai': new Set([
    'sampleCount',
    'aspectRatio',
    'sampleImageSize',
    'personGeneration',
    'outputOptions',
    'includeRaiReason',
    'includeSafetyAttributes',
    'safetySetting',
    'language',
    'guidanceScale',
    'seed',
    'addWatermark',
    'enhancePrompt',
    'storageUri',
  ]),
};
const PERSON_GENERATION = new Set(['dont_allow', 'allow_adult', 'allow_all']);

function readImagenPlan(spec: ImagenSimModel, door: Door, body: Record<string, unknown>): ImagenPlan | string {
  const unknown = unknownName(body, new Set(['instances', 'parameters']), '');
  if (unknown) return unknown;
  const instances = Array.isArray(body.instances) ? body.instances : [];
  const instance = instances[0];
  if (instances.length !== 1 || !isObject(instance) || typeof instance.prompt !== 'string' || instance.prompt.trim() === '')
    return 'instances[0].prompt is required.';
  const parameters = isObject(body.parameters) ? body.parameters : {};
  const paramProblem = unknownName(parameters, IMAGEN_PARAMETERS[door], 'parameters');
  if (paramProblem) return paramProblem;
  const { sampleCount = 4, aspectRatio = '1:1', sampleImageSize = '1K', personGeneration, addWatermark = true, seed } = parameters;
  if (typeof sampleCount !== 'number' || !Number.isInteger(sampleCount) || sampleCount < 1 || sampleCount > 4)
    return 'sampleCount must be an integer from 1 to 4.';
  if (typeof aspectRatio !== 'string' || !Object.hasOwn(IMAGEN_4_SIZES, aspectRatio)) return `Unsupported aspect ratio: ${String(aspectRatio)}.`;
  if (typeof sampleImageSize !== 'string' || !spec.tiers.includes(sampleImageSize))
    return `Unsupported sampleImageSize ${String(sampleImageSize)} for this model.`;
  if (personGeneration !== undefined && (typeof personGeneration !== 'string' || !PERSON_GENERATION.has(personGeneration)))
    return `Invalid personGeneration: ${String(personGeneration)}.`;
  if (seed !== undefined && addWatermark !== false) return 'Seed is not supported when watermark is enabled.';
  const output = isObject(parameters.outputOptions) ? parameters.outputOptions : {};
  const mime = output.mimeType ?? 'image/png';
  if (mime !== 'image/png' && mime !== 'image/jpeg') return `Unsupported output mime type: ${String(mime)}`;
  const compression = output.compressionQuality;
  if (compression !== undefined && (typeof compression !== 'number' || compression < 0 || compression > 100)) return 'compressionQuality must be 0-100';
  const size = IMAGEN_4_SIZES[aspectRatio]?.[sampleImageSize] ?? '1024x1024';
  const [width, height] = size.split('x').map(Number) as [number, number];
  return {
    prompt: instance.prompt,
    count: sampleCount,
    width,
    height,
    format: mime === 'image/jpeg' ? 'jpeg' : 'png',
    ...(typeof compression === 'number' ? { compression } : {}),
    raiReason: parameters.includeRaiReason === true,
  };
}

function decodePart(part: string): Record<string, unknown> | undefined {
  const value = parseJson(Buffer.from(part, 'base64url'));
  return isObject(value) ? value : undefined;
}

/** google.rpc.Status as both APIs answer it. */
function rpcError(status: number, statusName: string, message: string, reason?: string, retryDelaySeconds?: number): SimResponse {
  const details = [
    ...(reason ? [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }] : []),
    ...(retryDelaySeconds !== undefined ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryDelaySeconds}s` }] : []),
  ];
  return jsonResponse(status, { error: { code: status, message, status: statusName, ...(details.length > 0 ? { details } : {}) } });
}

function faultResponse(fault: GoogleFault): SimResponse {
  return rpcError(fault.status, fault.statusName, fault.message ?? `simulated ${fault.statusName}`, fault.reason, fault.retryDelaySeconds);
}

export type RunningGoogleSimulator = RunningServer<GoogleSimulator> & {
  /** A gemini channel's base_url: the simulator's origin (the Gemini API's is https://generativelanguage.googleapis.com). */
  geminiBaseUrl: string;
  /** A vertex-ai channel's base_url for a project and location. */
  vertexBaseUrl(project: string, location: string): string;
  /** What a service-account key's token_uri names: this simulator's token endpoint. */
  tokenUri: string;
};

export async function startGoogleSimulator(opts: GoogleSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningGoogleSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer(() => new GoogleSimulator(simOpts), { host, port });
  return {
    ...running,
    geminiBaseUrl: running.origin,
    vertexBaseUrl: (project, location) => `${running.origin}/v1/projects/${project}/locations/${location}`,
    tokenUri: `${running.origin}/token`,
  };
}
