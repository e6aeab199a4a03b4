/**
 * The gateway's Prometheus metrics, with prom-client (the standard Node Prometheus client: the
 * exposition format, histograms and the process' default metrics without hand-written code). One
 * registry per App (no global registry, so two gateways in one process, as in tests, keep their
 * own counts). The rest of src/ reports through core/metrics-sink.ts and never imports
 * prom-client. Every metric is listed in docs/metrics.md.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type {
  ChannelHealthView,
  ContentCheckFailure,
  ContentRefusalSource,
  ContentSafetyMetricsSink,
  DeliveryMetricsSink,
  DeliveryReport,
  HttpMetricsSink,
  MetricsExposition,
  RateLimitMetricsSink,
  RateLimitReason,
  StorageMetricsSink,
  TaskCounts,
  TaskMetricsSink,
  UpstreamMetricsSink,
  UpstreamOutcome,
  WebhookAttemptOutcome,
  WebhookMetricsSink,
} from '../core/metrics-sink.js';

export const METRIC_PREFIX = 'imagegate_';

/** Seconds: from a cheap admin read to a long, multi-image generation. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300];

/** Seconds of one upstream attempt: an image takes seconds to minutes. */
const UPSTREAM_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600];

/** The breaker gauge's values. */
const BREAKER_VALUE: Readonly<Record<ChannelHealthView['breaker'], number>> = { closed: 0, 'half-open': 1, open: 2 };

export interface GatewayMetricsOptions {
  /** Every channel's breaker and in-flight count, read at scrape time (app.ts reads them from routing/). */
  channelHealth?: () => Promise<readonly ChannelHealthView[]>;
  /** The task queue, counted from the task store; read at most every TASK_COUNTS_TTL_MS. */
  taskCounts?: () => Promise<TaskCounts>;
  now?: () => number;
}

/** Scrapes (several Prometheus servers, one per instance) share one count of the task store this long. */
export const TASK_COUNTS_TTL_MS = 5_000;

