/**
 * The one path an ImageJob takes: check the key may use the model -> reserve credits -> route to
 * a channel -> normalize the output -> settle what was delivered (or refund) -> log usage.
 * Sync requests, streams and task workers all call it; each says how its credits are settled
 * (RunContext.settlement; the rules are billing/settlement.ts) and the pipeline settles them.
 * A task whose async upstream task was submitted by an earlier run takes `resume` instead of `run`.
 */
import { checkModelAllowed } from './billing/access.js';
import type { KeyIdentity } from './billing/api-keys.js';
import type { CreditHold, Settlement, SettlementStrategy } from './billing/settlement.js';
import type { RequestLog } from './billing/request-log.js';
import { databaseUnavailable, GatewayError } from './core/errors.js';
import { isDatabaseUnavailable } from './db/unavailable.js';
import {
  isArriving,
  type ArrivingResult,
  type ImageJob,
  type ImageUsage,
  type PartialImageListener,
  type ProviderResult,
  type ResultFields,
} from './core/job.js';
import type { Channel } from './core/channel.js';
import type { DeliveryMetricsSink } from './core/metrics-sink.js';
import { NO_SPANS, type Span, type Spans } from './core/spans.js';
import { relayed } from './core/each-once.js';
import { settledGenerator } from './core/settled-generator.js';
import { UpstreamFailure } from './core/upstream-failure.js';
import { resolveParameters } from './core/resolved-parameters.js';
import { withChatUsage } from './core/usage.js';
import { arrivedImages, deliverArriving, type DeliveryEvent } from './output/arriving-delivery.js';
import type { ContentSafety } from './output/content-safety.js';
import type { SafetyPolicy } from './core/safety-policy.js';
import { clientErrorFor } from './routing/client-error.js';
import type { DeliveredImage, DeliveryContext, ImageOutput } from './output/image-output.js';
import type { RunMode } from './routing/retry-policy.js';
import type { AttemptRecord, ChannelRouter, RoutedResult } from './routing/router.js';

/** What every dialect renders: OpenAI's ImagesResponse, in domain terms. */
export interface ImagesResult {
  created: number;
  data: DeliveredImage[];
  usage?: ImageUsage;
  size?: string;
  quality?: string;
  background?: string;
  outputFormat?: string;
  metadata?: unknown;
}

export interface RunContext extends DeliveryContext {
  /** Sync requests and streams retry within the request's budget; tasks within their own deadline. */
  mode: RunMode;
  /** The caller's key: its model list is checked and, with `reserve-now` when metered, its credits reserved. */
  key?: KeyIdentity | null;
  /** Who reserved the run's credits and what a failure does to them: sync `reserve-now`, tasks `already-reserved`. */
  settlement: SettlementStrategy;
  /** Hears the run begin and end, as its request_log row is written (the request's log line, http/request-line.ts). */
  observer?: RunObserver;
  /** Task runs (no `key`): the key's own content-safety policy, looked up for the run; null: none of its own. */
  keySafety?: SafetyPolicy | null;
}

/**
 * What a run's request hears of it, from the bookkeeping the request_log row is made of:
 * `begun` with the attempts list (the router appends each upstream attempt as it ends), then
 * `ended` once, when the row is written (for a passed-through answer, once its last piece is out
 * or it was cut).
 */
export interface RunObserver {
  begun(attempts: readonly AttemptRecord[]): void;
  ended(report: RunReport): void;
  /** The request's span: the run's spans (attempts, upstream calls, stores) are its children. */
  readonly span?: Span;
}

export interface RunReport {
  status: number;
  /** Images delivered. */
  delivered: number;
  /** Why it failed (the error the client was given, or would have been). */
  error?: { code: string; message: string };
}

/** A fresh run (routed anew, not resumed) may hear how it goes. */
export interface FreshRunContext extends RunContext {
  /** Streams: partial images, forwarded as the upstream sends them. */
  onPartial?: PartialImageListener;
  /** Tasks: an async upstream accepted the job; store its id before polling (a later run resumes it). */
  onSubmitted?: (channelId: string, upstreamTaskId: string) => Promise<void>;
}

/** A task's run: its credits were reserved when it was accepted. */
export interface TaskRunContext extends RunContext {
  settlement: Extract<SettlementStrategy, { kind: 'already-reserved' }>;
}

/** An async upstream's task an earlier run submitted, as stored with the task. */
export interface UpstreamTask {
  channelId: string;
  upstreamTaskId: string;
}

/** The size and quality a result was made at, when the upstream said. */
export interface Resolved {
  size?: string;
  quality?: string;
}

