/**
 * The JSON body parser: Fastify's own (prototype-poisoning safe), plus a bound on nesting depth.
 * A body nested thousands deep parses fine but overflows the stack of whoever walks it later
 * (JSON.stringify on the way upstream), so it is refused here, naming the top-level field.
 * An empty body is no body (DELETE with a JSON Content-Type); routes that need one say so.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidRequest } from '../core/errors.js';

/** Deeper than any field of any dialect we serve needs, shallow enough for any recursive walker. */
export const MAX_JSON_DEPTH = 32;

type Done = (err: Error | null, body?: unknown) => void;

export function installJsonParser(app: FastifyInstance, bodyLimit: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request: FastifyRequest, body: string, done: Done) => {
    if (body.length === 0) return done(null, undefined);
    parse(request, body, (err: Error | null, parsed?: unknown) => {
      if (err) return done(err);
      const tooDeep = fieldTooDeep(parsed, MAX_JSON_DEPTH);
      if (tooDeep !== undefined) {
        return done(
          invalidRequest(
            tooDeep,
            'nesting_too_deep',
            `The request body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep${tooDeep ? ` in '${tooDeep}'` : ''}.`,
          ),
        );
      }
      done(null, parsed);
    });
  });
}

/**
 * Undefined when `value` nests at most `limit` levels; otherwise the top-level key under which it
 * goes deeper (null when the top level itself is an array). Iterative: a hostile body cannot
 * overflow this walk's stack either.
 */
export function fieldTooDeep(value: unknown, limit: number): string | null | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) return depthExceeds(value, limit) ? null : undefined;
  for (const [field, child] of Object.entries(value)) {
    if (depthExceeds(child, limit - 1)) return field;
  }
  return undefined;
}

function depthExceeds(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value !== 'object' || value === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}
