/**
 * Runs a job on the channels that serve its model: the highest priority tier first, weighted
 * random within it, skipping channels that are disabled, circuit-open, parked by Retry-After or
 * at their concurrency cap. A retryable failure moves on to the next choice after a jittered
 * backoff; the run mode's retry budget (retry-policy.ts) bounds the attempts and the time. The
 * caller's own errors (400) go back at once.
 */
import type { Channel, ChannelCall } from '../core/channel.js';
import { gatewayError, GatewayError } from '../core/errors.js';
import { isArriving, type ArrivingResult, type ImageJob, type PartialImageListener, type ProviderHooks, type ProviderResult } from '../core/job.js';
import type { Provider } from '../providers/provider.js';
import { settledGenerator } from '../core/settled-generator.js';
import { sleepUnlessAborted } from '../core/sleep.js';
import type { UpstreamMetricsSink, UpstreamOutcome } from '../core/metrics-sink.js';
import { NO_SPANS, type Span, type Spans } from '../core/spans.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import { promptMatch } from '../core/safety-policy.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ChannelRegistry } from './channel-registry.js';
import { keyFingerprint, type ChannelStore } from './channel-store.js';
import type { ChannelBreakers } from './circuit-breaker.js';
import { clientErrorFor, sanitizeUpstreamMessage } from './client-error.js';
import type { ChannelSlots } from './concurrency.js';
import { retryBudget, waitBeforeRetry, waitForChannel, type RetryBudget, type RetrySettings, type RunMode } from './retry-policy.js';
import { chooseChannel } from './select.js';

export interface AttemptRecord {
  channel: string;
  outcome: 'ok' | string;
  /** When the attempt was sent, epoch ms (a task's timeline places it). */
  startedAt: number;
  latencyMs: number;
}

export interface RoutedResult<R = ProviderResult> {
  result: R;
  channel: Channel;
  attempts: AttemptRecord[];
}

export type RoutingSettings = RetrySettings;

export interface RouterDeps {
  registry: ChannelRegistry;
  store: ChannelStore;
  providers: ProviderRegistry;
  /** Per instance in memory, or shared by every instance through Redis. */
  breakers: ChannelBreakers;
  limiter: ChannelSlots;
  settings: RoutingSettings;
  now?: () => number;
  random?: () => number;
  onKeyDisabled?: (channel: string, reason: string) => void;
  /** Hears every upstream attempt (src/metrics/ counts them). */
  metrics?: UpstreamMetricsSink;
  /** A span per attempt, parent of its upstream calls (src/tracing/). */
  spans?: Spans;
}

type Attempt<R> =
  | { kind: 'ok'; routed: RoutedResult<R> }
  | { kind: 'failed'; failure: UpstreamFailure; channel: Channel }
  /** The channel filled up between choosing it and sending: no upstream call was made. */
  | { kind: 'full' };

/** An arriving answer, whatever else an attempt may return. */
function isArrivingResult(value: unknown): value is ArrivingResult {
  return typeof value === 'object' && value !== null && isArriving(value as ProviderResult | ArrivingResult);
}

/** One call to a provider on a chosen channel. */
type Send<R> = (provider: Provider, call: ChannelCall, hooks: ProviderHooks) => Promise<R>;

export class ChannelRouter {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly keyTurns = new Map<string, number>();
  private readonly spans: Spans;

  constructor(private readonly deps: RouterDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.spans = deps.spans ?? NO_SPANS;
  }

  /**
   * `onPartial` (streams): partial images are forwarded as they arrive. Once one has reached the
   * client, a failure is final: another channel's image would not match what it already saw.
   * Likewise once an async upstream has accepted the job: its task is polled until the budget's
   * deadline and never submitted again, so a slow or flaky poll cannot run the job twice.
   */
  async generate(job: ImageJob, mode: RunMode, signal: AbortSignal, attempts: AttemptRecord[] = [], hooks: RouteHooks = {}): Promise<RoutedResult> {
    return this.route(job, mode, signal, attempts, hooks, (provider, call, providerHooks) => provider.generate(job, call, signal, providerHooks));
  }

