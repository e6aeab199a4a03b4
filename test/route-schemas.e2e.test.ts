/**
 * Every route declares what it takes and answers (http/schemas/): the walk over the registered
 * routes fails for a route without a params schema (when its path has parameters), a query
 * schema, a body schema (when its method carries one) or responses (a 2xx, and errors in its
 * dialect's envelope). And the schemas are true: real answers of the real server (port 0) match
 * the schema their route declares for their status.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../src/http/access.js';
import { compileValidatorsNow } from '../src/http/schemas/validation.js';
import { TEST_ADMIN_KEY, adminJson } from './helpers/admin.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
let routes: readonly RouteEntry[];
beforeAll(async () => {
  gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY });
  routes = gw.app.routes();
});
afterAll(async () => gw?.close());

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** A response entry's JSON schema: the entry itself, or its application/json content. */
function jsonSchemaOf(entry: unknown): Json | undefined {
  if (!isObject(entry)) return undefined;
  const content = entry.content;
  if (isObject(content)) {
    const json = content['application/json'];
    return isObject(json) && isObject(json.schema) ? json.schema : undefined;
  }
  return entry;
}

/** What the route lacks, one line each. */
function missing(route: RouteEntry): string[] {
  const name = `${route.method} ${route.url}`;
  const schema = route.schema as Json | undefined;
  if (!schema) return [`${name}: no schema`];
  const problems: string[] = [];
  const params = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] ?? '');
  if (params.length > 0) {
    const declared = isObject(schema.params) && isObject(schema.params.properties) ? Object.keys(schema.params.properties) : [];
    for (const p of params) if (!declared.includes(p)) problems.push(`${name}: path parameter ${p} not in its params schema`);
  }
  if (!isObject(schema.querystring)) problems.push(`${name}: no querystring schema`);
  if (BODY_METHODS.has(route.method) && !isObject(schema.body)) problems.push(`${name}: no body schema`);
  const response = schema.response;
  if (!isObject(response)) return [...problems, `${name}: no response schemas`];
  const statuses = Object.keys(response);
  // A redirect (/ to the console) succeeds with its 3xx.
  if (!statuses.some((s) => s.startsWith('2') || s.startsWith('3'))) problems.push(`${name}: no 2xx (or 3xx) response`);
  for (const status of ['400', '4xx', '5xx']) if (!statuses.includes(status)) problems.push(`${name}: no ${status} response`);
  // Errors are the route's dialect's envelope (a route may add its own shapes beside it, as new-api's 404).
  const envelope = route.dialect === 'task-api' ? 'TaskApiError' : 'OpenAIError';
  for (const status of ['400', '4xx', '5xx']) {
    const entry = jsonSchemaOf(response[status]);
    if (entry && entry.title !== envelope) problems.push(`${name}: ${status} is not the ${envelope} envelope`);
  }
  for (const status of statuses)
    if (!jsonSchemaOf(response[status]) && !isObject((response[status] as Json | undefined)?.content)) problems.push(`${name}: ${status} has no schema`);
  return problems;
}

