// The OpenAI simulator's routes, and each request's body read once for its route: JSON, or a
// multipart form where the endpoint takes one (edits, variations).
import type { SimRequest } from '../http-server.js';
import { isMultipart, parseMultipart, type MultipartForm } from '../multipart.js';
import { headerValue, safeDecode } from '../wire.js';
import { invalidRequest, isObject, typeError, type JsonObject, type RelayOption } from './params.js';
import { parseJson, type ParsedJson } from './responses.js';

export type Route =
  | { kind: 'generate' }
  | { kind: 'edit' }
  | { kind: 'variation' }
  | { kind: 'models' }
  | { kind: 'model'; id: string }
  | { kind: 'file'; name: string }
  | { kind: 'control-faults' }
  | { kind: 'control-state' }
  | { kind: 'not-found' };

export function route(method: string, path: string): Route {
  if (method === 'POST' && path === '/v1/images/generations') return { kind: 'generate' };
  if (method === 'POST' && path === '/v1/images/edits') return { kind: 'edit' };
  if (method === 'POST' && path === '/v1/images/variations') return { kind: 'variation' };
  if (method === 'GET' && path === '/v1/models') return { kind: 'models' };
  if (method === 'GET' && path.startsWith('/v1/models/')) return { kind: 'model', id: safeDecode(path.slice(11)) };
  if (method === 'GET' && path.startsWith('/files/')) return { kind: 'file', name: path.slice(7) };
  if (method === 'POST' && path === '/_sim/faults') return { kind: 'control-faults' };
  if (method === 'GET' && path === '/_sim/state') return { kind: 'control-state' };
  return { kind: 'not-found' };
}

/** Generations, edits and variations: the requests that take a fault from the queue. */
export function makesImages(target: Route): boolean {
  return target.kind === 'generate' || target.kind === 'edit' || target.kind === 'variation';
}

/** A request body, read once: as JSON, and as a multipart form where an endpoint takes one. */
export interface ReadBody {
  json: ParsedJson;
  /** undefined: not multipart (or not an edit/variation); 'malformed': declared multipart, unparseable. */
  form: MultipartForm | 'malformed' | undefined;
  contentType: string | undefined;
}

/** Multipart is only parsed for the endpoints that take it; other bodies are read as JSON. */
export async function readBody(req: SimRequest, target: Route): Promise<ReadBody> {
  const contentType = headerValue(req.headers, 'content-type');
  const takesForm = (target.kind === 'edit' || target.kind === 'variation') && isMultipart(contentType);
  if (!takesForm) return { json: parseJson(req.body), form: undefined, contentType };
  const form = await parseMultipart(req.body, contentType ?? '').catch((): 'malformed' => 'malformed');
  return { json: { ok: false }, form, contentType };
}

/**
 * Whether a request asks to be streamed, read before validation so that the latency can be
 * spent between events rather than up front. Only a peek: validation decides for real (a
 * dall-e model, say, is a 400), and reads the same values (multipart "true" is a boolean there).
 */
export function asksForStream(target: Route, body: ReadBody, relay: RelayOption | undefined): boolean {
  if (relay?.noStream === true || (target.kind !== 'generate' && target.kind !== 'edit')) return false;
  if (body.form !== undefined && body.form !== 'malformed') {
    const value = body.form.fields.stream;
    return typeof value === 'string' && value.trim().toLowerCase() === 'true';
  }
  return body.json.ok && isObject(body.json.value) && body.json.value.stream === true;
}

export function jsonObjectBody(parsed: ParsedJson): JsonObject {
  if (!parsed.ok) {
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
      null,
      null,
    );
  }
  if (!isObject(parsed.value)) throw typeError('body', 'an object', parsed.value);
  return parsed.value;
}

/** The form, undefined for a non-multipart body; a 400 for a multipart body that does not parse. */
export function usableForm(body: ReadBody): MultipartForm | undefined {
  if (body.form === 'malformed') {
    throw invalidRequest('We could not parse the multipart/form-data body of your request.', null, null);
  }
  return body.form;
}
