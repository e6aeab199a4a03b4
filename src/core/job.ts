import type { ResolvedInputs } from './image-input.js';
import type { ModelSpec } from './models.js';
import type { Rope } from './rope.js';

export type ResponseFormat = 'url' | 'b64_json';
/** svg: vector models (Recraft's `_vector` models); never converted to or from pixels. */
export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'svg';
export type Background = 'transparent' | 'opaque' | 'auto';
export type Moderation = 'low' | 'auto';
export type InputFidelity = 'high' | 'low';

/**
 * A field given as an object where OpenAI takes an enum (`background`, dall-e-3's `style`): relay
 * gateways document it and pass it on to their own upstreams as given. Only relay channels get
 * it; an official upstream would refuse it.
 */
export type RelayObject = Readonly<Record<string, unknown>>;

export function isRelayObject(value: unknown): value is RelayObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One validated image request, the unit every later stage works on. Built by http/ from
 * whatever dialect the client spoke; providers turn it into their upstream's wire format.
 */
export interface ImageJob {
  /** The request id (x-request-id), also the id of the request log row. */
  readonly id: string;
  /** edit: from input images (an /edits call, or a generation with reference images); variation: dall-e-2. */
  readonly operation: 'generate' | 'edit' | 'variation';
  readonly model: ModelSpec;
  /** A text description of the desired image(s); empty for variations. */
  readonly prompt: string;
  /** Checked input images (edits, variations, reference images); none for a plain generation. */
  readonly inputs: ResolvedInputs;
  /** GPT image edits: how closely to keep the input images' features. */
  readonly inputFidelity?: InputFidelity;
  /** How many images to generate, 1-10 (dall-e-3: 1). */
  readonly n: number;
  /** `auto` or `WIDTHxHEIGHT`, already checked against the model's rules. */
  readonly size: string;
  /** The quality enum of the model's family (`auto` lets the model choose). */
  readonly quality: string;
  /** How the client wants the images back; never sent to a GPT image upstream. */
  readonly responseFormat: ResponseFormat;
  /** One of the model's output formats (GPT image models: png, jpeg or webp; vector models: svg). */
  readonly outputFormat?: OutputFormat;
  /** GPT image models with jpeg/webp: 0-100. */
  readonly outputCompression?: number;
  /** GPT image models: the enum, or an object for relay channels (a relay gateway extension). */
  readonly background?: Background | RelayObject;
  readonly moderation?: Moderation;
  /** dall-e-3: vivid or natural, or an object for relay channels; other models: passed through as given (a relay gateway extension). */
  readonly style?: unknown;
  /** Tri-state (a relay gateway extension): undefined = not sent, false = explicitly off. */
  readonly watermark?: boolean;
  /** A stable id of the caller's end user. */
  readonly user?: string;
  /** Channel-specific metadata, passed through as given. */
  readonly metadata?: unknown;
  /** Set when the client asked for a server-sent event stream (GPT image models). */
  readonly stream?: { readonly partialImages: number };
  /** Fields imagegate does not know, passed as-is to OpenAI-compatible upstreams. */
  readonly passthrough: Readonly<Record<string, unknown>>;
}

/**
 * One image as an upstream handed it over, before output/ normalizes it. Base64 stays bytes
 * (ASCII, usually slices of the upstream's answer as it arrived): never a multi-megabyte JS string.
 */
export type UpstreamImage =
  | { readonly kind: 'b64'; readonly base64: Rope; readonly revisedPrompt?: string }
  | { readonly kind: 'url'; readonly url: string; readonly revisedPrompt?: string };

/** Token usage as OpenAI reports it for GPT image models. */
export interface ImageUsage {
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  input_tokens_details?: { text_tokens: number; image_tokens: number };
  [extra: string]: unknown;
}

/** What a provider returns: the images plus whatever the upstream said about them. */
export interface ProviderResult {
  readonly images: readonly UpstreamImage[];
  readonly usage?: ImageUsage;
  readonly size?: string;
  readonly quality?: string;
  readonly background?: string;
  readonly outputFormat?: string;
  readonly metadata?: unknown;
}

/** What the upstream said about the result besides its images. */
export type ResultFields = Omit<ProviderResult, 'images'>;

/**
 * A piece of an upstream answer that is still arriving: each image's base64 as it comes (clean
 * ASCII, no JSON escapes), in order, never whole.
 */
export type ArrivingEvent =
  | { readonly type: 'b64-start' }
  | { readonly type: 'b64'; readonly bytes: Buffer }
  /** One item of the answer ended: its revised prompt, or (it carried no b64_json) the image it held. */
  | { readonly type: 'item-end'; readonly revisedPrompt?: string; readonly image?: UpstreamImage };

/**
 * An answer handed over while its images are still arriving (sync requests): read it to
 * its end, or return() to drop it (the upstream connection is released either way). Failures
 * while reading are UpstreamFailure; they come after the route committed, so nothing fails over.
 */
export interface ArrivingResult {
  readonly kind: 'arriving';
  readonly events: AsyncGenerator<ArrivingEvent, ResultFields, undefined>;
}

export function isArriving(result: ProviderResult | ArrivingResult): result is ArrivingResult {
  return 'kind' in result && result.kind === 'arriving';
}

/** A partial image an upstream streamed while still generating: what its event said besides the image. */
export interface PartialImage {
  /** Which of the `n` images it previews. */
  readonly imageIndex: number;
  /** 0-based, per image. */
  readonly partialIndex: number;
  readonly size?: string;
  readonly quality?: string;
  readonly background?: string;
  readonly outputFormat?: string;
}

/**
 * Partial images as they arrive; streams forward each piece to the client at once. Per partial:
 * start, its base64 in pieces (clean ASCII), then end with what the event said. A failure between
 * start and end leaves the partial unfinished (the stream is then cut).
 */
export interface PartialImageListener {
  start(imageIndex: number): void;
  piece(base64: Buffer): void;
  end(partial: PartialImage): void;
}

/** What a caller wants to hear while a provider works. */
export interface ProviderHooks {
  /** Streams: each partial image as it arrives. */
  onPartial?: PartialImageListener;
  /** Async upstreams: the upstream task id, as soon as it exists (tasks store it to resume, never resubmit). */
  onSubmitted?: (upstreamTaskId: string) => Promise<void>;
}
