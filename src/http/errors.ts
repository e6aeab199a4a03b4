/** Any thrown error -> the caller's dialect's error envelope with the right status. Never a stack trace. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { databaseUnavailable, GatewayError, gatewayError, internalError, uncataloguedClientError, type ErrorCode } from '../core/errors.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { dialectOf, type Dialect } from './access.js';

const FASTIFY_CODES: Readonly<Record<string, { code: ErrorCode; message?: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'request_too_large', message: 'The request body is too large.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    message: 'Unsupported Content-Type: send Content-Type: application/json (or multipart/form-data for image uploads).',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'The request body is empty; send a JSON object.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', message: 'The request body is not valid JSON.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', message: 'Content-Length does not match the body.' },
  FST_ERR_BAD_URL: { code: 'invalid_url', message: 'The request URL is not validly percent-encoded.' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'uri_too_long', message: 'A path parameter of the request URL is too long.' },
};

export function toGatewayError(err: unknown): GatewayError | null {
  if (err instanceof GatewayError) return err;
  if (isDatabaseUnavailable(err)) return databaseUnavailable();
  const fe = err as Partial<FastifyError>;
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return gatewayError(known.code, known.message ?? fe.message ?? 'Bad request.');
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message ?? ''))) {
    return gatewayError('invalid_json', `The request body is not valid JSON: ${fe.message ?? ''}`.trim());
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return uncataloguedClientError(fe.statusCode, fe.message ?? 'Bad request.');
  }
  return null;
}

export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const known = toGatewayError(err);
  if (!known) {
    request.log.error({ err }, 'unhandled error');
    const internal = internalError();
    void reply.status(internal.status).send(envelope(dialectOf(request), internal));
    return;
  }
  // The request's own log line (http/request-line.ts) says why it failed.
  void reply
    .status(known.status)
    .headers(known.headers)
    .send(envelope(dialectOf(request), known));
}

/** Where an envelope keeps the error it was made from: a symbol, so JSON.stringify leaves it out. */
const ENVELOPE_ERROR = Symbol('envelope error');

/** The task API answers errors as `{code: <status>, msg, data: null}`; everything else in OpenAI's envelope. */
export function envelope(dialect: Dialect, err: GatewayError): unknown {
  const body = dialect === 'task-api' ? { code: err.status, msg: err.message, data: null } : err.toEnvelope();
  // For the request's log line (errorOfEnvelope): its code and reason, whatever the dialect shows.
  Object.defineProperty(body, ENVELOPE_ERROR, { value: err, enumerable: false });
  return body;
}

/** The GatewayError an answer's body was made from by `envelope`, if it was. */
export function errorOfEnvelope(body: unknown): GatewayError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const err: unknown = (body as { [ENVELOPE_ERROR]?: unknown })[ENVELOPE_ERROR];
  return err instanceof GatewayError ? err : undefined;
}

export function notFoundError(request: FastifyRequest): GatewayError {
  const path = request.url.split('?')[0] ?? '';
  // The path is the caller's own; cut it short so a huge URL is not echoed back whole.
  const shown = path.length > 200 ? `${path.slice(0, 200)}...` : path;
  return gatewayError('not_found', `Invalid URL (${request.method} ${shown})`);
}

export function handleNotFound(request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(404).send(envelope(dialectOf(request), notFoundError(request)));
}

/** A Range past the end of a served file: 416 with the file's length in Content-Range, in the caller's envelope. */
export function handleRangeNotSatisfiable(request: FastifyRequest, reply: FastifyReply, contentRange: unknown): void {
  const err = gatewayError('range_not_satisfiable', 'The requested Range is past the end of the file.', {
    param: 'range',
    headers: typeof contentRange === 'string' ? { 'content-range': contentRange } : {},
  });
  void reply
    .status(err.status)
    .headers(err.headers)
    .send(envelope(dialectOf(request), err));
}
