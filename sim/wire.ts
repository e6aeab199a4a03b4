// Wire helpers the protocol simulators share: JSON bodies, header lookup, path segments.
// Each simulator's envelopes (error shapes, status codes) stay in its own file.
import type { SimResponse } from './http-server.js';

/** A request body as JSON; undefined when empty or not JSON (the simulator words the error). */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function jsonResponse(status: number, value: unknown): SimResponse {
  return { kind: 'full', status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) };
}

/** A header by its lowercase name; in-process callers may not lowercase theirs. */
export function headerValue(headers: Record<string, string | undefined>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** The origin a simulator's URLs start with: the one it was given (its server's), else `http://<simulator>-simulator.invalid`. */
export function publicOrigin(configured: string | undefined, simulator: string): string {
  return (configured ?? `http://${simulator}-simulator.invalid`).replace(/\/+$/, '');
}

/** The token of `Authorization: Bearer <token>`, if the request has one. */
export function bearerToken(headers: Record<string, string | undefined>): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(headerValue(headers, 'authorization')?.trim() ?? '')?.[1]?.trim();
}

/** A decoded path segment; malformed %-escapes stay raw, so the lookup misses (and 404s). */
export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Resolves after `ms`, or early when `signal` aborts (nobody is waiting any more). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
