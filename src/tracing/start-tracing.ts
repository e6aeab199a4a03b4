/**
 * Starts OpenTelemetry's trace SDK when tracing is on (settings.ts) and stops it, spans flushed,
 * when the app closes. Every SDK and exporter module is imported here, dynamically, once tracing
 * is on: a start with it off loads none of them (nor the API).
 *
 * The SDK reads for itself: the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG), span
 * limits (OTEL_SPAN_*), the batch processor (OTEL_BSP_*), the OTLP exporter's endpoint, headers,
 * timeout and compression (OTEL_EXPORTER_OTLP_[TRACES_]*), and the resource (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, over service.name=imagegate).
 */
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { withDeadline } from '../core/deadline.js';
import type { Spans } from '../core/spans.js';
import type { TracingSettings } from './settings.js';

/** Where spans are sent: OpenTelemetry's SpanExporter (the app's test seam takes one). */
export type TraceExporter = SpanExporter;

export interface Tracing {
  spans: Spans;
  /** Ends tracing: the spans ended so far are exported (within SHUTDOWN_MS). */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  logger: Logger;
  /** Spans go here, each as it ends, whatever the settings say (tests: an in-memory exporter). */
  exporter?: TraceExporter;
}

const SERVICE_NAME = 'imagegate';
/** A collector that does not answer does not hold the stop sequence longer than this. */
const SHUTDOWN_MS = 5_000;

/** undefined when tracing is off. */
export async function startTracing(settings: TracingSettings, options: TracingOptions): Promise<Tracing | undefined> {
  if (settings.exporters.length === 0 && !options.exporter) return undefined;
  const [api, sdk, core, resources, contextHooks, { OtelSpans }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/context-async-hooks'),
    import('./otel-spans.js'),
  ]);
  // Export failures reach the log (OpenTelemetry's own diagnostics are silent otherwise).
  api.diag.setLogger(
    {
      error: (message, ...args) => options.logger.warn({ otel: args }, `tracing: ${message}`),
      warn: (message, ...args) => options.logger.warn({ otel: args }, `tracing: ${message}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    api.DiagLogLevel.WARN,
  );
  // The active span follows async calls (AsyncLocalStorage). One per process; another app's is as good.
  api.context.setGlobalContextManager(new contextHooks.AsyncLocalStorageContextManager().enable());

  const processors: SpanProcessor[] = options.exporter ? [new sdk.SimpleSpanProcessor(options.exporter)] : [];
  for (const name of options.exporter ? [] : settings.exporters) {
    if (name === 'console') processors.push(new sdk.SimpleSpanProcessor(new sdk.ConsoleSpanExporter()));
    else processors.push(new sdk.BatchSpanProcessor(await otlpExporter(settings.protocol)));
  }
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': SERVICE_NAME }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: processors });
  const spans = new OtelSpans(provider.getTracer(SERVICE_NAME), new core.W3CTraceContextPropagator());
  return {
    spans,
    async shutdown() {
      const exported = provider.shutdown().catch((err: unknown) => options.logger.warn({ err }, 'tracing: shutdown failed'));
      await withDeadline(exported, SHUTDOWN_MS, () => options.logger.warn(`tracing: spans not exported within ${SHUTDOWN_MS} ms of the stop`));
    },
  };
}

/** OTLP over HTTP, in the protocol asked for; the exporter reads its endpoint and headers from the OTEL_EXPORTER_OTLP_* variables. */
async function otlpExporter(protocol: TracingSettings['protocol']): Promise<SpanExporter> {
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}
