/**
 * core/spans.ts' Spans on OpenTelemetry's API: a tracer of the app's own provider (no global
 * provider is registered), the active span carried by the API's context manager, W3C trace
 * context read from requests and written on upstream calls by a propagator of its own. Loaded
 * only when tracing is on (start-tracing.ts imports it).
 */
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind as OtelSpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span as OtelSpan,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';
import { GatewayError } from '../core/errors.js';
import type { IncomingHeaders, Span, SpanAttributes, SpanKind, Spans } from '../core/spans.js';
import { UpstreamFailure } from '../core/upstream-failure.js';

const KINDS: Record<SpanKind, OtelSpanKind> = {
  internal: OtelSpanKind.INTERNAL,
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  consumer: OtelSpanKind.CONSUMER,
};

class RecordedSpan implements Span {
  failed = false;

  constructor(readonly otel: OtelSpan) {}

  set(attributes: SpanAttributes): void {
    for (const [name, value] of Object.entries(attributes)) if (value !== undefined) this.otel.setAttribute(name, value);
  }

  fail(code: string | null, message: string): void {
    this.failed = true;
    this.otel.setStatus({ code: SpanStatusCode.ERROR, message });
    if (code !== null) this.otel.setAttribute('error.type', code);
  }

  end(): void {
    this.otel.end();
  }

  traceparent(): string {
    const { traceId, spanId, traceFlags } = this.otel.spanContext();
    return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
  }
}

export class OtelSpans implements Spans {
  readonly recording = true;

  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: TextMapPropagator,
  ) {}

  async run<T>(name: string, kind: SpanKind, attributes: SpanAttributes, work: (span: Span) => Promise<T>, links: readonly string[] = []): Promise<T> {
    const span = this.begin(name, kind, attributes, context.active(), links);
    return context.with(trace.setSpan(context.active(), span.otel), async () => {
      try {
        return await work(span);
      } catch (err) {
        if (!span.failed) span.fail(failureCode(err), failureMessage(err));
        throw err;
      } finally {
        span.end();
      }
    });
  }

  start(name: string, kind: SpanKind, attributes: SpanAttributes): Span {
    return this.begin(name, kind, attributes, context.active());
  }

  startIncoming(name: string, headers: IncomingHeaders, attributes: SpanAttributes): Span {
    return this.begin(name, 'server', attributes, this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
  }

  within<T>(parent: Span | undefined, work: () => T): T {
    if (!(parent instanceof RecordedSpan)) return work();
    return context.with(trace.setSpan(context.active(), parent.otel), work);
  }

  withinEach<T, R>(parent: Span | undefined, events: AsyncGenerator<T, R, undefined>): AsyncGenerator<T, R, undefined> {
    if (!(parent instanceof RecordedSpan)) return events;
    const active = trace.setSpan(context.active(), parent.otel);
    const bound: AsyncGenerator<T, R, undefined> = {
      next: (...args) => context.with(active, () => events.next(...args)),
      return: (value) => context.with(active, () => events.return(value)),
      throw: (err) => context.with(active, () => events.throw(err)),
      [Symbol.asyncIterator]: () => bound,
    };
    return bound;
  }

  /** A stored traceparent as a link (none when it does not parse). */
  private linkTo(traceparent: string): Link[] {
    const linked = trace.getSpanContext(this.propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter));
    return linked ? [{ context: linked }] : [];
  }

  traceHeaders(headers: Record<string, string>, span?: Span): Record<string, string> {
    const from: Context = span instanceof RecordedSpan ? trace.setSpan(context.active(), span.otel) : context.active();
    if (trace.getSpan(from) === undefined) return headers;
    const carried = { ...headers };
    this.propagator.inject(from, carried, defaultTextMapSetter);
    return carried;
  }

  private begin(name: string, kind: SpanKind, attributes: SpanAttributes, parent: Context, links: readonly string[] = []): RecordedSpan {
    const span = new RecordedSpan(this.tracer.startSpan(name, { kind: KINDS[kind], links: links.flatMap((l) => this.linkTo(l)) }, parent));
    span.set(attributes);
    return span;
  }
}

/** A thrown error as a span's error.type: the gateway's code, an upstream outcome, or the error's name. */
function failureCode(err: unknown): string | null {
  if (err instanceof GatewayError) return err.code;
  if (err instanceof UpstreamFailure) return err.kind === 'http' ? `http_${err.status ?? 0}` : err.kind;
  return err instanceof Error ? err.name : 'error';
}

function failureMessage(err: unknown): string {
  // An unknown error's own message may hold anything: the logs have it whole.
  return err instanceof GatewayError || err instanceof UpstreamFailure ? err.message : 'internal error';
}
