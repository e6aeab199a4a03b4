/**
 * Query parameters as the routes that take them read them: each given once, as text. Fastify's
 * parser turns a repeated parameter into an array, which would otherwise reach a database query
 * as a value it cannot bind, or a date parser as "a,b".
 */
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../core/errors.js';

/** The named parameters that were given (each a string); a repeated one is a 400 naming it. */
export function readQuery<K extends string>(request: FastifyRequest, names: readonly K[]): Partial<Record<K, string>> {
  const query = request.query as Record<string, unknown>;
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    if (!Object.hasOwn(query, name)) continue;
    const value = query[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw invalidRequest(name, 'invalid_type', `${name} must be given once, as a string.`);
    out[name] = value;
  }
  return out;
}
