// The OpenAI simulator's injected failures: what a fault is, how the control endpoint
// (POST /_sim/faults) reads one, the error a status fault answers with (worded as OpenAI words
// its own), and what a fault does to a stream. Applying one is the simulator's (simulator.ts).
import { isObject, SimApiError, type JsonObject } from './params.js';
import type { StreamFault } from './stream.js';

export type SimFault =
  | {
      kind: 'status';
      status: number;
      retryAfterSeconds?: number;
      message?: string;
      type?: string;
      code?: string | null;
      param?: string | null;
    }
  /**
   * Never answer (until the client gives up). With `afterEvents` and a stream request: send
   * that many events, then stall without ending (an upstream that stops mid-stream).
   */
  | { kind: 'hang'; afterEvents?: number }
  /** A stream request gets a 200 event stream whose data is not JSON; others a cut-off JSON body. */
  | { kind: 'malformed' }
  /** Half the body, then the socket is destroyed; a stream is cut in the middle of its last event. */
  | { kind: 'truncated' }
  | { kind: 'delay'; ms: number }
  /**
   * Stream requests: `afterEvents` events (at most all of them), then an SSE `error` event, and the stream ends.
   * A request that is not streamed gets a 500 server_error with `message` instead.
   */
  | { kind: 'stream_error'; afterEvents: number; message?: string }
  /**
   * Stream requests: `afterEvents` events (at most all of them), then the socket is destroyed (no clean end).
   * A request that is not streamed is truncated as with `truncated`.
   */
  | { kind: 'stream_cut'; afterEvents: number };

/** Defaults that mirror what OpenAI sends for common upstream failures. */
export function statusFaultError(fault: Extract<SimFault, { kind: 'status' }>): SimApiError {
  const status = fault.status;
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
  const defaults = statusDefaults(status, fault.retryAfterSeconds);
  return new SimApiError(
    status,
    fault.message ?? defaults.message,
    fault.type ?? defaults.type,
    fault.param ?? null,
    fault.code !== undefined ? fault.code : defaults.code,
    headers,
  );
}

export function statusDefaults(status: number, retryAfter: number | undefined): { message: string; type: string; code: string | null } {
  if (status === 429) {
    const wait = retryAfter !== undefined ? ` Please try again in ${retryAfter}s.` : '';
    return {
      message: `Rate limit reached for images in organization org-simulator on requests per min (RPM): Limit 5, Used 5, Requested 1.${wait}`,
      type: 'requests',
      code: 'rate_limit_exceeded',
    };
  }
  if (status === 401) return { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 503) return { message: 'The server is overloaded or not ready yet.', type: 'server_error', code: null };
  if (status >= 500) {
    return { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null };
  }
  return { message: `Simulated upstream error (HTTP ${status}).`, type: 'invalid_request_error', code: null };
}

export function parseFault(value: unknown): SimFault | string {
  if (!isObject(value) || typeof value.kind !== 'string') return 'each fault must be an object with a string "kind"';
  switch (value.kind) {
    case 'hang':
      return parseHangFault(value);
    case 'malformed':
    case 'truncated':
      return { kind: value.kind };
    case 'stream_error':
    case 'stream_cut':
      return parseStreamFault(value, value.kind);
    case 'delay':
      return typeof value.ms === 'number' && value.ms >= 0 ? { kind: 'delay', ms: value.ms } : 'delay needs a non-negative "ms"';
    case 'status':
      return parseStatusFault(value);
    default:
      return `unknown fault kind '${value.kind}'`;
  }
}

function isEventCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function parseHangFault(value: JsonObject): SimFault | string {
  if (value.afterEvents === undefined) return { kind: 'hang' };
  if (!isEventCount(value.afterEvents)) return 'hang "afterEvents" must be a non-negative integer';
  return { kind: 'hang', afterEvents: value.afterEvents };
}

function parseStreamFault(value: JsonObject, kind: 'stream_error' | 'stream_cut'): SimFault | string {
  const { afterEvents, message } = value;
  if (!isEventCount(afterEvents)) return `${kind} needs a non-negative integer "afterEvents"`;
  if (kind === 'stream_cut') return { kind, afterEvents };
  if (message !== undefined && typeof message !== 'string') return 'stream_error "message" must be a string';
  return message === undefined ? { kind, afterEvents } : { kind, afterEvents, message };
}

function parseStatusFault(value: JsonObject): SimFault | string {
  const { status, retryAfterSeconds, message, type, code, param } = value;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    return 'status fault needs an integer "status" in 100..599';
  }
  const fault: Extract<SimFault, { kind: 'status' }> = { kind: 'status', status };
  if (typeof retryAfterSeconds === 'number') fault.retryAfterSeconds = retryAfterSeconds;
  if (typeof message === 'string') fault.message = message;
  if (typeof type === 'string') fault.type = type;
  if (typeof code === 'string' || code === null) fault.code = code;
  if (typeof param === 'string' || param === null) fault.param = param;
  return fault;
}

/** What a queued fault does to a stream; undefined for faults that act before or instead of one. */
export function asStreamFault(fault: SimFault): StreamFault | undefined {
  switch (fault.kind) {
    case 'stream_error':
    case 'stream_cut':
    case 'truncated':
      return fault;
    case 'hang':
      return fault.afterEvents !== undefined ? { kind: 'hang', afterEvents: fault.afterEvents } : undefined;
    default:
      return undefined;
  }
}