/** Prices in micro-dollars: the most a job may cost, what it did cost the key, and the operator. */
export interface PriceBook {
  maxPriceMicros(job: ImageJob): number;
  finalPriceMicros(job: ImageJob, delivered: number, usage: ImageUsage | undefined, resolved: Resolved): number;
  costMicros(job: ImageJob, delivered: number, usage: ImageUsage | undefined, resolved: Resolved, costRatio: number): number;
}

export interface Billing {
  /** Reserves, charges, refunds or keeps a run's credits, by the rules in billing/settlement.ts. */
  settlement: Settlement;
  prices: PriceBook;
  /** Hears what each delivered run settled (src/metrics/ counts it). */
  metrics?: DeliveryMetricsSink;
}

/** What an answer says about its result besides the images. */
export type ResultParameters = Omit<ImagesResult, 'created' | 'data'>;

/** A sync b64_json answer whose images are still arriving: rendered as the events come. */
export interface ArrivingImages {
  created: number;
  events: AsyncGenerator<DeliveryEvent, ResultParameters, undefined>;
}

/** One run's bookkeeping: when it began, its attempts, its credits (null until admitted). */
interface Run {
  started: number;
  attempts: AttemptRecord[];
  hold: CreditHold | null;
}

interface Outcome {
  status: number;
  delivered: number;
  errorCode?: string | null;
  /** The failure's message, for the observer (the row keeps only the code). */
  reason?: string;
  priceMicros?: number | null;
  costMicros?: number | null;
  resolved?: Resolved;
}

export class ImagePipeline {
  constructor(
    private readonly router: ChannelRouter,
    private readonly output: ImageOutput,
    private readonly log: RequestLog,
    private readonly billing: Billing,
    private readonly now: () => number = Date.now,
    private readonly spans: Spans = NO_SPANS,
    /** The gateway's content check (policies, prompt blocklist, image classifier); absent: nothing checked. */
    private readonly safety?: ContentSafety,
  ) {}

  /**
   * The prompt against the content policy's blocklists (400 content_policy_violation), before any
   * credit is reserved: sync runs check it in admit; tasks before they are accepted.
   */
  screenPrompt(job: ImageJob, key: KeyIdentity | null | undefined): void {
    this.safety?.screenPrompt(job, key?.policy.safety ?? null);
  }

  /** Routes the job anew and answers with its images whole (streams, tasks). */
  async run(job: ImageJob, ctx: FreshRunContext): Promise<ImagesResult> {
    // Partial images are previews no check has seen: a checked run drops them.
    const onPartial = ctx.onPartial && !this.safety?.mayCheck(job, keySafetyOf(ctx)) ? { onPartial: ctx.onPartial } : {};
    const hooks = { ...onPartial, ...(ctx.onSubmitted ? { onSubmitted: ctx.onSubmitted } : {}) };
    return this.whole(job, ctx, (run) => this.router.generate(job, ctx.mode, ctx.signal, run.attempts, hooks));
  }

  /**
   * Tasks: picks up the async upstream task an earlier run submitted (its id stored before a
   * restart): polled by that id on the channel that holds it, never submitted again.
   */
  async resume(job: ImageJob, ctx: TaskRunContext & Pick<FreshRunContext, 'onSubmitted'>, upstream: UpstreamTask): Promise<ImagesResult> {
    const hooks = ctx.onSubmitted ? { onSubmitted: ctx.onSubmitted } : {};
    return this.whole(job, ctx, (run) => this.router.resume(job, ctx.mode, upstream.channelId, upstream.upstreamTaskId, ctx.signal, run.attempts, hooks));
  }

  private whole(job: ImageJob, ctx: RunContext, route: (run: Run) => Promise<RoutedResult>): Promise<ImagesResult> {
    return this.spans.within(ctx.observer?.span, () => this.wholeWithin(job, ctx, route));
  }

  private async wholeWithin(job: ImageJob, ctx: RunContext, route: (run: Run) => Promise<RoutedResult>): Promise<ImagesResult> {
    const run = this.begin(ctx);
    try {
      await this.admit(job, ctx, run);
      const routed = await route(run);
      const screened = await this.screened(job, ctx, routed);
      const data = await this.output.deliver(job, screened.images, screened.ctx);
      return { created: this.created(), data, ...(await this.complete(job, ctx, run, routed.result, routed.channel, data.length)) };
    } catch (err) {
      await this.fail(job, ctx, run, err);
      throw err;
    }
  }

