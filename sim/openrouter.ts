// A simulator of OpenRouter's image generation, written from OpenRouter's public documents (the
// image-generation guide, the errors page, the API reference) and the field names its TypeScript
// SDK (@openrouter/sdk) sends and reads. Base URL {origin}/api/v1, as https://openrouter.ai/api/v1.
// - Authorization: Bearer <key> (any key unless `apiKey` is set): none is 401 "No auth credentials
//   found", another key 401 "User not found."; `creditImages` images later the account is out of
//   credits: 402.
// - POST /api/v1/chat/completions: `model` (a slug of SIM_MODELS, else 404 "No endpoints found"),
//   `messages` (the last user message: a string, or text parts and `image_url` parts holding data
//   URIs), `modalities` (must hold "image"; "text" beside it only for a model that answers text,
//   else 404 "No endpoints found that support the requested output modalities", as OpenRouter
//   answers an image-only model asked for text), `image_config` ({aspect_ratio} of the ten
//   documented ratios, {image_size} 1K/2K/4K where the model has it; else 400), `seed`, `user`,
//   `provider`, `temperature`. Input images to a model without image input: 404 "No endpoints
//   found that support image input". Answers one image per call: `choices[0].message.images`
//   [{type: "image_url", image_url: {url: "data:image/png;base64,..."}}], the text `content` of a
//   model that answers text, `usage` with completion_tokens_details.image_tokens and `cost`.
//   Without an aspect_ratio the image takes the first input image's shape, else square.
// - GET /api/v1/models?output_modalities=image: each model's descriptor (id, name,
//   architecture.input_modalities / output_modalities / modality, supported_parameters, pricing
//   as decimal strings); counted in `listCalls`; `listFails` makes it a 500.
// - Scripted by the prompt: `[sim:moderation]` is OpenRouter's 403 moderation error whose metadata
//   has reasons and flagged_input; `[sim:image-safety]` a 200 whose choice finished
//   `content_filter` (native IMAGE_SAFETY) with no image; `[sim:model-error]` a 200 carrying an
//   error object (the provider failed after OpenRouter accepted); `[sim:text-only]` text, no image.
//   enqueueFault scripts any error answer ({error: {code, message, metadata}}, Retry-After).
import sharp from 'sharp';
import { GEMINI_25_FLASH_IMAGE_SIZES, GEMINI_3_PRO_IMAGE_SIZES, type GoogleSizeTable } from '../src/core/models.js';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { renderEdit, renderImage } from './render.js';
import { bearerToken, isObject, jsonResponse, parseJson } from './wire.js';

export interface OpenRouterSimModel {
  readonly name: string;
  readonly inputModalities: readonly string[];
  readonly outputModalities: readonly string[];
  /** Pixel sizes by ratio and tier, as the provider behind it makes them. */
  readonly sizes: GoogleSizeTable;
  readonly tiers: readonly string[];
  /** Output image tokens per image (0: priced per image, no tokens). */
  readonly imageTokens: number;
  readonly pricing: Readonly<Record<string, string>>;
}

/** Seedream and FLUX at OpenRouter: 1K and 2K per ratio (about 1 and 4 megapixels). */
const FLUX_SIZES: GoogleSizeTable = Object.fromEntries(
  Object.entries(GEMINI_25_FLASH_IMAGE_SIZES).map(([ratio, row]) => {
    const [w, h] = (row['1K'] ?? '1024x1024').split('x').map(Number) as [number, number];
    return [ratio, { '1K': `${w}x${h}`, '2K': `${w * 2}x${h * 2}` }];
  }),
);

