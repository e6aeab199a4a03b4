/**
 * Building blocks of the route schemas (TypeBox, JSON Schema underneath): error envelopes per
 * dialect, the statuses every route of an access class can answer, nullable fields, and the
 * marker for parts of a schema that are described but left to the hand validation in core/.
 *
 * Route schemas are read three ways: ajv checks params, query and body before a handler runs
 * (validation.ts turns its refusals into the dialect's errors); the type provider types the
 * handlers from them; a generated OpenAPI document will describe the API from them. Responses
 * are described, never used to serialize (server.ts): answers are written as before.
 */
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import type { AccessClass, Dialect } from '../access.js';

/** `T` or JSON null (the OpenAI dialect reads null as "not given"). */
export function nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

/** An optional field that may also be null. */
export function optionalNullable<T extends TSchema>(schema: T, options: { description?: string } = {}) {
  return Type.Optional(Type.Union([schema, Type.Null()], options));
}

/**
 * Marks a part of a schema as described only: the documentation shows it whole, ajv skips it
 * (validation.ts replaces it with `{}` before compiling). For fields whose hand validation gives a
 * more specific error than a schema could (a code other than invalid_type for a wrong type, a
 * catalogue-aware message, a polymorphic form): the handler still checks them.
 */
export const DESCRIBED_ONLY: unique symbol = Symbol.for('imagegate.schema.describedOnly');

export function describedOnly<T extends TSchema>(schema: T): T {
  return { ...schema, [DESCRIBED_ONLY]: true };
}

/**
 * A response documented with this shape whose handler writes bytes itself (a streamed body, a
 * file): typed as unknown, so the handler may send a Buffer or a stream.
 */
export function writtenAsIs<T extends TSchema>(schema: T): TUnsafe<unknown> {
  return Type.Unsafe<unknown>(schema);
}

/** OpenAI's error envelope, which every route but the task API's answers errors in. */
export const OpenAIErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String({
        description: 'invalid_request_error, authentication_error, permission_error, rate_limit_error, insufficient_quota, server_error, upstream_error...',
      }),
      param: nullable(Type.String({ description: 'The request field at fault, as the client named it.' })),
      code: nullable(Type.String({ description: 'One of the gateway error catalogue codes, or an upstream code.' })),
    }),
  },
  { title: 'OpenAIError' },
);
export type OpenAIErrorEnvelope = Static<typeof OpenAIErrorEnvelope>;

/** The task API's envelope: `code` repeats the HTTP status. */
export const TaskApiErrorEnvelope = Type.Object(
  {
    code: Type.Integer({ description: 'The HTTP status.' }),
    msg: Type.String(),
    data: Type.Null(),
  },
  { title: 'TaskApiError' },
);

const STATUS_TEXT: Readonly<Record<string, string>> = {
  400: 'Bad request: a parameter, query field or body field the gateway refuses (param names it), or malformed JSON.',
  401: 'No key, an unknown key, or a disabled or expired key.',
  402: 'The key has not enough credits for this request.',
  403: 'Forbidden: the admin API is off, the client address or the model is not allowed for the key, or a link signature is wrong.',
  404: 'Not found.',
  409: 'Conflict.',
  410: 'The signed link has expired.',
  429: "Over the key's requests per minute or concurrent requests (Retry-After says when to retry).",
  502: 'The upstream failed or answered something unusable.',
  503: 'No channel can serve the model now, the gateway is busy or closing, or its database is away (Retry-After).',
  504: 'The upstream did not answer in time.',
  '4xx': 'Any other refusal of the request as framed: URL, headers, body size (413), Content-Type (415)...',
  '5xx': 'The gateway failed.',
};

/** Statuses an error answer may have on a route. */
export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 410 | 429 | 502 | 503 | 504;

/** What every route of a class may answer besides its own errors: its access check's refusals. */
const ACCESS_ERRORS: Readonly<Record<AccessClass, readonly ErrorStatus[]>> = {
  client: [401, 403],
  'task-owner': [401, 403],
  admin: [401, 403],
  'signed-link': [403, 410],
  public: [],
};

type ErrorResponses<D extends Dialect> = Record<string, D extends 'task-api' ? typeof TaskApiErrorEnvelope : typeof OpenAIErrorEnvelope>;

/**
 * The error answers of a route in its dialect's envelope: its access class's, `statuses`, and
 * 4xx/5xx for what any route may answer (framing, size, media type, an internal error, closing).
 * Every route answers 400 (a path, query or body it refuses) and 503 (its database away).
 */
export function errorResponses<D extends Dialect>(dialect: D, access: AccessClass, statuses: readonly ErrorStatus[] = []): ErrorResponses<D> {
  const envelope = dialect === 'task-api' ? TaskApiErrorEnvelope : OpenAIErrorEnvelope;
  const all = [...new Set<ErrorStatus | '4xx' | '5xx'>([400, ...ACCESS_ERRORS[access], ...statuses, 503, '4xx', '5xx'])];
  return Object.fromEntries(all.map((status) => [String(status), { ...envelope, description: STATUS_TEXT[String(status)] ?? '' }])) as ErrorResponses<D>;
}

/**
 * The request headers a route reads besides Authorization, described only (http/request-guards.ts
 * and the handlers read them; names in lower case, as Node gives them).
 */
export const IDEMPOTENCY_KEY_HEADER = {
  'idempotency-key': Type.Optional(
    describedOnly(Type.String({ minLength: 1, maxLength: 255, description: 'Sent once: a replay with the same body answers with the same task.' })),
  ),
};

/** A route that reads no query parameters (any given are ignored). */
export const NoQuery = Type.Object({}, { description: 'No query parameters.' });

/** A POST that reads no body: whatever is sent is ignored. */
export const NoBody = describedOnly(Type.Unknown({ description: 'No body is read; anything sent is ignored.' }));

/** `/:id` of an admin or task resource. */
export const IdParams = Type.Object({ id: Type.String({ description: 'The resource id.' }) });

/** 204 No Content. */
export const NoContent = Type.Null({ description: 'No content.' });

/** `{"object":"list","data":[...]}`. */
export function listOf<T extends TSchema>(item: T, options: { title?: string; description?: string } = {}) {
  return Type.Object({ object: Type.Literal('list'), data: Type.Array(item) }, options);
}

/** An ISO 8601 timestamp, or null when the thing has not happened. */
export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = nullable(Timestamp);
