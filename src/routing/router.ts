/**
 * Runs a job on the channels that serve its model: the highest priority tier first, weighted
 * random within it, skipping channels that are disabled, circuit-open, parked by Retry-After or
 * at their concurrency cap. A retryable failure moves on to the next choice; attempts are bounded
 * by a count and an overall deadline. The caller's own errors (400) go back at once.
 */
import type { Channel, ChannelCall } from '../core/channel.js';
import { GatewayError } from '../core/errors.js';
import type { ImageJob, PartialImageListener, ProviderHooks, ProviderResult } from '../core/job.js';
import { sleepUnlessAborted } from '../core/sleep.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ChannelRegistry } from './channel-registry.js';
import { keyFingerprint, type ChannelStore } from './channel-store.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import { clientErrorFor } from './client-error.js';
import type { ConcurrencyLimiter } from './concurrency.js';
import { chooseChannel } from './select.js';

export interface AttemptRecord {
  channel: string;
  outcome: 'ok' | string;
  latencyMs: number;
}

export interface RoutedResult {
  result: ProviderResult;
  channel: Channel;
  attempts: AttemptRecord[];
}

export interface RoutingSettings {
  maxAttempts: number;
  /** Overall budget of one request across all its attempts. */
  deadlineMs: number;
  /** Longest we wait for a Retry-After to pass when nothing else can serve. */
  maxRetryWaitMs: number;
}

export interface RouterDeps {
  registry: ChannelRegistry;
  store: ChannelStore;
  providers: ProviderRegistry;
  breakers: CircuitBreakers;
  limiter: ConcurrencyLimiter;
  settings: RoutingSettings;
  now?: () => number;
  random?: () => number;
  onKeyDisabled?: (channel: string, reason: string) => void;
}

type Attempt = { kind: 'ok'; routed: RoutedResult } | { kind: 'failed'; failure: UpstreamFailure; channel: Channel };

export class ChannelRouter {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly keyTurns = new Map<string, number>();