/** Seconds from a task's creation to its end: queued time included, up to a task's deadline. */
const TASK_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/** The methods HTTP defines; anything else is counted as `other` (the label stays bounded). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export class GatewayMetrics
  implements
    HttpMetricsSink,
    UpstreamMetricsSink,
    DeliveryMetricsSink,
    StorageMetricsSink,
    RateLimitMetricsSink,
    TaskMetricsSink,
    WebhookMetricsSink,
    ContentSafetyMetricsSink,
    MetricsExposition
{
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  private readonly upstreamAttempts: Counter<'channel' | 'outcome'>;
  private readonly upstreamDuration: Histogram<'channel' | 'outcome'>;
  private readonly imagesDelivered: Counter<'model' | 'format'>;
  private readonly creditsCharged: Counter<'model'>;
  private readonly operatorCost: Counter<'model'>;
  private readonly bytesStored: Counter;
  private readonly rateLimitRefusals: Counter<'reason'>;
  private readonly taskDuration: Histogram<'state'>;
  private readonly webhookAttempts: Counter<'outcome'>;
  private readonly webhookDeliveries: Counter<'outcome'>;
  private readonly contentRefusals: Counter<'source' | 'mode'>;
  private readonly contentCheckFailures: Counter<'reason'>;

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    this.httpRequests = new Counter({
      name: `${METRIC_PREFIX}http_requests_total`,
      help: 'HTTP answers sent, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Time from a request arriving to its answer being sent, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.upstreamAttempts = new Counter({
      name: `${METRIC_PREFIX}upstream_attempts_total`,
      help: 'Upstream attempts, by channel and outcome (ok, a retryable failure kind such as http_500 or timeout, auth, refused, task_failed, aborted).',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.upstreamDuration = new Histogram({
      name: `${METRIC_PREFIX}upstream_attempt_duration_seconds`,
      help: 'Time of one upstream attempt until its answer began (or it failed), by channel and outcome.',
      labelNames: ['channel', 'outcome'],
      buckets: UPSTREAM_BUCKETS,
      registers,
    });
    this.imagesDelivered = new Counter({
      name: `${METRIC_PREFIX}images_delivered_total`,
      help: 'Images delivered to clients, by model and format.',
      labelNames: ['model', 'format'],
      registers,
    });
    this.creditsCharged = new Counter({
      name: `${METRIC_PREFIX}credits_charged_micros_total`,
      help: 'Credits charged to metered keys for delivered images, micro-dollars, by model.',
      labelNames: ['model'],
      registers,
    });
    this.operatorCost = new Counter({
      name: `${METRIC_PREFIX}operator_cost_micros_total`,
      help: "What delivered images cost the operator upstream (list price times the channel's cost ratio), micro-dollars, by model.",
      labelNames: ['model'],
      registers,
    });
    this.bytesStored = new Counter({
      name: `${METRIC_PREFIX}image_bytes_stored_total`,
      help: 'Bytes of images written to the image store.',
      registers,
    });
    this.rateLimitRefusals = new Counter({
      name: `${METRIC_PREFIX}rate_limit_refusals_total`,
      help: "Requests refused with 429 by a key's rate limits, by reason (rpm, concurrency).",
      labelNames: ['reason'],
      registers,
    });
    // Both reasons from the start, so a rate() over them has a series before the first refusal.
    for (const reason of ['rpm', 'concurrency'] as const) this.rateLimitRefusals.inc({ reason }, 0);
    this.taskDuration = new Histogram({
      name: `${METRIC_PREFIX}task_duration_seconds`,
      help: 'Async tasks from creation to their end, queued time included, by final state (succeeded, failed).',
      labelNames: ['state'],
      buckets: TASK_BUCKETS,
      registers,
    });
    this.webhookAttempts = new Counter({
      name: `${METRIC_PREFIX}webhook_attempts_total`,
      help: 'Webhook delivery attempts, by outcome (delivered, http_error, unreachable, refused).',
      labelNames: ['outcome'],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: `${METRIC_PREFIX}webhook_deliveries_total`,
      help: 'Webhook deliveries ended, by outcome: delivered, or failed (given up after its retries, or refused).',
      labelNames: ['outcome'],
      registers,
    });
    this.contentRefusals = new Counter({
      name: `${METRIC_PREFIX}content_refusals_total`,
      help: 'Content refused (or flagged, mode flag), by source (upstream, classifier, prompt) and the policy mode of the run (off, flag, block).',
      labelNames: ['source', 'mode'],
      registers,
    });
    this.contentCheckFailures = new Counter({
      name: `${METRIC_PREFIX}content_check_failures_total`,
      help: 'Images the content check could not score, by reason: queue_full, worker_failed, unavailable (no classifier worker could start), undecodable_image, closed.',
      labelNames: ['reason'],
      registers,
    });
    const { taskCounts } = options;
    if (taskCounts) {
      const now = options.now ?? Date.now;
      let cached: { at: number; counts: Promise<TaskCounts> } | undefined;
      const read = (): Promise<TaskCounts> => {
        if (!cached || now() - cached.at >= TASK_COUNTS_TTL_MS) {
          const counts = taskCounts();
          // A failed count is not kept: the next scrape asks again.
          counts.catch(() => {
            if (cached?.counts === counts) cached = undefined;
          });
          cached = { at: now(), counts };
        }
        return cached.counts;
      };
      new Gauge({
        name: `${METRIC_PREFIX}tasks`,
        help: 'Async tasks now queued or running, from the task store (shared by every instance; cached 5 s).',
        labelNames: ['state'],
        registers,
        async collect() {
          const counts = await read();
          this.set({ state: 'queued' }, counts.queued);
          this.set({ state: 'running' }, counts.running);
        },
      });
      new Gauge({
        name: `${METRIC_PREFIX}task_queue_depth`,
        help: 'Async tasks waiting for a worker: queued, or running under a lease that ran out (cached 5 s).',
        registers,
        async collect() {
          this.set((await read()).waiting);
        },
      });
    }
    const { channelHealth } = options;
    if (channelHealth) {
      new Gauge({
        name: `${METRIC_PREFIX}upstream_in_flight`,
        help: 'Upstream attempts this instance has in flight, by channel.',
        labelNames: ['channel'],
        registers,
        async collect() {
          this.reset();
          for (const view of await channelHealth()) this.set({ channel: view.channel }, view.inFlight);
        },
      });
      new Gauge({
        name: `${METRIC_PREFIX}channel_breaker_state`,
        help: "A channel's circuit breaker: 0 closed, 1 half-open, 2 open (shared by every instance with Redis).",
        labelNames: ['channel'],
        registers,
        async collect() {
          this.reset();
          for (const view of await channelHealth()) this.set({ channel: view.channel }, BREAKER_VALUE[view.breaker]);
        },
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  httpAnswered(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method: METHODS.has(method) ? method : 'other', status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  upstreamAttempt(channel: string, outcome: UpstreamOutcome, seconds: number): void {
    this.upstreamAttempts.inc({ channel, outcome });
    this.upstreamDuration.observe({ channel, outcome }, seconds);
  }

  delivered(report: DeliveryReport): void {
    const { model } = report;
    this.imagesDelivered.inc({ model, format: report.format }, report.images);
    this.creditsCharged.inc({ model }, report.chargedMicros);
    this.operatorCost.inc({ model }, report.costMicros);
  }

  imageStored(bytes: number): void {
    this.bytesStored.inc(bytes);
  }

  rateLimited(reason: RateLimitReason): void {
    this.rateLimitRefusals.inc({ reason });
  }

  taskEnded(state: 'succeeded' | 'failed', seconds: number): void {
    this.taskDuration.observe({ state }, seconds);
  }

  webhookAttempt(outcome: WebhookAttemptOutcome, final: boolean): void {
    this.webhookAttempts.inc({ outcome });
    if (final) this.webhookDeliveries.inc({ outcome: outcome === 'delivered' ? 'delivered' : 'failed' });
  }

  contentRefused(source: ContentRefusalSource, mode: 'off' | 'flag' | 'block'): void {
    this.contentRefusals.inc({ source, mode });
  }

  contentCheckFailed(reason: ContentCheckFailure): void {
    this.contentCheckFailures.inc({ reason });
  }
}
