/**
 * The gateway's own error, as its answer said it: OpenAI's envelope `{error: {message, type, param, code}}`,
 * the task API's `{code, msg, data}`, or new-api's `{code, message}`. The console shows `message` and `code` as they came.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return null;
}

/** An ApiError from an answer's status and body text (which may not be JSON at all: a proxy's page, say). */
export function errorFromAnswer(status: number, text: string): ApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new ApiError(text.trim().slice(0, 300) || `HTTP ${status}`, status, null);
  }
  if (isRecord(body) && isRecord(body.error)) {
    const { message, code, type, param } = body.error;
    return new ApiError(stringOrNull(message) ?? `HTTP ${status}`, status, stringOrNull(code) ?? stringOrNull(type), stringOrNull(param));
  }
  if (isRecord(body)) {
    const message = stringOrNull(body.msg) ?? stringOrNull(body.message);
    if (message) return new ApiError(message, status, stringOrNull(body.code));
  }
  return new ApiError(`HTTP ${status}`, status, null);
}

/** What to show for any thrown value: the gateway's words when it spoke, else the browser's. */
export function describeError(err: unknown): { message: string; code: string | null } {
  if (err instanceof ApiError) return { message: err.message, code: err.code };
  if (err instanceof Error) return { message: err.message, code: null };
  return { message: String(err), code: null };
}
