/**
 * The one path an ImageJob takes: route to a channel -> normalize the output -> log.
 * Sync requests call it now; streams and task workers will call the same.
 */
import type { RequestLog } from './billing/request-log.js';
import { GatewayError } from './core/errors.js';
import type { ImageJob, ImageUsage, PartialImageListener, ProviderResult } from './core/job.js';
import type { DeliveredImage, DeliveryContext, ImageOutput } from './output/image-output.js';
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
  /** Streams: partial images, forwarded as the upstream sends them. */
  onPartial?: PartialImageListener;
}

export class ImagePipeline {
  constructor(
    private readonly router: ChannelRouter,
    private readonly output: ImageOutput,
    private readonly log: RequestLog,
    private readonly now: () => number = Date.now,
  ) {}

  async run(job: ImageJob, ctx: RunContext): Promise<ImagesResult> {
    const started = this.now();
    const attempts: AttemptRecord[] = [];
    try {
      const routed = await this.router.generate(job, ctx.signal, attempts, ctx.onPartial);
      const data = await this.output.deliver(job, routed.result.images, ctx);
      this.record(job, ctx, started, attempts, { status: 200, delivered: data.length });
      return { created: Math.floor(this.now() / 1000), data, ...resolvedParameters(job, routed.result) };
    } catch (err) {
      const status = err instanceof GatewayError ? err.status : 500;
      const code = err instanceof GatewayError ? err.code : 'internal_error';
      this.record(job, ctx, started, attempts, { status, delivered: 0, errorCode: code });
      throw err;
    }
  }

  private record(
    job: ImageJob,
    ctx: RunContext,
    started: number,
    attempts: readonly AttemptRecord[],
    outcome: { status: number; delivered: number; errorCode?: string | null },
  ): void {
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
