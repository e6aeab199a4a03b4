/**
 * What the gateway reports to its metrics, as plain calls: http/ (and, later, routing/, billing/,
 * tasks/) call these and never import the metrics library; src/metrics/ implements them with
 * prom-client. Every label is a bounded value: a route pattern (never a raw URL), a method, a
 * status; no key ids, no prompts.
 */

/** One HTTP answer, counted when it has been sent. */
export interface HttpMetricsSink {
  /** `route`: the matched route's pattern (`/v1/images/generations`, `/files/:name`), or `unmatched`. */
  httpAnswered(route: string, method: string, status: number, seconds: number): void;
}

/** The metrics in Prometheus' text exposition format, for the /metrics route. */
export interface MetricsExposition {
  readonly contentType: string;
  render(): Promise<string>;
}

/**
 * An upstream attempt's outcome: `ok`; a retryable failure's kind (`http_500`, `http_429`,
 * `timeout`, `connection`, `protocol`); `auth` (the upstream refused the key); `refused` (the
 * upstream refused the request itself, a 4xx); `task_failed`; `aborted`.
 */
export type UpstreamOutcome = string;

/** routing/ reports each upstream attempt, by channel name (the operator's, a bounded set). */
export interface UpstreamMetricsSink {
  upstreamAttempt(channel: string, outcome: UpstreamOutcome, seconds: number): void;
}

/** Channel health, read when the metrics are scraped (no bookkeeping in the routing path). */
export interface ChannelHealthView {
  channel: string;
  breaker: 'closed' | 'half-open' | 'open';
  /** Attempts this instance has in flight on the channel. */
  inFlight: number;
}

/** A run that delivered, reported where it is settled (the pipeline, by billing/settlement.ts' rules). */
export interface DeliveryReport {
  /** The catalogue's (or the operator's) model id, never an alias or the client's spelling. */
  model: string;
  /** The images' format (png, jpeg, webp), or `unknown` when the answer does not say. */
  format: string;
  images: number;
  /** Credits taken from a metered key (0 for an unlimited key), micro-dollars. */
  chargedMicros: number;
  /** What the upstream cost the operator (the channel's cost ratio applied), micro-dollars. */
  costMicros: number;
}

export interface DeliveryMetricsSink {
  delivered(report: DeliveryReport): void;
}

/** Who refused content: an upstream's own filter, the gateway's image check, or its prompt blocklist. */
export type ContentRefusalSource = 'upstream' | 'classifier' | 'prompt';

/**
 * The pipeline reports each refusal of content, with the mode of the policy that applied to the run
 * (`off` when none did: an upstream refusal on an unchecked run). A flagged image (flag mode) is
 * counted too, with mode `flag`: it was delivered, and kept for review.
 */
export interface ContentSafetyMetricsSink {
  contentRefused(source: ContentRefusalSource, mode: 'off' | 'flag' | 'block'): void;
  /** An image the check could not score, by why (its classifier's failure, lower-cased, without SAFETY_). */
  contentCheckFailed(reason: ContentCheckFailure): void;
}

/** Why an image could not be checked: SafetyClassifierFailure's codes as metric labels. */
export type ContentCheckFailure = 'queue_full' | 'undecodable_image' | 'worker_failed' | 'unavailable' | 'closed';

/** storage/ reports each image's bytes once they are stored. */
export interface StorageMetricsSink {
  imageStored(bytes: number): void;
}

/** Which limit of a key refused a request with 429: its requests per minute, or its concurrent requests. */
export type RateLimitReason = 'rpm' | 'concurrency';

/** billing/ reports each rate-limit refusal (429). */
export interface RateLimitMetricsSink {
  rateLimited(reason: RateLimitReason): void;
}

/** The durable task queue now, counted from the task store (its status index) when scraped. */
export interface TaskCounts {
  queued: number;
  running: number;
  /** Waiting for a worker: queued, or running under a lease that ran out. */
  waiting: number;
}

/** tasks/ reports each task that ends, from its creation to its end. */
export interface TaskMetricsSink {
  taskEnded(state: 'succeeded' | 'failed', seconds: number): void;
}

/** One webhook delivery attempt: delivered (2xx), answered another status, unreachable, or refused by the address guard. */
export type WebhookAttemptOutcome = 'delivered' | 'http_error' | 'unreachable' | 'refused';

/** tasks/ reports each recorded webhook attempt; `final` when the delivery ended with it (delivered, or given up). */
export interface WebhookMetricsSink {
  webhookAttempt(outcome: WebhookAttemptOutcome, final: boolean): void;
}
