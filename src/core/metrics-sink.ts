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