describe('route schemas', () => {
  it('every registered route declares params, query, body (where its method has one) and responses', () => {
    expect(routes.length).toBeGreaterThanOrEqual(30);
    expect(routes.flatMap(missing)).toEqual([]);
  });

  it('every validator compiles (they are compiled on first use, so a broken schema would otherwise fail its first request)', async () => {
    await expect(compileValidatorsNow()).resolves.toBeUndefined();
  });

  it('the walk itself fails a route that declares nothing, or no body on a POST', () => {
    const bare: RouteEntry = { method: 'POST', url: '/x/:id', access: 'admin', dialect: 'openai' };
    expect(missing(bare)).toEqual(['POST /x/:id: no schema']);
    const noBody: RouteEntry = { ...bare, schema: { params: { type: 'object', properties: { id: {} } }, querystring: {}, response: { 200: {} } } };
    expect(missing(noBody)).toContain('POST /x/:id: no body schema');
    expect(missing(noBody)).toContain('POST /x/:id: no 5xx response');
  });

  it("a schema's refusal is the hand validation's: status, code and param, in the route's dialect", async () => {
    const send = async (method: string, path: string, body: unknown, key = gw.apiKey) => {
      const res = await fetch(`${gw.origin}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return { status: res.status, json: (await res.json()) as Json };
    };
    const openai = (code: string, param: string | null) => ({ error: { type: 'invalid_request_error', code, param } });
    const CASES: [method: string, path: string, body: unknown, status: number, expected: unknown, key?: string][] = [
      // OpenAI dialect: types by ajv (a multipart-style "2" is not a number in JSON), values by the parser.
      ['POST', '/v1/images/edits', { prompt: 'x', n: '2', image: 'aGk=' }, 400, openai('invalid_type', 'n')],
      ['POST', '/v1/images/variations', { image: 'aGk=', response_format: 1 }, 400, openai('invalid_type', 'response_format')],
      ['POST', '/v1/images/generations', { prompt: 'x', background: 5 }, 400, openai('invalid_type', 'background')],
      ['POST', '/v1/images/generations', { prompt: 'x', image: [5] }, 400, openai('invalid_type', 'image[0]')],
      ['POST', '/v1/images/generations', 'null', 400, openai('invalid_request', null)],
      ['POST', '/v1/images/generations', '"draw"', 400, openai('invalid_request', null)],
      ['POST', '/v1/images/generations', { prompt: 'x', size: '999x999' }, 400, openai('invalid_value', 'size')],
      // The task API dialect: its envelope, whatever refused the request.
      ['POST', '/api/v1/images/generations', { prompt: 'x' }, 400, { code: 400, msg: "Missing required parameter: 'model'.", data: null }],
      ['POST', '/api/v1/images/generations', { model: 'dall-e-2', prompt: 7 }, 400, { code: 400, msg: 'prompt must be a string.', data: null }],
      ['POST', '/api/v1/images/generations', undefined, 400, { code: 400, data: null }],
      ['GET', '/api/v1/images/generations', undefined, 400, { code: 400, msg: "Missing required parameter: 'task_id'.", data: null }],
      // Admin bodies: ajv where the parser answers the same; the parser where it says more.
      ['POST', '/admin/api/keys', { name: 'k', bogus: 1 }, 400, openai('unknown_parameter', 'bogus'), TEST_ADMIN_KEY],
      ['POST', '/admin/api/keys', { name: 'k', enabled: 'yes' }, 400, openai('invalid_type', 'enabled'), TEST_ADMIN_KEY],
      ['POST', '/admin/api/keys', { owner: 'o' }, 400, openai('missing_required_parameter', 'name'), TEST_ADMIN_KEY],
      ['POST', '/admin/api/keys', { name: 5 }, 400, openai('invalid_value', 'name'), TEST_ADMIN_KEY],
      ['POST', '/admin/api/keys', undefined, 400, openai('invalid_request', null), TEST_ADMIN_KEY],
      ['POST', '/admin/api/channels', { name: 'c', kind: 'demo', priority: 'high' }, 400, openai('invalid_value', 'priority'), TEST_ADMIN_KEY],
    ];
    for (const [method, path, body, status, expected, key] of CASES) {
      const res = await send(method, path, body, key);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(res.json, `${method} ${path} ${JSON.stringify(body)}`).toMatchObject(expected as Json);
    }
  });

  it('real answers match the schema their route declares for their status', async () => {
    const ajv = AjvCompiler()({}, { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: true } });
    const key = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'schema-check', credits: 5 });
    await adminJson(gw.origin, 'POST', `/admin/api/keys/${String(key.id)}/credits`, { amount: 1, note: 'top-up' });
    const channel = await adminJson(gw.origin, 'POST', '/admin/api/channels', { name: 'schema-demo', kind: 'demo' });
    await gw.client.images.generate({ model: 'dall-e-2', prompt: 'a fox', size: '256x256', response_format: 'url' });
    const submitted = await fetch(`${gw.origin}/api/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-2', prompt: 'a task', size: '256x256' }),
    });
    const taskId = String(((await submitted.json()) as { data: { taskId: string } }).data.taskId);
    const client = { authorization: `Bearer ${gw.apiKey}` };
    const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };

    const calls: [method: string, path: string, route: string, headers: Record<string, string>, body?: unknown][] = [
      ['GET', '/v1/models', '/v1/models', client],
      ['GET', '/v1/models/gpt-image-2', '/v1/models/:model', client],
      ['GET', '/v1/models/nope', '/v1/models/:model', client],
      ['GET', '/v1/images/tasks/nope', '/v1/images/tasks/:id', client],
      ['GET', '/v1/dashboard/billing/subscription', '/v1/dashboard/billing/subscription', client],
      ['GET', '/v1/dashboard/billing/usage?start_date=2020-01-01', '/v1/dashboard/billing/usage', client],
      ['GET', `/api/v1/images/generations?task_id=${taskId}`, '/api/v1/images/generations', client],
      ['GET', '/api/v1/images/generations?task_id=nope', '/api/v1/images/generations', client],
      ['POST', '/v1/images/generations', '/v1/images/generations', client, { prompt: 7 }],
      ['POST', '/api/v1/images/generations', '/api/v1/images/generations', client, { prompt: 'x' }],
      ['GET', '/admin/api/keys', '/admin/api/keys', admin],
      ['GET', `/admin/api/keys/${String(key.id)}`, '/admin/api/keys/:id', admin],
      ['GET', `/admin/api/keys/${String(key.id)}/ledger`, '/admin/api/keys/:id/ledger', admin],
      ['GET', `/admin/api/keys/${String(key.id)}/webhook-secret`, '/admin/api/keys/:id/webhook-secret', admin],
      ['PATCH', `/admin/api/keys/${String(key.id)}`, '/admin/api/keys/:id', admin, { rpm: 60 }],
      ['POST', `/admin/api/keys/${String(key.id)}/credits`, '/admin/api/keys/:id/credits', admin, { amount: 0 }],
      ['GET', '/admin/api/channels', '/admin/api/channels', admin],
      ['GET', `/admin/api/channels/${String(channel.id)}`, '/admin/api/channels/:id', admin],
      ['POST', `/admin/api/channels/${String(channel.id)}/test`, '/admin/api/channels/:id/test', admin],
      ['GET', '/admin/api/tasks', '/admin/api/tasks', admin],
      ['GET', `/admin/api/tasks/${taskId}`, '/admin/api/tasks/:id', admin],
      ['GET', '/admin/api/usage', '/admin/api/usage', admin],
      ['GET', '/admin/api/usage?limit=nope', '/admin/api/usage', admin],
      ['GET', '/admin/api/usage/report?group_by=day,key', '/admin/api/usage/report', admin],
      ['GET', '/admin/api/usage/report?group_by=week', '/admin/api/usage/report', admin],
      ['POST', `/admin/api/tasks/${taskId}/webhooks/resend`, '/admin/api/tasks/:id/webhooks/resend', admin],
      ['GET', '/admin/api/webhook-secret', '/admin/api/webhook-secret', admin],
      ['GET', '/admin/api/keys', '/admin/api/keys', client],
      ['GET', '/livez', '/livez', {}],
      ['GET', '/readyz', '/readyz', {}],
      ['GET', '/readyz', '/readyz', admin],
      ['GET', '/healthz', '/healthz', {}],
    ];
    const mismatches: string[] = [];
    for (const [method, path, url, headers, body] of calls) {
      const route = routes.find((r) => r.method === method && r.url === url);
      expect(route, `${method} ${url}`).toBeDefined();
      const res = await fetch(`${gw.origin}${path}`, {
        method,
        headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const answer = (await res.json()) as unknown;
      const responses = (route?.schema?.response ?? {}) as Json;
      const schema = jsonSchemaOf(responses[String(res.status)] ?? responses[`${String(res.status)[0]}xx`]);
      if (!schema) {
        mismatches.push(`${method} ${path}: ${res.status} is not declared`);
        continue;
      }
      const validate = ajv({ schema, httpPart: 'response' });
      if (!validate(answer)) mismatches.push(`${method} ${path} ${res.status}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(answer).slice(0, 300)}`);
    }
    expect(mismatches).toEqual([]);
  });
});
