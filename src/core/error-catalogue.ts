/**
 * Every error code the gateway answers with, and the one HTTP status and error type each is
 * always sent with. Errors are made by name (`gatewayError` in errors.ts), so a code cannot drift
 * to a second status or type, and a misspelt code does not compile. To add a code, add its line
 * here (test/error-catalogue.test.ts checks that its type fits its status).
 *
 * Two kinds of error carry a code that is not listed: an upstream's own code for a request it
 * refused (`upstreamRejected`, sent with `upstream_rejected`'s status and type) and a 4xx a
 * library reported that the gateway has no code for (`uncataloguedClientError`, code null).
 */

/** The `type` of the OpenAI error envelope. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error'
  | 'upstream_error';

export interface ErrorSpec {
  /** The HTTP status, also the `code` of the task API's envelope. */
  readonly status: number;
  readonly type: ErrorType;
}

const BAD_REQUEST = { status: 400, type: 'invalid_request_error' } as const;
const NOT_FOUND = { status: 404, type: 'invalid_request_error' } as const;
/** OpenAI answers a key it does not accept with 401 invalid_request_error (code invalid_api_key). */
const BAD_KEY = { status: 401, type: 'invalid_request_error' } as const;
const BAD_GATEWAY = { status: 502, type: 'server_error' } as const;
const UNAVAILABLE = { status: 503, type: 'server_error' } as const;
const TIMED_OUT = { status: 504, type: 'server_error' } as const;

export const ERROR_CATALOGUE = {
  // 400: the caller's request, as framed or as a field.
  invalid_request: BAD_REQUEST,
  malformed_request: BAD_REQUEST,
  invalid_json: BAD_REQUEST,
  invalid_url: BAD_REQUEST,
  nesting_too_deep: BAD_REQUEST,
  field_too_large: BAD_REQUEST,
  invalid_multipart: BAD_REQUEST,
  invalid_value: BAD_REQUEST,
  invalid_type: BAD_REQUEST,
  missing_required_parameter: BAD_REQUEST,
  unknown_parameter: BAD_REQUEST,
  unsupported_parameter: BAD_REQUEST,
  string_above_max_length: BAD_REQUEST,
  /** The task API's unknown model: that dialect answers it 400 (OpenAI's is model_not_found, 404). */
  unsupported_model: BAD_REQUEST,
  // 400: input images.
  unsupported_input: BAD_REQUEST,
  invalid_image: BAD_REQUEST,
  invalid_image_format: BAD_REQUEST,
  invalid_image_dimensions: BAD_REQUEST,
  invalid_mask: BAD_REQUEST,
  image_too_large: BAD_REQUEST,
  too_many_images: BAD_REQUEST,
  invalid_image_url: BAD_REQUEST,
  image_url_forbidden: BAD_REQUEST,
  image_url_unreachable: BAD_REQUEST,
  image_url_timeout: BAD_REQUEST,
  /** The upstream refused the request as the caller's mistake and gave no code of its own. */
  upstream_rejected: BAD_REQUEST,
  /** Content refused: by an upstream's safety filter, the gateway's prompt blocklist or its image check. */
  content_policy_violation: BAD_REQUEST,

  // 401 / 402 / 403: who is asking, and what they may do.
  invalid_api_key: BAD_KEY,
  api_key_disabled: BAD_KEY,
  api_key_expired: BAD_KEY,
  insufficient_quota: { status: 402, type: 'insufficient_quota' },
  admin_disabled: { status: 403, type: 'permission_error' },
  ip_not_allowed: { status: 403, type: 'permission_error' },
  model_not_allowed: { status: 403, type: 'permission_error' },
  invalid_signature: { status: 403, type: 'invalid_request_error' },

  // 404 and the other 4xx.
  not_found: NOT_FOUND,
  model_not_found: NOT_FOUND,
  task_not_found: NOT_FOUND,
  key_not_found: NOT_FOUND,
  channel_not_found: NOT_FOUND,
  image_not_found: NOT_FOUND,
  request_timeout: { status: 408, type: 'invalid_request_error' },
  idempotency_key_reused: { status: 409, type: 'invalid_request_error' },
  channel_exists: { status: 409, type: 'invalid_request_error' },
  /** A webhook resend asked of a task that has not ended, or has no callback URL, or whose delivery is still being tried. */
  task_not_finished: { status: 409, type: 'invalid_request_error' },
  task_without_callback: { status: 409, type: 'invalid_request_error' },
  webhook_delivery_pending: { status: 409, type: 'invalid_request_error' },
  /** Approving an image the content check did not flag. */
  image_not_under_review: { status: 409, type: 'invalid_request_error' },
  url_expired: { status: 410, type: 'invalid_request_error' },
  request_too_large: { status: 413, type: 'invalid_request_error' },
  uri_too_long: { status: 414, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  range_not_satisfiable: { status: 416, type: 'invalid_request_error' },
  expectation_failed: { status: 417, type: 'invalid_request_error' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  headers_too_large: { status: 431, type: 'invalid_request_error' },
  /** nginx's 499: the client closed the request before its answer (what the log records for the run). */
  client_closed_request: { status: 499, type: 'invalid_request_error' },

  // 5xx: the gateway, its database, or its upstreams.
  internal_error: { status: 500, type: 'server_error' },
  upstream_unavailable: BAD_GATEWAY,
  upstream_invalid_response: BAD_GATEWAY,
  upstream_task_failed: BAD_GATEWAY,
  upstream_auth_failed: BAD_GATEWAY,
  upstream_error: BAD_GATEWAY,
  service_unavailable: UNAVAILABLE,
  server_busy: UNAVAILABLE,
  no_available_channel: UNAVAILABLE,
  upstream_rate_limited: UNAVAILABLE,
  upstream_timeout: TIMED_OUT,
} as const satisfies Readonly<Record<string, ErrorSpec>>;

/** A code the gateway answers with. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The codes sent with HTTP status `S`. */
export type ErrorCodeWithStatus<S extends number> = {
  [K in ErrorCode]: (typeof ERROR_CATALOGUE)[K]['status'] extends S ? K : never;
}[ErrorCode];
