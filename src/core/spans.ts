/**
 * What the gateway traces, as plain calls: http/ (a span per request), routing/ (per channel
 * attempt), providers/transport.ts (per upstream call), storage/ (per image written) and tasks/
 * (per task run, per webhook delivery) call these and never import OpenTelemetry; src/tracing/
 * implements them when tracing is on (the OTEL_* variables, docs/tracing.md). Off, NO_SPANS runs
 * the work and records nothing: no span, no header, no context switch.
 */

/** Attribute values; an undefined one is left out. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | undefined>>;

export type SpanKind = 'internal' | 'server' | 'client' | 'consumer';

/** One span begun, ended once by whoever began it. */
export interface Span {
  set(attributes: SpanAttributes): void;
  /** The span's work failed: status ERROR, `code` the gateway's error code or an upstream outcome (`http_500`, `timeout`). */
  fail(code: string | null, message: string): void;
  end(): void;
  /** The W3C `traceparent` naming this span, for a later span to link to (a task's run to its submission); undefined when tracing is off. */
  traceparent(): string | undefined;
}

/** Request headers as Node gives them. */
export type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface Spans {
  /** Spans are recorded (tracing is on). */
  readonly recording: boolean;
  /**
   * Runs `work` in a new span, child of the active one, ended when its promise settles. A throw
   * the work did not already mark fails the span with the error's code. `links`: traceparents of
   * spans in other traces this one follows from.
   */
  run<T>(name: string, kind: SpanKind, attributes: SpanAttributes, work: (span: Span) => Promise<T>, links?: readonly string[]): Promise<T>;
  /** Begins a span, child of the active one, that outlives the call that began it (an answer read later); not made active. */
  start(name: string, kind: SpanKind, attributes: SpanAttributes): Span;
  /** An incoming request's span, continuing the trace its caller's `traceparent` header names. */
  startIncoming(name: string, headers: IncomingHeaders, attributes: SpanAttributes): Span;
  /** Runs `work` with `parent` as the active span (without one, as it is): the spans it begins are its children. */
  within<T>(parent: Span | undefined, work: () => T): T;
  /** Each step of a generator read later by another caller (an answer passed through) runs within `parent`. */
  withinEach<T, R>(parent: Span | undefined, events: AsyncGenerator<T, R, undefined>): AsyncGenerator<T, R, undefined>;
  /** `headers` plus the trace headers (`traceparent`, `tracestate`) of `span`, or of the active span; `headers` itself when there are none. */
  traceHeaders(headers: Record<string, string>, span?: Span): Record<string, string>;
}

const NO_SPAN: Span = {
  set: () => {},
  fail: () => {},
  end: () => {},
  traceparent: () => undefined,
};

/** Tracing off: the work runs, nothing is recorded or propagated. */
export const NO_SPANS: Spans = {
  recording: false,
  run: (_name, _kind, _attributes, work) => work(NO_SPAN),
  start: () => NO_SPAN,
  startIncoming: () => NO_SPAN,
  within: (_parent, work) => work(),
  withinEach: (_parent, events) => events,
  traceHeaders: (headers) => headers,
};