  /**
   * Sync requests: like generate, but a provider that can may hand its answer over while
   * the images are still arriving. Such an answer holds the channel's slot until it is read to
   * its end (or dropped); a failure while reading it still teaches the channel's breaker.
   */
  async generateArriving(
    job: ImageJob,
    mode: RunMode,
    signal: AbortSignal,
    attempts: AttemptRecord[] = [],
  ): Promise<RoutedResult<ProviderResult | ArrivingResult>> {
    return this.route(job, mode, signal, attempts, {}, (provider, call, providerHooks) =>
      provider.generateArriving ? provider.generateArriving(job, call, signal) : provider.generate(job, call, signal, providerHooks),
    );
  }

  /**
   * Like generateArriving, but the answer is consumed (url mode: its images stored as they
   * arrive) within the attempt: a failure while it arrives is the attempt's, and the next
   * channel is tried, as when an answer is read whole.
   */
  async generateConsumed<T>(
    job: ImageJob,
    mode: RunMode,
    signal: AbortSignal,
    attempts: AttemptRecord[],
    consume: (answer: ProviderResult | ArrivingResult) => Promise<T>,
  ): Promise<RoutedResult<T>> {
    return this.route(job, mode, signal, attempts, {}, async (provider, call, providerHooks) =>
      consume(provider.generateArriving ? await provider.generateArriving(job, call, signal) : await provider.generate(job, call, signal, providerHooks)),
    );
  }

  private async route<R>(
    job: ImageJob,
    mode: RunMode,
    signal: AbortSignal,
    attempts: AttemptRecord[],
    hooks: RouteHooks,
    send: Send<R>,
  ): Promise<RoutedResult<R>> {
    const budget = retryBudget(mode, this.deps.settings, this.now());
    const tried = new Set<string>();
    let committed = false;
    const commit = () => {
      committed = true;
    };
    let last: { failure: UpstreamFailure; channel: Channel } | undefined;
    while (this.now() < budget.deadlineAt) {
      const channel = await this.nextChannel(job, tried, last?.channel.id, budget, signal);
      if (!channel) break;
      const outcome = await this.attempt(channel, budget.deadlineAt, attempts, providerHooks(channel, hooks, commit), send, last && outcomeOf(last.failure));
      if (outcome.kind === 'ok') return outcome.routed;
      if (outcome.kind === 'full') continue;
      last = { failure: outcome.failure, channel: outcome.channel };
      tried.add(channel.id);
      if (committed || !this.shouldTryNext(outcome.failure)) break;
      const wait = waitBeforeRetry(budget, attempts.length, this.now(), this.random);
      if (wait === undefined) break;
      await pause(wait, signal);
    }
    if (last) throw clientErrorFor(last.failure, last.channel.apiKeys);
    throw await this.noChannelError(job);
  }

  /**
   * Picks up an async upstream task a previous run submitted (a task after a restart): polls it
   * on the channel that holds it until the budget's deadline, never submitting again. The
   * channel must still exist.
   */
  async resume(
    job: ImageJob,
    mode: RunMode,
    channelId: string,
    upstreamTaskId: string,
    signal: AbortSignal,
    attempts: AttemptRecord[] = [],
    { onSubmitted }: Pick<RouteHooks, 'onSubmitted'> = {},
  ): Promise<RoutedResult> {
    const channel = this.deps.registry.usableFor(job.model.id).find((c) => c.id === channelId);
    const provider = channel ? this.deps.providers[channel.kind] : undefined;
    if (!channel || !provider?.resume) {
      throw gatewayError('upstream_unavailable', 'The channel that holds this task upstream is no longer available.');
    }
    const resumeTask = provider.resume.bind(provider);
    const started = this.now();
    const span = this.attemptSpan(channel, attempts.length + 1, undefined);
    span.set({ 'imagegate.attempt.resumed': true });
    try {
      const { deadlineAt } = retryBudget(mode, this.deps.settings, started);
      const hooks = onSubmitted ? { onSubmitted: (id: string) => onSubmitted(channel.id, id) } : {};
      const result = await this.spans.within(span, () => resumeTask(upstreamTaskId, { channel, apiKey: channel.apiKeys[0], deadlineAt }, signal, hooks));
      attempts.push({ channel: channel.name, outcome: 'ok', startedAt: started, latencyMs: this.now() - started });
      this.deps.metrics?.upstreamAttempt(channel.name, 'ok', (this.now() - started) / 1000);
      span.set({ 'imagegate.attempt.outcome': 'ok' });
      return { result, channel, attempts };
    } catch (err) {
      if (!(err instanceof UpstreamFailure)) throw err;
      attempts.push({ channel: channel.name, outcome: outcomeOf(err), startedAt: started, latencyMs: this.now() - started });
      this.deps.metrics?.upstreamAttempt(channel.name, metricOutcome(err), (this.now() - started) / 1000);
      failedAttempt(span, err, channel);
      throw clientErrorFor(err, channel.apiKeys);
    } finally {
      span.end();
    }
  }

