/**
 * Every failure a client can see. Rendered by http/ as the OpenAI envelope
 * `{"error":{"message","type","param","code"}}` (or a task dialect's envelope).
 *
 * Errors are made by name (`gatewayError('task_not_found', ...)` or a helper below): the code's
 * status and type come from the catalogue (error-catalogue.ts), never from the call site.
 */
import { ERROR_CATALOGUE, type ErrorCode, type ErrorCodeWithStatus, type ErrorType } from './error-catalogue.js';

export { ERROR_CATALOGUE, type ErrorCode, type ErrorCodeWithStatus, type ErrorSpec, type ErrorType } from './error-catalogue.js';

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string | null,
    readonly param: string | null,
    message: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  toEnvelope(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** The same error about another field (a dialect naming the field the client sent). */
  withParam(param: string, message: string): GatewayError {
    return new GatewayError(this.status, this.type, this.code, param, message, this.headers);
  }
}

export interface GatewayErrorOptions {
  /** The request field at fault, if one is. */
  param?: string | null;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
}

/** The error `code`, with the status and type the catalogue gives it. */
export function gatewayError(code: ErrorCode, message: string, options: GatewayErrorOptions = {}): GatewayError {
  const { status, type } = ERROR_CATALOGUE[code];
  return new GatewayError(status, type, code, options.param ?? null, message, options.headers ?? {});
}

/** 400 for a field the caller got wrong. */
export function invalidRequest(param: string | null, code: ErrorCodeWithStatus<400>, message: string): GatewayError {
  return gatewayError(code, message, { param });
}

/**
 * The upstream refused the request as the caller's mistake (a bad parameter, a content policy):
 * sent with `upstream_rejected`'s status and type, but the upstream's own code and param, when
 * it gave them, so the client reads what the upstream said.
 */
export function upstreamRejected(upstreamCode: string | null | undefined, param: string | null, message: string): GatewayError {
  const { status, type } = ERROR_CATALOGUE.upstream_rejected;
  return new GatewayError(status, type, upstreamCode ?? 'upstream_rejected', param, message);
}

/**
 * 400 content_policy_violation, the one refusal shape in every dialect: an upstream's safety
 * filter (routing/client-error.ts), the prompt blocklist or the image check (the pipeline).
 * `reason` says why in words; param is null, as OpenAI sends it.
 */
export function contentPolicyViolation(reason: string): GatewayError {
  return gatewayError('content_policy_violation', reason);
}

/**
 * A 4xx that a library (Fastify, its multipart parser) reported with a status the gateway has no
 * code for: relayed with that status and code null. Anything outside 4xx becomes a 400.
 */
export function uncataloguedClientError(status: number, message: string): GatewayError {
  const clientStatus = Number.isInteger(status) && status >= 400 && status < 500 ? status : 400;
  return new GatewayError(clientStatus, 'invalid_request_error', null, null, message);
}

export function modelNotFound(model: string): GatewayError {
  return gatewayError('model_not_found', `The model '${model}' does not exist or you do not have access to it.`, { param: 'model' });
}

/**
 * A catalogue model that no enabled channel serves: to the client, as OpenAI says of a model it
 * does not have (404 model_not_found), naming the models it may ask for instead.
 */
export function modelNotServed(model: string, served: readonly string[]): GatewayError {
  const instead = served.length > 0 ? `Models served: ${served.join(', ')}.` : 'No model is served right now: no channel is enabled.';
  return gatewayError('model_not_found', `The model '${model}' is not served by this gateway (no enabled channel serves it). ${instead}`, { param: 'model' });
}

export function invalidApiKey(message = 'Incorrect API key provided.'): GatewayError {
  return gatewayError('invalid_api_key', message);
}

/** 500: a failure with no code of its own; the cause is logged, never shown. */
export function internalError(): GatewayError {
  return gatewayError('internal_error', 'The server had an error processing your request.');
}

/** 502: the upstream's answer could not be used (no images, not an image, a broken download). */
export function upstreamInvalidResponse(message: string): GatewayError {
  return gatewayError('upstream_invalid_response', message);
}

/** 413: more than the gateway takes in one request; `param` names the field when one is to blame. */
export function requestTooLarge(message: string, param: string | null = null): GatewayError {
  return gatewayError('request_too_large', message, { param });
}

/** Seconds a client is told to wait when the database is away (a restart or failover takes a few). */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** 503: the database did not answer (restarting, failing over, stalled); the client may retry shortly. */
export function databaseUnavailable(): GatewayError {
  return gatewayError('service_unavailable', 'The service is temporarily unavailable (its database did not answer). Retry shortly.', {
    headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
  });
}