export const SIM_MODELS: Readonly<Record<string, OpenRouterSimModel>> = {
  'google/gemini-2.5-flash-image': {
    name: 'Google: Nano Banana (Gemini 2.5 Flash Image)',
    inputModalities: ['image', 'text'],
    outputModalities: ['image', 'text'],
    sizes: GEMINI_25_FLASH_IMAGE_SIZES,
    tiers: ['1K'],
    imageTokens: 1290,
    pricing: { prompt: '0.0000003', completion: '0.0000025', image: '0.0000003', image_output: '0.00003', request: '0' },
  },
  'google/gemini-3-pro-image-preview': {
    name: 'Google: Nano Banana Pro (Gemini 3 Pro Image Preview)',
    inputModalities: ['image', 'text'],
    outputModalities: ['image', 'text'],
    sizes: GEMINI_3_PRO_IMAGE_SIZES,
    tiers: ['1K', '2K', '4K'],
    imageTokens: 1120,
    pricing: { prompt: '0.000002', completion: '0.000012', image: '0.000002', image_output: '0.00012', request: '0' },
  },
  'bytedance-seed/seedream-4.5': {
    name: 'ByteDance Seed: Seedream 4.5',
    inputModalities: ['image', 'text'],
    outputModalities: ['image'],
    sizes: FLUX_SIZES,
    tiers: ['1K', '2K'],
    imageTokens: 0,
    pricing: { prompt: '0', completion: '0', image_output: '0.04', request: '0' },
  },
  'black-forest-labs/flux.2-pro': {
    name: 'Black Forest Labs: FLUX.2 Pro',
    inputModalities: ['text', 'image'],
    outputModalities: ['image'],
    sizes: FLUX_SIZES,
    tiers: ['1K', '2K'],
    imageTokens: 0,
    pricing: { prompt: '0', completion: '0', image_output: '0.03', request: '0' },
  },
  'black-forest-labs/flux.2-klein-4b': {
    name: 'Black Forest Labs: FLUX.2 Klein 4B',
    inputModalities: ['text', 'image'],
    outputModalities: ['image'],
    sizes: FLUX_SIZES,
    tiers: ['1K'],
    imageTokens: 0,
    pricing: { prompt: '0', completion: '0', image_output: '0.014', request: '0' },
  },
  // A text model: not in the image list, refused as an image model.
  'openai/gpt-4o-mini': {
    name: 'OpenAI: GPT-4o-mini',
    inputModalities: ['text', 'image'],
    outputModalities: ['text'],
    sizes: {},
    tiers: [],
    imageTokens: 0,
    pricing: { prompt: '0.00000015', completion: '0.0000006' },
  },
};

const RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];
const TIERS = ['1K', '2K', '4K'];
const INPUT_IMAGE_TOKENS = 258;

export interface OpenRouterSimulatorOptions {
  /** The key taken; unset: any key. */
  apiKey?: string;
  /** Images the account can pay for; after them every generation is a 402. Unset: no limit. */
  creditImages?: number;
  /** The model list answers 500. */
  listFails?: boolean;
  /** Added before every generation (default 0). */
  latencyMs?: number;
  /** Models listed and served besides SIM_MODELS (e.g. one that takes no input images). */
  extraModels?: Readonly<Record<string, OpenRouterSimModel>>;
}

/** A scripted error answer for the next generation(s). */
export interface OpenRouterFault {
  status: number;
  message: string;
  metadata?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

export interface OpenRouterRecordedCall {
  body: Record<string, unknown>;
  headers: Record<string, string | undefined>;
}

export class OpenRouterSimulator implements SimHandler {
  /** Chat completion calls, oldest first. */
  readonly calls: OpenRouterRecordedCall[] = [];
  /** Calls that made an image. */
  generations = 0;
  /** GET /models calls. */
  listCalls = 0;
  aborted = 0;
  listFails: boolean;
  private readonly faults: OpenRouterFault[] = [];
  private readonly models: Readonly<Record<string, OpenRouterSimModel>>;

  constructor(private readonly opts: OpenRouterSimulatorOptions = {}) {
    this.listFails = opts.listFails ?? false;
    this.models = { ...SIM_MODELS, ...opts.extraModels };
  }

  enqueueFault(...faults: OpenRouterFault[]): void {
    this.faults.push(...faults);
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://openrouter-simulator.invalid');
    const method = req.method.toUpperCase();
    const denied = this.checkKey(req);
    if (method === 'GET' && url.pathname === '/api/v1/models') {
      this.listCalls += 1;
      return this.listFails ? orError(500, 'Internal Server Error') : this.modelList(url.searchParams.get('output_modalities'));
    }
    if (method !== 'POST' || url.pathname !== '/api/v1/chat/completions') return orError(404, `Not Found: ${method} ${url.pathname}`);
    const json = parseJson(req.body);
    this.calls.push({ body: isObject(json) ? json : {}, headers: { ...req.headers } });
    if (denied) return denied;
    if (!isObject(json)) return orError(400, 'Invalid JSON body');
    const fault = this.faults.shift();
    if (fault) return orError(fault.status, fault.message, fault.metadata, fault.retryAfterSeconds);
    if (this.opts.creditImages !== undefined && this.generations >= this.opts.creditImages) {
      return orError(402, 'Insufficient credits. Add more using https://openrouter.ai/settings/credits');
    }
    if ((this.opts.latencyMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, this.opts.latencyMs));
    return this.chat(json);
  }