  /**
   * Channels that serve the model and whose protocol can carry this job (inputs, operation, fields),
   * less those whose own content policy blocks its prompt (when all do, the pipeline refused it before routing).
   */
  private candidates(job: ImageJob): Channel[] {
    return this.deps.registry.usableFor(job.model.id).filter((c) => {
      const provider = this.deps.providers[c.kind];
      return (provider.accepts?.(job, c) ?? true) && !provider.refuses?.(job) && promptMatch(c.safety ?? null, job.prompt) === null;
    });
  }

  /** Why a channel serving the model would refuse one of the job's fields (the first that says). */
  private fieldRefusal(job: ImageJob): GatewayError | undefined {
    for (const channel of this.deps.registry.usableFor(job.model.id)) {
      const provider = this.deps.providers[channel.kind];
      // A channel that would never take the job (another vendor's API) has no say in its fields.
      const refusal = (provider.accepts?.(job, channel) ?? true) ? provider.refuses?.(job) : undefined;
      if (refusal) return refusal;
    }
    return undefined;
  }

  /**
   * Untried channels first; then tried ones again (another key, a second chance), but not the one
   * that just failed while another can take the job: a run (a task has ten attempts, with waits
   * growing to 30 s) would otherwise spend them on a channel that keeps refusing it, choosing it
   * again at each retry by its priority or by the dice, while a channel that failed once before
   * sits unused. When none can take the job now (parked, open, full), waits as long as the
   * budget allows.
   */
  private async nextChannel(
    job: ImageJob,
    tried: ReadonlySet<string>,
    justFailed: string | undefined,
    budget: RetryBudget,
    signal: AbortSignal,
  ): Promise<Channel | undefined> {
    for (;;) {
      const usable = this.candidates(job);
      const open = await Promise.all(usable.map((c) => this.canTake(c)));
      const available = usable.filter((_, i) => open[i]);
      const fresh = available.filter((c) => !tried.has(c.id));
      const others = available.filter((c) => c.id !== justFailed);
      const choice = chooseChannel(fresh.length > 0 ? fresh : others.length > 0 ? others : available, this.random);
      if (choice) return choice;
      if (usable.length === 0) return undefined;
      const wait = waitForChannel(budget, await this.soonestAvailable(usable), this.now(), this.random);
      if (wait === undefined) return undefined;
      await pause(wait, signal);
    }
  }