  /**
   * Sync requests: like run, but an answer whose images are still arriving is stored as it comes.
   * b64_json: handed on as events, so the client gets each image's bytes as the upstream sends
   * them; credits are settled and the request logged once the last event is read, and a failure
   * meanwhile (or the client leaving) refunds them. Read the events to their end, or return()
   * them. url: the answer (the images' links) once all are stored. A failure after the upstream
   * answer began is final either way: the route has committed to its channel.
   */
  runArriving(job: ImageJob, ctx: RunContext): Promise<ImagesResult | ArrivingImages> {
    return this.spans.within(ctx.observer?.span, () => this.runArrivingWithin(job, ctx));
  }

  private async runArrivingWithin(job: ImageJob, ctx: RunContext): Promise<ImagesResult | ArrivingImages> {
    // A checked run reads its images whole: nothing is passed on, or linked, before the check.
    if (this.safety?.mayCheck(job, keySafetyOf(ctx))) {
      return this.wholeWithin(job, ctx, (run) => this.router.generate(job, ctx.mode, ctx.signal, run.attempts));
    }
    const run = this.begin(ctx);
    try {
      await this.admit(job, ctx, run);
      if (job.responseFormat !== 'b64_json') {
        // url: the images are stored as they arrive, within the attempt (so a break fails over).
        const stored = await this.router.generateConsumed(job, ctx.mode, ctx.signal, run.attempts, (answer) => this.storeAnswer(job, answer, ctx));
        const { data, fields } = stored.result;
        return { created: this.created(), data, ...(await this.complete(job, ctx, run, fields, stored.channel, data.length)) };
      }
      const routed = await this.router.generateArriving(job, ctx.mode, ctx.signal, run.attempts);
      const { result, channel } = routed;
      if (isArriving(result)) return { created: this.created(), events: this.settledOnArrival(job, ctx, run, result, channel) };
      const data = await this.output.deliver(job, result.images, ctx);
      return { created: this.created(), data, ...(await this.complete(job, ctx, run, result, channel, data.length)) };
    } catch (err) {
      await this.fail(job, ctx, run, err);
      throw err;
    }
  }

  /** The routed images after the content check of the run's policy (none: as they came); its marks go with them to storage. */
  private async screened(job: ImageJob, ctx: RunContext, routed: RoutedResult): Promise<{ images: ProviderResult['images']; ctx: RunContext }> {
    const policy = this.safety?.policyFor(job, keySafetyOf(ctx), routed.channel);
    if (!this.safety || !policy) return { images: routed.result.images, ctx };
    const { images, marks } = await this.safety.screen(job, routed.result.images, policy, ctx);
    return { images, ctx: { ...ctx, safety: marks } };
  }

  /** url mode: the answer's images stored (as they arrive, when they do) and their links. */
  private async storeAnswer(
    job: ImageJob,
    answer: ProviderResult | ArrivingResult,
    ctx: RunContext,
  ): Promise<{ data: DeliveredImage[]; fields: ResultFields }> {
    if (!isArriving(answer)) return { data: await this.output.deliver(job, answer.images, ctx), fields: answer };
    const { data, result } = await arrivedImages(deliverArriving(this.output, job, answer.events, ctx));
    return { data, fields: result.fields };
  }

  private settledOnArrival(job: ImageJob, ctx: RunContext, run: Run, result: ArrivingResult, channel: Channel): ArrivingImages['events'] {
    let completed = false;
    const delivery = deliverArriving(this.output, job, result.events, ctx);
    const events = relayed(
      delivery,
      async (arrived) => {
        const tail = await this.complete(job, ctx, run, arrived.fields, channel, arrived.delivered);
        completed = true;
        return tail;
      },
      // The answer had begun: an upstream failure now is final, in the caller's terms.
      (err) => (err instanceof UpstreamFailure ? clientErrorFor(err, channel.apiKeys) : err),
    );
    // Read later by the answer's writer: what its steps begin (the images' stores) stays in the request's trace.
    const settled = settledGenerator(events, async (failure) => {
      if (completed) return;
      // Never started, or dropped: the upstream answer is released either way.
      await delivery.return({ delivered: 0, fields: {} });
      await result.events.return({});
      await this.fail(job, ctx, run, failure ?? clientErrorFor(new UpstreamFailure('aborted', 'the client closed the request'), []));
    });
    return this.spans.withinEach(ctx.observer?.span, settled);
  }

  private begin(ctx: RunContext): Run {
    const run: Run = { started: this.now(), attempts: [], hold: null };
    ctx.observer?.begun(run.attempts);
    return run;
  }

