/**
 * Every failure a client can see. Rendered by http/ as the OpenAI envelope
 * `{"error":{"message","type","param","code"}}` (or a task dialect's envelope).
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error'
  | 'upstream_error';

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
}

/** 400 for a field the caller got wrong. */
export function invalidRequest(param: string | null, code: string, message: string): GatewayError {
  return new GatewayError(400, 'invalid_request_error', code, param, message);
}

export function modelNotFound(model: string): GatewayError {
  return new GatewayError(
    404,
    'invalid_request_error',
    'model_not_found',
    'model',
    `The model '${model}' does not exist or you do not have access to it.`,
  );
}

export function invalidApiKey(message = 'Incorrect API key provided.'): GatewayError {
  return new GatewayError(401, 'invalid_request_error', 'invalid_api_key', null, message);
}

/** Seconds a client is told to wait when the database is away (a restart or failover takes a few). */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** 503: the database did not answer (restarting, failing over, stalled); the client may retry shortly. */
export function databaseUnavailable(): GatewayError {
  return new GatewayError(
    503,
    'server_error',
    'service_unavailable',
    null,
    'The service is temporarily unavailable (its database did not answer). Retry shortly.',
    { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
  );
}