  private checkKey(req: SimRequest): SimResponse | undefined {
    const key = bearerToken(req.headers);
    if (key === undefined) return orError(401, 'No auth credentials found');
    if (this.opts.apiKey !== undefined && key !== this.opts.apiKey) return orError(401, 'User not found.');
    return undefined;
  }

  private modelList(outputModality: string | null): SimResponse {
    const data = Object.entries(this.models)
      .filter(([, m]) => outputModality === null || m.outputModalities.includes(outputModality))
      .map(([id, m]) => ({
        id,
        canonical_slug: id,
        name: m.name,
        created: 1_760_000_000,
        description: m.name,
        context_length: 32_768,
        architecture: {
          modality: `${m.inputModalities.join('+')}->${m.outputModalities.join('+')}`,
          input_modalities: m.inputModalities,
          output_modalities: m.outputModalities,
          tokenizer: 'Other',
          instruct_type: null,
        },
        pricing: m.pricing,
        top_provider: { context_length: 32_768, max_completion_tokens: 8192, is_moderated: false },
        per_request_limits: null,
        supported_parameters: m.outputModalities.includes('text') ? ['max_tokens', 'temperature', 'seed', 'response_format'] : ['seed'],
        default_parameters: null,
      }));
    return jsonResponse(200, { data });
  }

