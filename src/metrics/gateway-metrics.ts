/**
 * The gateway's Prometheus metrics, with prom-client (the standard Node Prometheus client: the
 * exposition format, histograms and the process' default metrics without hand-written code). One
 * registry per App (no global registry, so two gateways in one process, as in tests, keep their
 * own counts). The rest of src/ reports through core/metrics-sink.ts and never imports
 * prom-client. Every metric is listed in README.md, "Metrics".
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { HttpMetricsSink, MetricsExposition } from '../core/metrics-sink.js';

export const METRIC_PREFIX = 'imagegate_';

/** Seconds: from a cheap admin read to a long, multi-image generation. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300];

/** The methods HTTP defines; anything else is counted as `other` (the label stays bounded). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export class GatewayMetrics implements HttpMetricsSink, MetricsExposition {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method' | 'status'>;

  constructor() {
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
}
