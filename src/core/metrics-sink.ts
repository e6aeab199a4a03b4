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
