/** Whether a real answer matches the schema its route declares for its status (as test/route-schemas.e2e.test.ts checks them). */
import AjvCompiler from '@fastify/ajv-compiler';
import type { RouteEntry } from '../../src/http/access.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const ajv = AjvCompiler()({}, { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: true } });

/** What is wrong with the answer, or null when it matches; `url` is the route's pattern. */
export function schemaMismatch(routes: readonly RouteEntry[], method: string, url: string, status: number, answer: unknown): string | null {
  const route = routes.find((r) => r.method === method && r.url === url);
  if (!route) return `${method} ${url}: no such route`;
  const responses = (route.schema?.response ?? {}) as Json;
  const entry = responses[String(status)] ?? responses[`${String(status)[0]}xx`];
  const content = isObject(entry) ? entry.content : undefined;
  const schema = isObject(content) ? (content['application/json'] as Json | undefined)?.schema : entry;
  if (!isObject(schema)) return `${method} ${url}: ${status} is not declared`;
  const validate = ajv({ schema, httpPart: 'response' });
  return validate(answer) ? null : `${method} ${url} ${status}: ${JSON.stringify(validate.errors)}`;
}