  constructor(private readonly deps: RouterDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  /**
   * `onPartial` (streams): partial images are forwarded as they arrive. Once one has reached the
   * client, a failure is final: another channel's image would not match what it already saw.
   */
  async generate(job: ImageJob, signal: AbortSignal, attempts: AttemptRecord[] = [], hooks: RouteHooks = {}): Promise<RoutedResult> {
    const { onPartial } = hooks;
    const { settings } = this.deps;
    const deadline = this.now() + settings.deadlineMs;
    const tried = new Set<string>();
    let forwarded = false;
    const forward: PartialImageListener | undefined = onPartial
      ? (partial) => {
          forwarded = true;
          onPartial(partial);
        }
      : undefined;
    let last: { failure: UpstreamFailure; channel: Channel } | undefined;
    while (attempts.length < settings.maxAttempts && this.now() < deadline) {
      const channel = await this.nextChannel(job, tried, deadline, signal);
      if (!channel) break;
      const outcome = await this.attempt(job, channel, deadline, signal, attempts, providerHooks(channel, forward, hooks.onSubmitted));
      if (outcome.kind === 'ok') return outcome.routed;
      last = { failure: outcome.failure, channel: outcome.channel };
      tried.add(channel.id);
      if (forwarded || !this.shouldTryNext(outcome.failure)) break;
    }
    if (last) throw clientErrorFor(last.failure, last.channel.apiKeys);
    throw this.noChannelError(job);
  }

  /**
   * Picks up an async upstream task a previous run submitted (a task after a restart): polls it
   * on the channel that holds it, never submitting again. The channel must still exist.
   */
  async resume(job: ImageJob, channelId: string, upstreamTaskId: string, signal: AbortSignal, attempts: AttemptRecord[] = []): Promise<RoutedResult> {
    const channel = this.deps.registry.usableFor(job.model.id).find((c) => c.id === channelId);
    const provider = channel ? this.deps.providers[channel.kind] : undefined;
    if (!channel || !provider?.resume) {
      throw new GatewayError(502, 'server_error', 'upstream_unavailable', null, 'The channel that holds this task upstream is no longer available.');
    }
    const started = this.now();
    try {
      const result = await provider.resume(upstreamTaskId, { channel, apiKey: channel.apiKeys[0] }, signal);
      attempts.push({ channel: channel.name, outcome: 'ok', latencyMs: this.now() - started });
      return { result, channel, attempts };
    } catch (err) {
      if (!(err instanceof UpstreamFailure)) throw err;
      attempts.push({ channel: channel.name, outcome: outcomeOf(err), latencyMs: this.now() - started });
      throw clientErrorFor(err, channel.apiKeys);
    }
  }

  /** Channels that serve the model and whose protocol can carry this job (inputs, operation). */
  private candidates(job: ImageJob): Channel[] {
    return this.deps.registry.usableFor(job.model.id).filter((c) => this.deps.providers[c.kind].accepts?.(job) ?? true);
  }

  /** Untried channels first; then tried ones again (another key, a second chance). */
  private async nextChannel(job: ImageJob, tried: ReadonlySet<string>, deadline: number, signal: AbortSignal): Promise<Channel | undefined> {
    const usable = this.candidates(job);
    const available = usable.filter((c) => this.deps.breakers.isAvailable(c.id) && this.deps.limiter.hasRoom(c.id, c.maxConcurrent));
    const fresh = available.filter((c) => !tried.has(c.id));
    const choice = chooseChannel(fresh.length > 0 ? fresh : available, this.random);
    if (choice) return choice;
    // Everything is parked by Retry-After or an open circuit: wait if it ends soon enough.
    const soonest = this.soonestAvailable(usable);
    const wait = soonest - this.now();
    if (!Number.isFinite(soonest) || wait > this.deps.settings.maxRetryWaitMs || soonest >= deadline) return undefined;
    await sleepUnlessAborted(wait, signal);
    return this.nextChannel(job, tried, deadline, signal);
  }

  private async attempt(
    job: ImageJob,
    channel: Channel,
    deadline: number,
    signal: AbortSignal,
    attempts: AttemptRecord[],
    hooks: ProviderHooks,
  ): Promise<Attempt> {
    const release = this.deps.limiter.tryAcquire(channel.id, channel.maxConcurrent);
    if (!release) return { kind: 'failed', channel, failure: new UpstreamFailure('connection', 'channel at its concurrency cap') };
    const call: ChannelCall = { channel: { ...channel, timeoutMs: Math.max(1, Math.min(channel.timeoutMs, deadline - this.now())) }, apiKey: this.nextKey(channel) };
    const started = this.now();
    this.deps.breakers.onAttempt(channel.id);
    try {
      const result = await this.deps.providers[channel.kind].generate(job, call, signal, hooks);
      this.deps.breakers.onSuccess(channel.id);
      attempts.push({ channel: channel.name, outcome: 'ok', latencyMs: this.now() - started });
      return { kind: 'ok', routed: { result, channel, attempts } };
    } catch (err) {
      if (!(err instanceof UpstreamFailure)) throw err;
      attempts.push({ channel: channel.name, outcome: outcomeOf(err), latencyMs: this.now() - started });
      await this.learnFrom(err, call);
      return { kind: 'failed', failure: err, channel };
    } finally {
      release();
    }
  }

  /** What a failure teaches about the channel's health. */
  private async learnFrom(failure: UpstreamFailure, call: ChannelCall): Promise<void> {
    const { channel } = call;
    if (isAuthFailure(failure)) {
      await this.disableKey(call, failure);
      return;
    }
    if (failure.kind === 'http' && failure.status === 429 && failure.retryAfterMs !== undefined) {
      this.deps.breakers.retryAfter(channel.id, failure.retryAfterMs);
    }
    if (failure.retryable) this.deps.breakers.onFailure(channel.id, failure.message);
  }

  /** An upstream 401/403 means the key is bad: stop using it (or the channel, if it has no other). */
  private async disableKey({ channel, apiKey }: ChannelCall, failure: UpstreamFailure): Promise<void> {
    const reason = `upstream answered ${failure.status ?? 'auth error'} at ${new Date(this.now()).toISOString()}`;
    if (apiKey === undefined) {
      await this.deps.store.disableChannel(channel.id, reason);
    } else {
      await this.deps.store.disableKey(channel.id, keyFingerprint(apiKey), reason);
    }
    this.deps.onKeyDisabled?.(channel.name, reason);
    await this.deps.registry.refresh();
  }

  private shouldTryNext(failure: UpstreamFailure): boolean {
    return failure.retryable || isAuthFailure(failure);
  }

  private nextKey(channel: Channel): string | undefined {
    if (channel.apiKeys.length === 0) return undefined;
    const turn = this.keyTurns.get(channel.id) ?? 0;
    this.keyTurns.set(channel.id, turn + 1);
    return channel.apiKeys[turn % channel.apiKeys.length];
  }

  /** When the first of these parked channels may be tried again (Infinity if none is parked). */
  private soonestAvailable(channels: readonly Channel[]): number {
    return Math.min(...channels.map((c) => this.deps.breakers.availableAt(c.id) ?? Infinity));
  }

  private noChannelError(job: ImageJob): GatewayError {
    const modelId = job.model.id;
    const usable = this.candidates(job);
    if (usable.length === 0 && this.deps.registry.usableFor(modelId).length > 0) {
      return new GatewayError(
        400,
        'invalid_request_error',
        'unsupported_input',
        'image',
        `No channel serving ${modelId} can take this ${job.operation}'s input images (task-API channels take image URLs only).`,
      );
    }
    if (usable.length === 0) {
      return new GatewayError(503, 'server_error', 'no_available_channel', null, `No enabled channel serves ${modelId}.`);
    }
    const soonest = this.soonestAvailable(usable);
    const headers: Record<string, string> = Number.isFinite(soonest) ? { 'retry-after': String(Math.max(1, Math.ceil((soonest - this.now()) / 1000))) } : {};
    return new GatewayError(503, 'server_error', 'no_available_channel', null, `Every channel serving ${modelId} is unavailable right now (failing, rate limited or at capacity); try again shortly.`, headers);
  }
}

function isAuthFailure(failure: UpstreamFailure): boolean {
  return failure.kind === 'http' && (failure.status === 401 || failure.status === 403);
}

function outcomeOf(failure: UpstreamFailure): string {
  return failure.kind === 'http' ? `http_${failure.status ?? 0}` : failure.kind;
}

/** What a router caller hears: partial images (streams) and async submissions, with their channel. */
export interface RouteHooks {
  onPartial?: PartialImageListener;
  onSubmitted?: (channelId: string, upstreamTaskId: string) => Promise<void>;
}

function providerHooks(channel: Channel, onPartial: PartialImageListener | undefined, onSubmitted: RouteHooks['onSubmitted']): ProviderHooks {
  return {
    ...(onPartial ? { onPartial } : {}),
    ...(onSubmitted ? { onSubmitted: (upstreamTaskId: string) => onSubmitted(channel.id, upstreamTaskId) } : {}),
  };
}