  /** `failoverFrom`: the outcome of the attempt before, when this one follows a failure. */
  private async attempt<R>(
    channel: Channel,
    deadline: number,
    attempts: AttemptRecord[],
    hooks: ProviderHooks,
    send: Send<R>,
    failoverFrom: string | undefined,
  ): Promise<Attempt<R>> {
    const release = await this.deps.limiter.tryAcquire(channel.id, channel.maxConcurrent);
    if (!release) return { kind: 'full' };
    const span = this.attemptSpan(channel, attempts.length + 1, failoverFrom);
    // The channel's timeout bounds each request; an async upstream's task is polled until the deadline.
    const call: ChannelCall = {
      channel: { ...channel, timeoutMs: Math.max(1, Math.min(channel.timeoutMs, deadline - this.now())) },
      apiKey: this.nextKey(channel),
      deadlineAt: deadline,
    };
    let started = this.now();
    let held = false;
    try {
      await this.deps.breakers.onAttempt(channel.id);
      started = this.now();
      const result = await this.spans.within(span, () => send(this.deps.providers[channel.kind], call, hooks));
      await this.deps.breakers.onSuccess(channel.id);
      attempts.push({ channel: channel.name, outcome: 'ok', startedAt: started, latencyMs: this.now() - started });
      this.deps.metrics?.upstreamAttempt(channel.name, 'ok', (this.now() - started) / 1000);
      span.set({ 'imagegate.attempt.outcome': 'ok' });
      if (!isArrivingResult(result)) return { kind: 'ok', routed: { result, channel, attempts } };
      held = true;
      return { kind: 'ok', routed: { result: { ...result, events: this.holding(result.events, call, release, span) }, channel, attempts } };
    } catch (err) {
      if (!(err instanceof UpstreamFailure)) {
        span.fail(err instanceof GatewayError ? err.code : 'internal_error', err instanceof GatewayError ? err.message : 'internal error');
        throw err;
      }
      attempts.push({ channel: channel.name, outcome: outcomeOf(err), startedAt: started, latencyMs: this.now() - started });
      this.deps.metrics?.upstreamAttempt(channel.name, metricOutcome(err), (this.now() - started) / 1000);
      failedAttempt(span, err, channel);
      await this.learnFrom(err, call);
      return { kind: 'failed', failure: err, channel };
    } finally {
      if (!held) {
        release();
        span.end();
      }
    }
  }

  private attemptSpan(channel: Channel, number: number, failoverFrom: string | undefined): Span {
    return this.spans.start('imagegate.attempt', 'internal', {
      'imagegate.channel.id': channel.id,
      'imagegate.channel.name': channel.name,
      'imagegate.channel.kind': channel.kind,
      'imagegate.attempt.number': number,
      'imagegate.attempt.failover_reason': failoverFrom,
    });
  }

  /**
   * An arriving answer keeps its channel slot (and its attempt's span open) until read or dropped.
   * Its failures count against the channel, except a connection lost mid-answer: that is also
   * what the gateway's own backlog looks like (an upstream closes a keep-alive connection whose
   * answer the gateway, behind on a burst of answers or a stalled client, has not read off yet),
   * and a breaker opened by it would turn that backlog into refusals of every next request. An
   * upstream that is really down shows it at the next connect or status.
   */
  private holding(events: ArrivingResult['events'], call: ChannelCall, release: () => void, span: Span): ArrivingResult['events'] {
    return settledGenerator(events, async (failure) => {
      release();
      if (failure instanceof UpstreamFailure) failedAttempt(span, failure, call.channel);
      span.end();
      if (failure instanceof UpstreamFailure && failure.kind !== 'connection') await this.learnFrom(failure, call).catch(() => {});
    });
  }