  private created(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The run takes its credits: a task's reservation from the start (a refusal still settles it); the key may use the model; then sync credits are reserved. */
  private async admit(job: ImageJob, ctx: RunContext, run: Run): Promise<void> {
    if (ctx.settlement.kind === 'already-reserved') run.hold = ctx.settlement.hold;
    if (ctx.key) checkModelAllowed(ctx.key.policy, job.model.id);
    this.safety?.screenPrompt(job, keySafetyOf(ctx));
    if (ctx.settlement.kind === 'reserve-now') run.hold = await this.billing.settlement.reserve(ctx.key, job);
  }

  /** Delivered: charges what was delivered and logs it; returns what the answer says about the result. */
  private async complete(job: ImageJob, ctx: RunContext, run: Run, fields: ResultFields, channel: Channel, delivered: number): Promise<ResultParameters> {
    const parameters = resolvedParameters(job, fields);
    const resolved = { ...(parameters.size ? { size: parameters.size } : {}), ...(parameters.quality ? { quality: parameters.quality } : {}) };
    const { prices } = this.billing;
    const priceMicros = prices.finalPriceMicros(job, delivered, fields.usage, resolved);
    const costMicros = prices.costMicros(job, delivered, fields.usage, resolved, channel.costRatio ?? 1);
    await run.hold?.charge(priceMicros);
    const chargedMicros = run.hold?.metered ? priceMicros : 0;
    this.billing.metrics?.delivered({ model: job.model.id, format: parameters.outputFormat ?? 'unknown', images: delivered, chargedMicros, costMicros });
    this.record(job, ctx, run, { status: 200, delivered, priceMicros, costMicros, resolved });
    return parameters;
  }

  /** Failed: refunds (or keeps the reservation for the task's next run) and logs why. */
  private async fail(job: ImageJob, ctx: RunContext, run: Run, err: unknown): Promise<void> {
    if (run.hold) await this.billing.settlement.failed(run.hold, ctx.settlement, err);
    this.safety?.noteFailure(job, keySafetyOf(ctx), err);
    const known = err instanceof GatewayError ? err : isDatabaseUnavailable(err) ? databaseUnavailable() : null;
    const status = known ? known.status : 500;
    const code = known ? known.code : 'internal_error';
    // An unknown error's own message stays out of the report: the error handler logs it whole.
    const reason = known ? known.message : 'internal error';
    this.record(job, ctx, run, { status, delivered: 0, errorCode: code, reason, priceMicros: run.hold?.metered ? 0 : null });
  }

  private record(job: ImageJob, ctx: RunContext, { started, attempts }: Run, outcome: Outcome): void {
    const last = attempts.at(-1);
    this.log.record({
      id: job.id,
      key_id: ctx.keyId,
      model: job.model.id,
      channel: attempts.length > 0 ? attempts.map((a) => `${a.channel}:${a.outcome}`).join(',') : null,
      operation: job.operation,
      status: outcome.status,
      error_code: outcome.errorCode ?? null,
      n: job.n,
      delivered: outcome.delivered,
      latency_ms: this.now() - started,
      upstream_latency_ms: last ? last.latencyMs : null,
      attempts:
        attempts.length > 0
          ? JSON.stringify(attempts.map((a) => ({ channel: a.channel, outcome: a.outcome, started_at: a.startedAt, latency_ms: a.latencyMs })))
          : null,
      created_at: started,
      size: outcome.resolved?.size ?? job.size,
      quality: outcome.resolved?.quality ?? job.quality,
      price_micros: outcome.priceMicros ?? null,
      cost_micros: outcome.costMicros ?? null,
    });
    const { status, delivered, errorCode, reason } = outcome;
    ctx.observer?.ended({ status, delivered, ...(errorCode ? { error: { code: errorCode, message: reason ?? errorCode } } : {}) });
  }
}

/** What the answer says about its result: the size/quality/format actually used (core/resolved-parameters.ts), usage, metadata. */
function resolvedParameters(job: ImageJob, result: ResultFields): ResultParameters {
  const { size, quality, background, outputFormat } = resolveParameters(job, result, 'known');
  return {
    // Answers carry usage in OpenAI's words and the chat-style ones relays' clients read.
    ...(result.usage ? { usage: withChatUsage(result.usage) } : {}),
    ...(size ? { size } : {}),
    ...(quality ? { quality } : {}),
    ...(background ? { background } : {}),
    ...(outputFormat ? { outputFormat } : {}),
    ...(result.metadata !== undefined ? { metadata: result.metadata } : {}),
  };
}

/** The key's own content-safety policy for a run: from its identity (sync), else as the task worker looked it up. */
function keySafetyOf(ctx: RunContext): SafetyPolicy | null {
  return ctx.key ? ctx.key.policy.safety : (ctx.keySafety ?? null);
}
