import type { Channel, ChannelCall } from '../core/channel.js';
import type { GatewayError } from '../core/errors.js';
import type { ArrivingResult, ImageJob, ProviderHooks, ProviderResult } from '../core/job.js';

/**
 * One upstream protocol. Takes a job and a channel call, returns images or throws
 * UpstreamFailure. Never touches the database, billing or the client's HTTP request.
 */
export interface Provider {
  /**
   * `hooks.onPartial`: the job streams; a provider whose upstream streams forwards partial images
   * to it as they arrive. `hooks.onSubmitted`: async providers report their upstream task id.
   */
  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult>;
  /**
   * Sync answers: may hand the answer over while its images are still arriving (once
   * the upstream has committed to it), so the gateway never holds it whole. Without it, generate.
   */
  generateArriving?(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult | ArrivingResult>;
  /**
   * Async kinds: poll an upstream task submitted earlier (after a restart) until it ends.
   * `hooks.onSubmitted`: a job made of several upstream tasks in turn (Midjourney's grid, then its
   * upscales) reports its stored id again as it submits the next, so a later resume skips it.
   */
  resume?(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult>;
  /**
   * false when this protocol cannot carry the job (e.g. uploaded images to a URL-only API); default
   * true. `channel`: an aggregator (fal, Replicate, OpenRouter) takes a model only where it knows
   * the upstream's name for it, built in or in the channel's model_map.
   */
  accepts?(job: ImageJob, channel: Channel): boolean;
  /**
   * A field of the job this upstream would refuse (an official upstream and a relay-only object
   * `background`), as the client's 400 when no other channel serving the model takes the job.
   */
  refuses?(job: ImageJob): GatewayError | undefined;
}

/** Where an upstream task stands. */
export type UpstreamTaskState =
  | { readonly status: 'pending' | 'running'; readonly progress?: number }
  | { readonly status: 'succeeded'; readonly result: ProviderResult }
  | { readonly status: 'failed'; readonly reason: string; readonly code?: string };

/**
 * An upstream that works as submit-then-poll. Submit and poll are separate so a caller can
 * persist the upstream task id and resume polling after a restart without submitting twice.
 * `generate` (submit + poll until done) comes from pollUntilDone in async-polling.ts.
 */
export interface AsyncProvider extends Provider {
  submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }>;
  poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState>;
}