  private async chat(body: Record<string, unknown>): Promise<SimResponse> {
    const slug = typeof body.model === 'string' ? body.model : '';
    const model = this.models[slug];
    if (!model) return orError(404, `No endpoints found for ${slug}.`);
    const read = readMessages(body.messages);
    if (typeof read === 'string') return orError(400, read);
    const modalities = Array.isArray(body.modalities) ? body.modalities : ['text'];
    if (!modalities.every((m) => model.outputModalities.includes(String(m)))) {
      return orError(404, `No endpoints found that support the requested output modalities: ${modalities.join(', ')}`);
    }
    if (read.inputs.length > 0 && !model.inputModalities.includes('image')) return orError(404, 'No endpoints found that support image input');
    const config = isObject(body.image_config) ? body.image_config : {};
    const ratio = config.aspect_ratio ?? (read.inputs[0] ? await nearestRatio(read.inputs[0]) : '1:1');
    if (typeof ratio !== 'string' || !RATIOS.includes(ratio)) return orError(400, `image_config.aspect_ratio must be one of ${RATIOS.join(', ')}`);
    const tier = config.image_size ?? '1K';
    if (typeof tier !== 'string' || !TIERS.includes(tier)) return orError(400, `image_config.image_size must be one of ${TIERS.join(', ')}`);
    const promptTokens = Math.ceil(read.prompt.length / 4) + read.inputs.length * INPUT_IMAGE_TOKENS;
    const answer = (message: Record<string, unknown>, finish: string, native: string, imageTokens: number) =>
      jsonResponse(200, {
        id: `gen-${Date.now()}-${this.calls.length}`,
        provider: slug.split('/')[0],
        model: slug,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        choices: [{ index: 0, logprobs: null, finish_reason: finish, native_finish_reason: native, message: { role: 'assistant', ...message } }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: imageTokens + (model.outputModalities.includes('text') ? 8 : 0),
          total_tokens: promptTokens + imageTokens + (model.outputModalities.includes('text') ? 8 : 0),
          completion_tokens_details: { reasoning_tokens: 0, image_tokens: imageTokens },
          cost: 0.039,
        },
      });
    if (read.prompt.includes('[sim:moderation]')) {
      return orError(403, `${slug} requires moderation on OpenRouter. Your input was flagged for "violence".`, {
        reasons: ['violence'],
        flagged_input: read.prompt.slice(0, 100),
        provider_name: 'OpenRouter',
        model_slug: slug,
      });
    }
    if (read.prompt.includes('[sim:image-safety]')) return answer({ content: null, refusal: null }, 'content_filter', 'IMAGE_SAFETY', 0);
    if (read.prompt.includes('[sim:model-error]')) {
      return jsonResponse(200, {
        id: 'gen-error',
        choices: [],
        error: { code: 502, message: 'Provider returned error', metadata: { provider_name: 'Google', raw: 'upstream overloaded' } },
      });
    }
    if (read.prompt.includes('[sim:text-only]')) return answer({ content: 'I would rather describe it.' }, 'stop', 'STOP', 0);
    if (!model.tiers.includes(tier)) return orError(400, `image_config.image_size ${tier} is not supported by ${slug}`);
    const [width, height] = (model.sizes[ratio]?.[tier] ?? '1024x1024').split('x').map(Number) as [number, number];
    const text = `openrouter simulator · ${slug} · ${read.prompt}`;
    const bytes =
      read.inputs.length > 0
        ? await renderEdit({ width, height, format: 'png', text, inputs: read.inputs, variant: this.generations })
        : await renderImage({ width, height, format: 'png', text, variant: this.generations });
    this.generations += 1;
    const said = model.outputModalities.includes('text') ? { content: 'Here is your image.' } : { content: '' };
    return answer(
      { ...said, images: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${bytes.toString('base64')}` } }] },
      'stop',
      'STOP',
      model.imageTokens,
    );
  }
}

/** OpenRouter's error envelope, with the same status as its code. */
function orError(status: number, message: string, metadata?: Record<string, unknown>, retryAfterSeconds?: number): SimResponse {
  const response = jsonResponse(status, { error: { code: status, message, ...(metadata ? { metadata } : {}) } });
  if (response.kind === 'full' && retryAfterSeconds !== undefined) response.headers['retry-after'] = String(retryAfterSeconds);
  return response;
}

/** The prompt and the input images of the last user message. */
function readMessages(messages: unknown): { prompt: string; inputs: Buffer[] } | string {
  if (!Array.isArray(messages) || messages.length === 0) return 'messages must be a non-empty array';
  const last = messages.at(-1);
  if (!isObject(last) || last.role !== 'user') return 'the last message must be a user message';
  if (typeof last.content === 'string') return { prompt: last.content, inputs: [] };
  if (!Array.isArray(last.content)) return 'messages[0].content must be a string or an array of content parts';
  const texts: string[] = [];
  const inputs: Buffer[] = [];
  for (const part of last.content) {
    if (isObject(part) && part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
    else if (isObject(part) && part.type === 'image_url' && isObject(part.image_url) && typeof part.image_url.url === 'string') {
      const match = /^data:image\/(png|jpeg|webp|gif);base64,(.*)$/s.exec(part.image_url.url);
      if (!match) return 'image_url.url must be a data URI or an https URL of an image';
      inputs.push(Buffer.from(match[2] ?? '', 'base64'));
    } else return 'content parts must be text or image_url';
  }
  const prompt = texts.join('\n');
  if (prompt.trim() === '') return 'messages[0].content has no text';
  return { prompt, inputs };
}

async function nearestRatio(image: Buffer): Promise<string> {
  const { width = 1, height = 1 } = await sharp(image).metadata();
  const shape = Math.log(width / height);
  let best = '1:1';
  for (const ratio of RATIOS) {
    const [w, h] = ratio.split(':').map(Number) as [number, number];
    const [bw, bh] = best.split(':').map(Number) as [number, number];
    if (Math.abs(Math.log(w / h) - shape) < Math.abs(Math.log(bw / bh) - shape)) best = ratio;
  }
  return best;
}

export type RunningOpenRouterSimulator = RunningServer<OpenRouterSimulator> & {
  /** An openrouter channel's base_url: {origin}/api/v1 (OpenRouter's is https://openrouter.ai/api/v1). */
  baseUrl: string;
};

export async function startOpenRouterSimulator(opts: OpenRouterSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningOpenRouterSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer(() => new OpenRouterSimulator(simOpts), { host, port });
  return { ...running, baseUrl: `${running.origin}/api/v1` };
}