  /** What a failure teaches about the channel's health. */
  private async learnFrom(failure: UpstreamFailure, call: ChannelCall): Promise<void> {
    const { channel } = call;
    if (isAuthFailure(failure)) {
      await this.disableKey(call, failure);
      return;
    }
    // Any Retry-After (429, 503...) parks the channel: other channels serve meanwhile.
    if (failure.kind === 'http' && failure.retryAfterMs !== undefined) {
      await this.deps.breakers.retryAfter(channel.id, failure.retryAfterMs);
    }
    if (failure.retryable) await this.deps.breakers.onFailure(channel.id, failure.message);
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

  /** Neither parked (breaker, Retry-After) nor full. */
  private async canTake(channel: Channel): Promise<boolean> {
    return (await this.deps.breakers.isAvailable(channel.id)) && (await this.deps.limiter.hasRoom(channel.id, channel.maxConcurrent));
  }

  /** When the first of these parked channels may be tried again (Infinity if none is parked). */
  private async soonestAvailable(channels: readonly Channel[]): Promise<number> {
    const times = await Promise.all(channels.map((c) => this.deps.breakers.availableAt(c.id)));
    return Math.min(...times.map((t) => t ?? Infinity));
  }

  private async noChannelError(job: ImageJob): Promise<GatewayError> {
    const modelId = job.model.id;
    const usable = this.candidates(job);
    // A field only some channels take (a relay-only object), and none of those serves the model.
    const refused = usable.length === 0 ? this.fieldRefusal(job) : undefined;
    if (refused) return refused;
    if (usable.length === 0 && this.deps.registry.usableFor(modelId).length > 0 && job.inputs.images.length === 0) {
      // Every channel listing the model (or `*`) speaks another vendor's API (an OpenAI channel and a Recraft model).
      return gatewayError('no_available_channel', `No enabled channel serving ${modelId} speaks its vendor's API (${job.model.vendor}).`);
    }
    if (usable.length === 0 && this.deps.registry.usableFor(modelId).length > 0) {
      return gatewayError(
        'unsupported_input',
        `No channel serving ${modelId} can take this ${job.operation}'s input images (task-API channels take image URLs only).`,
        { param: 'image' },
      );
    }
    if (usable.length === 0) {
      return gatewayError('no_available_channel', `No enabled channel serves ${modelId}.`);
    }
    const soonest = await this.soonestAvailable(usable);
    const headers: Record<string, string> = Number.isFinite(soonest) ? { 'retry-after': String(Math.max(1, Math.ceil((soonest - this.now()) / 1000))) } : {};
    return gatewayError(
      'no_available_channel',
      `Every channel serving ${modelId} is unavailable right now (failing, rate limited or at capacity); try again shortly.`,
      { headers },
    );
  }
}

/** A wait between attempts; a caller that gives up meanwhile ends the run as a closed request. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleepUnlessAborted(ms, signal);
  } catch (err) {
    throw err instanceof UpstreamFailure ? clientErrorFor(err, []) : err;
  }
}

/** The attempt's span says how it failed (the metric's outcome as error.type), without the channel's keys. */
function failedAttempt(span: Span, failure: UpstreamFailure, channel: Channel): void {
  span.set({ 'imagegate.attempt.outcome': outcomeOf(failure) });
  span.fail(metricOutcome(failure), sanitizeUpstreamMessage(failure.message, channel.apiKeys));
}

function isAuthFailure(failure: UpstreamFailure): boolean {
  return failure.kind === 'http' && (failure.status === 401 || failure.status === 403);
}

function outcomeOf(failure: UpstreamFailure): string {
  return failure.kind === 'http' ? `http_${failure.status ?? 0}` : failure.kind;
}

/** An attempt's outcome as a metric label (core/metrics-sink.ts): a refusal of the request or of the key is not a retryable failure. */
function metricOutcome(failure: UpstreamFailure): UpstreamOutcome {
  if (isAuthFailure(failure)) return 'auth';
  if (failure.kind === 'http' && !failure.retryable) return 'refused';
  return outcomeOf(failure);
}

/** What a router caller hears: partial images (streams) and async submissions, with their channel. */
export interface RouteHooks {
  onPartial?: PartialImageListener;
  onSubmitted?: (channelId: string, upstreamTaskId: string) => Promise<void>;
}

/** The caller's hooks for one attempt; `commit` hears when the attempt can no longer be redone elsewhere. */
function providerHooks(channel: Channel, { onPartial, onSubmitted }: RouteHooks, commit: () => void): ProviderHooks {
  const hooks: ProviderHooks = {
    onSubmitted: async (upstreamTaskId) => {
      commit();
      await onSubmitted?.(channel.id, upstreamTaskId);
    },
  };
  if (onPartial) {
    hooks.onPartial = {
      start: (imageIndex) => {
        commit();
        onPartial.start(imageIndex);
      },
      piece: (base64) => onPartial.piece(base64),
      end: (partial) => onPartial.end(partial),
    };
  }
  return hooks;
}
