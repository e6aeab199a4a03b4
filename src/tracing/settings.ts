/**
 * Whether traces are on, and where they go, from OpenTelemetry's standard variables. Read by
 * config.ts at start; imports nothing of OpenTelemetry, so a start with tracing off loads none of it.
 * What the SDK reads itself (the OTLP endpoint, headers and timeout, the sampler, the resource,
 * the batch processor's limits) is left to it: see start-tracing.ts.
 */

export type TraceExporterName = 'otlp' | 'console';

/** OTLP over HTTP: protobuf (the OTLP default) or JSON. gRPC is not carried. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingSettings {
  /** Where spans go; none: tracing is off. */
  exporters: readonly TraceExporterName[];
  protocol: OtlpProtocol;
}

export class TracingSettingsError extends Error {
  override name = 'TracingSettingsError';
}

type Env = Readonly<Record<string, string | undefined>>;

const EXPORTERS: ReadonlySet<string> = new Set(['otlp', 'console', 'none']);
const PROTOCOLS: ReadonlySet<string> = new Set(['http/protobuf', 'http/json']);

/**
 * Off unless asked for: OTEL_TRACES_EXPORTER names `otlp` and/or `console`, or an OTLP endpoint is
 * set (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and the exporter is not
 * `none`. OTEL_SDK_DISABLED=true turns it off whatever else is set.
 */
export function readTracingSettings(env: Env): TracingSettings {
  const exporters = exportersOf(env);
  // The protocol matters only to the OTLP exporter: a shared environment's gRPC setting does not stop a start without it.
  return { exporters, protocol: exporters.includes('otlp') ? otlpProtocol(env) : 'http/protobuf' };
}

function exportersOf(env: Env): readonly TraceExporterName[] {
  if (value(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return [];
  const named = value(env, 'OTEL_TRACES_EXPORTER');
  const endpoint = value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (named === undefined) return endpoint === undefined ? [] : ['otlp'];
  const names = named
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  const unknown = names.find((n) => !EXPORTERS.has(n));
  if (unknown !== undefined) throw new TracingSettingsError(`OTEL_TRACES_EXPORTER: "${unknown}" is not one of otlp, console, none`);
  return [...new Set(names.filter((n): n is TraceExporterName => n !== 'none'))];
}

/** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf. */
function otlpProtocol(env: Env): OtlpProtocol {
  const name = value(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = value(env, name) ?? 'http/protobuf';
  if (!PROTOCOLS.has(protocol)) {
    throw new TracingSettingsError(`${name}: "${protocol}" is not carried; use http/protobuf (port 4318 of a collector) or http/json`);
  }
  return protocol as OtlpProtocol;
}

function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}
