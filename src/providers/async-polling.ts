/**
 * Submit-then-poll as one call: what a routed attempt does with an async upstream. The submit and
 * each poll are single requests bounded by the channel's timeout; the polling as a whole lasts
 * until the job's deadline (the call's `deadlineAt`), so an upstream task that outlasts the
 * channel's timeout is waited for, never abandoned. Polls back off from the channel's interval and
 * ride out transient errors (waiting at least what a Retry-After asks).
 */
import type { ChannelCall } from '../core/channel.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../core/job.js';
import { sleepUnlessAborted } from '../core/sleep.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import type { AsyncProvider } from './provider.js';

export interface PollOptions {
  /** First wait before polling; later waits grow by `backoff` up to `maxIntervalMs`. */
  intervalMs: number;
  maxIntervalMs: number;
  backoff: number;
  /** Overall budget for submit + polls. */
  deadlineMs: number;
  now?: () => number;
}

export const DEFAULT_POLL: Omit<PollOptions, 'deadlineMs'> = { intervalMs: 1_000, maxIntervalMs: 10_000, backoff: 1.5 };

/** Polls until the call's deadline; without one (a bare provider call), for the channel's timeout. */
export function pollOptionsFor(call: ChannelCall, now: () => number = Date.now): PollOptions {
  const intervalMs = call.channel.pollIntervalMs ?? DEFAULT_POLL.intervalMs;
  const deadlineMs = call.deadlineAt !== undefined ? Math.max(0, call.deadlineAt - now()) : call.channel.timeoutMs;
  return { ...DEFAULT_POLL, intervalMs, maxIntervalMs: Math.max(intervalMs, DEFAULT_POLL.maxIntervalMs), deadlineMs, now };
}

export async function submitAndPoll(
  provider: AsyncProvider,
  job: ImageJob,
  call: ChannelCall,
  signal: AbortSignal,
  hooks: ProviderHooks = {},
  opts: PollOptions = pollOptionsFor(call),
): Promise<ProviderResult> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.deadlineMs;
  const { upstreamTaskId } = await provider.submit(job, call, signal);
  await hooks.onSubmitted?.(upstreamTaskId);
  return pollUntilDone(provider, upstreamTaskId, call, signal, { ...opts, deadlineMs: Math.max(0, deadline - now()) });
}

/**
 * submitAndPoll that hands the upstream id to `cleanUp` when the wait fails after the submit: a
 * vendor that cancels jobs nobody will come back for (fal's requests, Replicate's predictions).
 */
export async function submitAndPollWithCleanup(
  provider: AsyncProvider,
  job: ImageJob,
  call: ChannelCall,
  signal: AbortSignal,
  hooks: ProviderHooks,
  cleanUp: (upstreamTaskId: string, err: unknown) => void,
): Promise<ProviderResult> {
  let submitted: string | undefined;
  const tracked: ProviderHooks = {
    ...hooks,
    onSubmitted: async (upstreamTaskId) => {
      submitted = upstreamTaskId;
      await hooks.onSubmitted?.(upstreamTaskId);
    },
  };
  try {
    return await submitAndPoll(provider, job, call, signal, tracked);
  } catch (err) {
    if (submitted !== undefined) cleanUp(submitted, err);
    throw err;
  }
}

/** Polls a task already submitted (also after a restart, from its stored id) until it ends. */
export function pollUntilDone(
  provider: AsyncProvider,
  upstreamTaskId: string,
  call: ChannelCall,
  signal: AbortSignal,
  opts: PollOptions = pollOptionsFor(call),
): Promise<ProviderResult> {
  return pollUntil((pollSignal) => provider.poll(upstreamTaskId, call, pollSignal), `upstream task ${upstreamTaskId}`, signal, opts);
}

/** Where a polled upstream job stands; `T` is what it ends with (a provider's result, or a job a later step needs). */
export type PolledState<T> =
  | { readonly status: 'pending' | 'running' }
  | { readonly status: 'succeeded'; readonly result: T }
  | { readonly status: 'failed'; readonly reason: string };

/**
 * Any upstream job polled to its end, with the same backoff, transient-error riding and deadline:
 * for providers whose job is several upstream tasks in turn (Midjourney's grid, then its upscales).
 */
export async function pollUntil<T>(poll: (signal: AbortSignal) => Promise<PolledState<T>>, what: string, signal: AbortSignal, opts: PollOptions): Promise<T> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.deadlineMs;
  let interval = opts.intervalMs;
  let wait = interval;
  for (;;) {
    const left = deadline - now();
    if (left < 0) throw new UpstreamFailure('timeout', `${what} not done within ${Math.round(opts.deadlineMs / 1000)}s`);
    await sleepUnlessAborted(Math.min(wait, left), signal);
    const polled = await pollOnce(poll, signal);
    if (polled.kind === 'state' && polled.state.status === 'succeeded') return polled.state.result;
    if (polled.kind === 'state' && polled.state.status === 'failed') throw new UpstreamFailure('task_failed', polled.state.reason);
    interval = Math.min(interval * opts.backoff, opts.maxIntervalMs);
    wait = polled.kind === 'transient' ? Math.max(interval, polled.retryAfterMs ?? 0) : interval;
  }
}

type Polled<T> = { kind: 'state'; state: PolledState<T> } | { kind: 'transient'; retryAfterMs?: number };

/** One poll; a transient failure (connection, timeout, 5xx, 429) just means "ask again later". */
async function pollOnce<T>(poll: (signal: AbortSignal) => Promise<PolledState<T>>, signal: AbortSignal): Promise<Polled<T>> {
  try {
    return { kind: 'state', state: await poll(signal) };
  } catch (err) {
    // A 404 on a poll means the task is gone, not that another channel lacks the model.
    if (err instanceof UpstreamFailure && err.retryable && !(err.kind === 'http' && err.status === 404)) {
      return err.retryAfterMs !== undefined ? { kind: 'transient', retryAfterMs: err.retryAfterMs } : { kind: 'transient' };
    }
    throw err;
  }
}
