import type { SafetyPolicy } from './safety-policy.js';

/** An upstream account the gateway can send jobs to. */
export const CHANNEL_KINDS = [
  'openai',
  'openai-compatible',
  'azure-openai',
  'newapi-async',
  'task-api',
  'recraft',
  'ark',
  'byteplus',
  'gemini',
  'vertex-ai',
  'dashscope',
  'bfl',
  'fal',
  'replicate',
  'openrouter',
  'stability',
  'midjourney',
  'demo',
] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export interface ModelMapping {
  /** The model name (Azure: the deployment name) this channel's upstream knows. */
  upstreamModel?: string;
  /** Parameters forced for this model on this channel (e.g. `size: 3840x2160`). */
  params?: Record<string, unknown>;
}

export interface Channel {
  readonly id: string;
  readonly name: string;
  readonly kind: ChannelKind;
  /**
   * openai / openai-compatible / newapi-async: ends in /v1 as in the OpenAI SDKs.
   * azure-openai: the resource endpoint, e.g. https://res.openai.azure.com.
   * task-api: the API origin, e.g. https://api.example.com.
   * recraft: https://external.api.recraft.ai/v1 (ends in /v1, as in Recraft's OpenAI-SDK examples).
   * openrouter: https://openrouter.ai/api/v1 (its key a bearer token; HTTP-Referer / X-Title attribution in `headers`).
   * ark: https://ark.cn-beijing.volces.com/api/v3; byteplus: https://ark.ap-southeast.bytepluses.com/api/v3
   * (end in /api/v3, as in Ark's and BytePlus's OpenAI-SDK examples).
   * dashscope: the region's origin, https://dashscope-intl.aliyuncs.com (international) or
   * https://dashscope.aliyuncs.com (mainland China); their keys are not interchangeable.
   * gemini: the Gemini API's origin, https://generativelanguage.googleapis.com (its key in `x-goog-api-key`).
   * vertex-ai: a Vertex AI location, https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}
   * (global: https://aiplatform.googleapis.com/v1/projects/{project}/locations/global); its keys are service-account JSON.
   * bfl: Black Forest Labs' origin, https://api.bfl.ai (global) or https://api.eu.bfl.ai / https://api.us.bfl.ai
   * (regional); its key in `x-key`.
   * stability: Stability AI's origin, https://api.stability.ai (its key a bearer token).
   * replicate: https://api.replicate.com/v1 (ends in /v1; its token a bearer token).
   * fal: fal's queue, https://queue.fal.run (its key as `Authorization: Key <key>`; the queue's URLs must stay on this origin).
   * midjourney: a midjourney-proxy server, where its `/mj` routes start: its origin, e.g.
   * https://mj-proxy.example.com, or a relay's mode prefix (https://relay.example.com/mj-fast); its key in `mj-api-secret`.
   */
  readonly baseUrl: string;
  readonly apiKeys: readonly string[];
  /** Public model ids served; `*` serves the whole catalogue. */
  readonly models: readonly string[] | '*';
  readonly modelMap: Readonly<Record<string, ModelMapping>>;
  /** Higher first; channels of one priority form a tier. */
  readonly priority: number;
  /** Share of traffic within its tier (relative; 0 = only when nothing else is left). */
  readonly weight: number;
  /** At most this many requests in flight on this instance; 0 = no cap. */
  readonly maxConcurrent: number;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly enabled: boolean;
  /** azure-openai: the `api-version` query parameter. */
  readonly apiVersion?: string;
  /** Async kinds: first poll delay; later polls back off from it. */
  readonly pollIntervalMs?: number;
  /**
   * openai-compatible: how a generation's reference images (the relays' `image` array) go
   * upstream. `edits` (default): as an edit, multipart to /images/edits. `inline`: the
   * generation body as the client sent it, for relays that take `image` there themselves.
   */
  readonly referenceImages?: ReferenceImageMode;
  /**
   * Vendor kinds whose upstream marks images unless told not to (ark, byteplus: Seedream's visible
   * "AI generated" mark): whether to ask for it when the client's request does not say. Unset: false.
   */
  readonly watermark?: boolean;
  /** What this channel costs relative to OpenAI's list prices (a reseller at 80% is 0.8); default 1. */
  readonly costRatio?: number;
  /**
   * The operator's content-safety policy for what this channel makes; combined with the key's, the
   * stricter winning (core/safety-policy.ts). Unset: none of its own.
   */
  readonly safety?: SafetyPolicy;
}

export const REFERENCE_IMAGE_MODES = ['edits', 'inline'] as const;
export type ReferenceImageMode = (typeof REFERENCE_IMAGE_MODES)[number];

/** One upstream call: the channel and the key chosen for it (routing picks the key). */
export interface ChannelCall {
  readonly channel: Channel;
  /** undefined when the channel has no keys (e.g. demo). */
  readonly apiKey: string | undefined;
  /**
   * Epoch ms by which the job must be done (the request's or the task's deadline). An async
   * upstream's task is polled until then, each request still bounded by the channel's timeout.
   * Unset: the channel's timeout bounds the whole call.
   */
  readonly deadlineAt?: number;
}

export function servesModel(channel: Channel, modelId: string): boolean {
  return channel.models === '*' || channel.models.includes(modelId);
}

/** The upstream model name for a public model on a channel: its mapping, else the catalogue's. */
export function upstreamModelFor(channel: Channel, modelId: string, catalogueUpstream: string): string {
  return channel.modelMap[modelId]?.upstreamModel ?? catalogueUpstream;
}
