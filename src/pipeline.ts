/**
 * The one path an ImageJob takes: check the key may use the model -> reserve credits -> route to
 * a channel -> normalize the output -> settle what was delivered (or refund) -> log usage.
 * Sync requests, streams and task workers all call it.
 */
import { checkModelAllowed } from './billing/access.js';
import type { KeyIdentity } from './billing/api-keys.js';
import type { Credits, Reservation } from './billing/credits.js';
import type { RequestLog } from './billing/request-log.js';
import { databaseUnavailable, GatewayError } from './core/errors.js';
import { isDatabaseUnavailable } from './db/unavailable.js';
import type { ImageJob, ImageUsage, PartialImageListener, ProviderResult } from './core/job.js';
import type { DeliveredImage, DeliveryContext, ImageOutput } from './output/image-output.js';
import type { RunMode } from './routing/retry-policy.js';
import type { AttemptRecord, ChannelRouter } from './routing/router.js';

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
  /** The caller's key: its model list is checked and, when metered, its credits reserved. */
  key?: KeyIdentity | null;
  /** Streams: partial images, forwarded as the upstream sends them. */
  onPartial?: PartialImageListener;
  /** Tasks: credits were reserved at submission (null: the key is unlimited). */
  reservation?: Reservation | null;
  /** Tasks: the async upstream task a previous run submitted; polled instead of routing anew. */
  resume?: { channelId: string; upstreamTaskId: string };
  /** Tasks: the run will be tried again after this failure (shutdown, the database away): keep the reservation for it. */
  retriedAfter?: (err: unknown) => boolean;
  /** Tasks: an async upstream accepted the job; store its id before polling. */
  onSubmitted?: (channelId: string, upstreamTaskId: string) => Promise<void>;
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
  credits: Credits;
  prices: PriceBook;
  /** Settlement failures are logged, never turned into a failed answer: the images exist. */
  onSettleError: (err: unknown, requestId: string) => void;
}

interface Outcome {
  status: number;
  delivered: number;
  errorCode?: string | null;
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
  ) {}

  async run(job: ImageJob, ctx: RunContext): Promise<ImagesResult> {
    const started = this.now();
    const attempts: AttemptRecord[] = [];
    let reservation: Reservation | null = null;
    try {
      if (ctx.key) checkModelAllowed(ctx.key.policy, job.model.id);
      reservation = ctx.reservation !== undefined ? ctx.reservation : await this.reserve(job, ctx);
      const routed = ctx.resume
        ? await this.router.resume(job, ctx.mode, ctx.resume.channelId, ctx.resume.upstreamTaskId, ctx.signal, attempts)
        : await this.router.generate(job, ctx.mode, ctx.signal, attempts, { ...(ctx.onPartial ? { onPartial: ctx.onPartial } : {}), ...(ctx.onSubmitted ? { onSubmitted: ctx.onSubmitted } : {}) });
      const data = await this.output.deliver(job, routed.result.images, ctx);
      const parameters = resolvedParameters(job, routed.result);
      const resolved = { ...(parameters.size ? { size: parameters.size } : {}), ...(parameters.quality ? { quality: parameters.quality } : {}) };
      const { prices } = this.billing;
      const priceMicros = prices.finalPriceMicros(job, data.length, routed.result.usage, resolved);
      const costMicros = prices.costMicros(job, data.length, routed.result.usage, resolved, routed.channel.costRatio ?? 1);
      if (reservation) await this.settle(reservation, priceMicros);
      this.record(job, ctx, started, attempts, { status: 200, delivered: data.length, priceMicros, costMicros, resolved });
      return { created: Math.floor(this.now() / 1000), data, ...parameters };
    } catch (err) {
      const retriedLater = ctx.retriedAfter?.(err) ?? false;
      if (reservation && !retriedLater) await this.settle(reservation, 0, err);
      const known = err instanceof GatewayError ? err : isDatabaseUnavailable(err) ? databaseUnavailable() : null;
      const status = known ? known.status : 500;
      const code = known ? known.code : 'internal_error';
      this.record(job, ctx, started, attempts, { status, delivered: 0, errorCode: code, priceMicros: reservation ? 0 : null });
      throw err;
    }
  }

  private async reserve(job: ImageJob, ctx: RunContext): Promise<Reservation | null> {
    if (!ctx.key?.metered) return null;
    return this.billing.credits.reserve(ctx.key.id, job.id, this.billing.prices.maxPriceMicros(job));
  }

  /** Charges what was delivered, or (with a failure) refunds it all. */
  private async settle(reservation: Reservation, chargedMicros: number, failure?: unknown): Promise<void> {
    try {
      if (failure === undefined) await this.billing.credits.settle(reservation, chargedMicros);
      else await this.billing.credits.refund(reservation, failure instanceof GatewayError ? (failure.code ?? 'failed') : 'failed');
    } catch (err) {
      this.billing.onSettleError(err, reservation.requestId);
    }
  }

  private record(job: ImageJob, ctx: RunContext, started: number, attempts: readonly AttemptRecord[], outcome: Outcome): void {
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
      attempts: attempts.length > 0 ? JSON.stringify(attempts.map((a) => ({ channel: a.channel, outcome: a.outcome, latency_ms: a.latencyMs }))) : null,
      created_at: started,
      size: outcome.resolved?.size ?? job.size,
      quality: outcome.resolved?.quality ?? job.quality,
      price_micros: outcome.priceMicros ?? null,
      cost_micros: outcome.costMicros ?? null,
    });
  }
}

/** The size/quality/format actually used: the upstream's word, else ours when it is not `auto`. */
function resolvedParameters(job: ImageJob, result: ProviderResult): Omit<ImagesResult, 'created' | 'data'> {
  const gpt = job.model.family === 'gpt-image-2' || job.model.family === 'gpt-image-1';
  const size = result.size ?? (job.size !== 'auto' ? job.size : undefined);
  const quality = result.quality ?? (job.quality !== 'auto' ? job.quality : undefined);
  const background = result.background ?? (job.background && job.background !== 'auto' ? job.background : undefined);
  // An asked-for format is what the client gets (output/ converts when the upstream ignored it).
  const outputFormat = job.outputFormat ?? result.outputFormat ?? (gpt ? 'png' : undefined);
  return {
    ...(result.usage ? { usage: result.usage } : {}),
    ...(size ? { size } : {}),
    ...(quality ? { quality } : {}),
    ...(background ? { background } : {}),
    ...(outputFormat ? { outputFormat } : {}),
    ...(result.metadata !== undefined ? { metadata: result.metadata } : {}),
  };
}
