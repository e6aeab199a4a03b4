/**
 * Submit-then-poll as one call: what a sync request does with an async upstream. Polls back off
 * from the channel's interval, survive transient poll errors, and give up at the deadline.
 */
import type { ChannelCall } from '../core/channel.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../core/job.js';
import { sleepUnlessAborted } from '../core/sleep.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import type { AsyncProvider, UpstreamTaskState } from './provider.js';

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

export function pollOptionsFor(call: ChannelCall): PollOptions {
  const intervalMs = call.channel.pollIntervalMs ?? DEFAULT_POLL.intervalMs;
  return { ...DEFAULT_POLL, intervalMs, maxIntervalMs: Math.max(intervalMs, DEFAULT_POLL.maxIntervalMs), deadlineMs: call.channel.timeoutMs };
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

/** Polls a task already submitted (also after a restart, from its stored id) until it ends. */
export async function pollUntilDone(
  provider: AsyncProvider,
  upstreamTaskId: string,
  call: ChannelCall,
  signal: AbortSignal,
  opts: PollOptions = pollOptionsFor(call),
): Promise<ProviderResult> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.deadlineMs;
  let interval = opts.intervalMs;
  for (;;) {
    const wait = Math.min(interval, deadline - now());
    if (wait < 0) throw new UpstreamFailure('timeout', `upstream task ${upstreamTaskId} not done within ${Math.round(opts.deadlineMs / 1000)}s`);
    await sleepUnlessAborted(wait, signal);
    const state = await pollOnce(provider, upstreamTaskId, call, signal);
    if (state?.status === 'succeeded') return state.result;
    if (state?.status === 'failed') throw new UpstreamFailure('task_failed', state.reason);
    interval = Math.min(interval * opts.backoff, opts.maxIntervalMs);
  }
}

/** One poll; a transient failure (connection, 5xx, 429) just means "ask again later". */
async function pollOnce(provider: AsyncProvider, id: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState | null> {
  try {
    return await provider.poll(id, call, signal);
  } catch (err) {
    // A 404 on a poll means the task is gone, not that another channel lacks the model.
    if (err instanceof UpstreamFailure && err.retryable && !(err.kind === 'http' && err.status === 404)) return null;
    throw err;
  }
}
