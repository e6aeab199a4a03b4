/**
 * The API described (src/http/api-docs.ts): GET /openapi.json from the real server (port 0) is a
 * valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator, the specification's own JSON
 * schemas; every Schema Object a JSON Schema 2020-12, the 3.1 dialect, by ajv's meta-schema)
 * that lists every registered route with its methods, tag and security, described-only parts
 * whole; GET /docs is an HTML page whose scripts and styles the gateway serves itself, under a
 * Content-Security-Policy that allows this origin only.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../src/http/access.js';
import { DOCS_CSP } from '../src/http/api-docs.js';
import { DESCRIBED_ONLY } from '../src/http/schemas/common.js';
import { ImageEditStreamEvent, ImageGenerationStreamEvent, ImagesResponse } from '../src/http/schemas/openai.js';
import { TEST_ADMIN_KEY } from './helpers/admin.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { makePng } from './helpers/inputs.js';
import { rawRequest } from './helpers/raw-http.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Operation {
  tags?: string[];
  security?: Json[];
  parameters?: { name: string; in: string; schema?: Json }[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Json;
}

interface Document {
  [field: string]: unknown;
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  tags?: { name: string }[];
  components?: { securitySchemes?: Record<string, Json> };
  paths: Record<string, Record<string, Operation>>;
}

let gw: TestGateway;
let routes: readonly RouteEntry[];
let doc: Document;
beforeAll(async () => {
  gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY });
  routes = gw.app.routes();
  const res = await fetch(`${gw.origin}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as Document;
});
afterAll(async () => gw?.close());

/** `/v1/models/:model` as OpenAPI writes it; a prefix's root is documented without its slash. */
const openApiPath = (url: string) => (url.length > 1 && url.endsWith('/') ? url.slice(0, -1) : url).replace(/:(\w+)/g, '{$1}');
const hidden = (route: RouteEntry) => isObject(route.schema) && (route.schema as Json).hide === true;

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
  });

  it('every Schema Object in it is a valid JSON Schema 2020-12 (the 3.1 dialect)', () => {
    const ajv = new Ajv2020({ strict: false });
    const problems: string[] = [];
    const check = (schema: unknown, where: string) => {
      if (!isObject(schema)) return;
      if (!ajv.validateSchema(schema)) problems.push(`${where}: ${ajv.errorsText(ajv.errors)}`);
    };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const at = `${method.toUpperCase()} ${path}`;
        for (const p of op.parameters ?? []) check(p.schema, `${at} ${p.in} ${p.name}`);
        for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) check(media.schema, `${at} body ${type}`);
        for (const [status, response] of Object.entries(op.responses)) {
          const content = isObject(response) && isObject(response.content) ? response.content : {};
          for (const [type, media] of Object.entries(content)) check(isObject(media) ? media.schema : undefined, `${at} ${status} ${type}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('comes whole to a client that sent a body with its GET (the connection closes after the body, not before)', async () => {
    const body = JSON.stringify({ x: 'x'.repeat(300_000) });
    for (let i = 0; i < 3; i++) {
      const res = await rawRequest(gw.origin, {
        method: 'GET',
        path: '/openapi.json',
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
        body,
      });
      expect(res.status).toBe(200);
      expect(res.headers.connection).toBe('close');
      expect(res.json).toEqual(doc);
    }
  });

  it('says what it is: title, version from package.json, a relative server, bearer schemes, a tag per route group', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { name: string; version: string };
    expect(doc.info).toMatchObject({ title: pkg.name, version: pkg.version });
    expect(doc.info.description).toBeTruthy();
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(doc.components?.securitySchemes).toMatchObject({ clientKey: { type: 'http', scheme: 'bearer' }, adminKey: { type: 'http', scheme: 'bearer' } });
    expect(doc.tags?.map((t) => t.name)).toEqual(['OpenAI', 'new-api tasks', 'Task API', 'Admin', 'Files', 'Public']);
  });

  it('lists every registered route with its methods (and nothing else), its tag and its security', () => {
    const expected = new Set<string>();
    const problems: string[] = [];
    const securityOf: Record<RouteEntry['access'], Json[]> = {
      client: [{ clientKey: [] }],
      'task-owner': [{ clientKey: [] }],
      admin: [{ adminKey: [] }],
      'signed-link': [],
      public: [],
    };
    for (const route of routes) {
      const name = `${route.method} ${route.url}`;
      // Fastify's automatic HEAD of a GET route: the GET is what is described.
      if (route.method === 'HEAD' && routes.some((r) => r.method === 'GET' && openApiPath(r.url) === openApiPath(route.url))) continue;
      if (hidden(route)) {
        // Only the docs page's and the console's own files (scripts, styles, the document's copy, the app's routes) are left out.
        if (!route.url.startsWith('/docs/') && !route.url.startsWith('/console/')) problems.push(`${name}: hidden from the document`);
        continue;
      }
      const path = openApiPath(route.url);
      const method = route.method.toLowerCase();
      expected.add(`${method} ${path}`);
      const op = doc.paths[path]?.[method];
      if (!op) {
        problems.push(`${name}: not in the document`);
        continue;
      }
      if (op.tags?.length !== 1) problems.push(`${name}: tags ${JSON.stringify(op.tags)}`);
      if (JSON.stringify(op.security) !== JSON.stringify(securityOf[route.access]))
        problems.push(`${name}: security ${JSON.stringify(op.security)} for a ${route.access} route`);
      for (const status of ['400', '4XX', '5XX']) if (!op.responses[status]) problems.push(`${name}: no ${status} answer`);
    }
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    for (const op of documented) if (!expected.has(op)) problems.push(`${op}: documented but not a route`);
    expect(problems).toEqual([]);
    expect(documented.length).toBeGreaterThanOrEqual(35);
    expect(doc.paths['/openapi.json']?.get).toBeDefined();
    expect(doc.paths['/docs']?.get).toBeDefined();
  });

  it('shows the parts the hand validation judges (describedOnly) whole, not as the `{}` ajv checks', () => {
    const missing: string[] = [];
    for (const route of routes) {
      if (hidden(route) || route.method === 'HEAD' || !isObject(route.schema)) continue;
      const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      const schema = route.schema as Json;
      // Body fields of the JSON body: each described-only one is in the document with its type.
      const body = schema.body;
      const json = isObject(body) && isObject(body.content) ? (body.content['application/json'] as Json | undefined)?.schema : body;
      const properties = isObject(json) && isObject(json.properties) ? json.properties : {};
      const documented = op?.requestBody?.content['application/json']?.schema.properties;
      for (const [field, part] of Object.entries(properties)) {
        if (!isObject(part) || (part as Record<symbol, unknown>)[DESCRIBED_ONLY] !== true) continue;
        const shown = isObject(documented) ? documented[field] : undefined;
        if (!isObject(shown) || !['type', 'anyOf', 'oneOf', 'enum', 'not'].some((k) => k in shown))
          missing.push(`${route.method} ${route.url} body ${field}: ${JSON.stringify(shown)}`);
      }
      // Headers and whole described-only bodies.
      const headers = isObject(schema.headers) && isObject(schema.headers.properties) ? schema.headers.properties : {};
      for (const [name, part] of Object.entries(headers)) {
        const param = op?.parameters?.find((p) => p.in === 'header' && p.name === name);
        if (!param?.schema?.type) missing.push(`${route.method} ${route.url} header ${name}`);
        void part;
      }
    }
    expect(missing).toEqual([]);
    // The forms the image routes read as they stream, described only, are there field by field.
    const edits = doc.paths['/v1/images/edits']?.post;
    const form = edits?.requestBody?.content['multipart/form-data']?.schema;
    expect(Object.keys((form?.properties ?? {}) as Json)).toEqual(expect.arrayContaining(['prompt', 'image', 'image[]', 'mask', 'input_fidelity']));
    expect(JSON.stringify(edits?.requestBody?.content['application/json']?.schema)).toContain('image_url');
  });

  it('describes the stream events and the SDK-facing answer', () => {
    const ok = doc.paths['/v1/images/generations']?.post?.responses['200'] as { content: Record<string, { schema: Json }> };
    const events = JSON.stringify(ok.content['text/event-stream']?.schema);
    for (const type of ['image_generation.partial_image', 'image_generation.completed', 'error']) expect(events).toContain(type);
    const edits = doc.paths['/v1/images/edits']?.post?.responses['200'] as { content: Record<string, { schema: Json }> };
    expect(JSON.stringify(edits.content['text/event-stream']?.schema)).toContain('image_edit.completed');
    expect(JSON.stringify(ok.content['application/json']?.schema)).toContain('output_tokens_details');
  });
});

describe('the OpenAI answers the document describes', () => {
  it("are the real answers, read by the official SDK: an ImagesResponse with usage, each stream's events", async () => {
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    const check = (schema: object, value: unknown, what: string) => {
      const validate = ajv.compile(schema);
      expect(validate(value), `${what}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value).slice(0, 400)}`).toBe(true);
    };
    const answer = await gw.client.images.generate({ model: 'gpt-image-2', prompt: 'a fox', size: '1024x1024', quality: 'low' });
    check(ImagesResponse, answer, 'generation');
    expect(answer.usage?.input_tokens_details).toBeDefined();

    const types: string[] = [];
    const stream = await gw.client.images.generate({
      model: 'gpt-image-2',
      prompt: 'a stream',
      size: '1024x1024',
      quality: 'low',
      stream: true,
      partial_images: 1,
    });
    for await (const event of stream) {
      check(ImageGenerationStreamEvent, { ...event, b64_json: event.b64_json.slice(0, 8) }, event.type);
      types.push(event.type);
    }
    const png = await makePng({ width: 64, height: 64 });
    const edit = await gw.client.images.edit({
      model: 'gpt-image-2',
      image: await toFile(png, 'in.png', { type: 'image/png' }),
      prompt: 'an edit',
      size: '1024x1024',
      quality: 'low',
      stream: true,
      partial_images: 1,
    });
    for await (const event of edit) {
      check(ImageEditStreamEvent, { ...event, b64_json: event.b64_json.slice(0, 8) }, event.type);
      types.push(event.type);
    }
    expect(new Set(types)).toEqual(
      new Set(['image_generation.partial_image', 'image_generation.completed', 'image_edit.partial_image', 'image_edit.completed']),
    );
  });
});

describe('GET /docs', () => {
  it('answers an HTML page under a CSP of this origin only, whose scripts and styles the gateway serves', async () => {
    const res = await fetch(`${gw.origin}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(DOCS_CSP);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"])
      expect(DOCS_CSP).toContain(directive);
    expect(DOCS_CSP).not.toMatch(/unsafe-|https?:|\*/);
    const html = await res.text();

    // No inline code (the CSP would refuse it) and nothing from another origin.
    expect(html).not.toMatch(/<style/i);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs = '', body = ''] of scripts) {
      expect(attrs).toMatch(/\bsrc=/);
      expect(body.trim()).toBe('');
    }
    const assets = [...html.matchAll(/\b(?:src|href)="([^"]+)"/gi)].map((m) => m[1] ?? '');
    expect(assets.filter((url) => /^(?:[a-z]+:)?\/\//i.test(url))).toEqual([]);
    expect(assets.some((url) => url.endsWith('.css'))).toBe(true);
    for (const url of assets) {
      const asset = await fetch(new URL(url, `${gw.origin}/docs`));
      expect(asset.status, url).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(0);
    }

    // The page's script loads the document from the gateway, and no validator badge from elsewhere.
    const init = await (await fetch(`${gw.origin}/docs/static/swagger-initializer.js`)).text();
    expect(init).toContain('validatorUrl: null');
    // (Its logo is an inline data: URI, drawn in place; comments left out.)
    expect(init.replace(/'data:[^']*'/g, '').replace(/^\s*\/\/.*$/gm, '')).not.toMatch(/https?:\/\//);
    const copy = await fetch(`${gw.origin}/docs/json`);
    expect(copy.status).toBe(200);
    expect(await copy.json()).toEqual(doc);
  });

  it('the stylesheet needs nothing but this origin and data: images', async () => {
    const css = await (await fetch(`${gw.origin}/docs/static/swagger-ui.css`)).text();
    const urls = [...css.matchAll(/url\(\s*["']?([^"')]+)/g)].map((m) => m[1] ?? '');
    expect(urls.filter((url) => !url.startsWith('data:'))).toEqual([]);
    expect(css).not.toMatch(/@import|@font-face/);
  });

  it("its files honour ranges; a range past a file's end is a 416 in the gateway envelope, naming the length", async () => {
    const part = await fetch(`${gw.origin}/docs/static/swagger-ui.css`, { headers: { range: 'bytes=0-9' } });
    expect([part.status, (await part.text()).length]).toEqual([206, 10]);
    const past = await fetch(`${gw.origin}/docs/static/swagger-ui.css`, { headers: { range: 'bytes=99999999-' } });
    expect([past.status, past.headers.get('content-range')]).toEqual([416, expect.stringMatching(/^bytes \*\/\d+$/)]);
    expect(await past.json()).toEqual({
      error: { message: expect.stringContaining('Range'), type: 'invalid_request_error', param: 'range', code: 'range_not_satisfiable' },
    });
  });

  it('the rest of the API keeps no CSP of the docs page', async () => {
    const res = await fetch(`${gw.origin}/livez`);
    expect(res.headers.get('content-security-policy')).toBeNull();
    const spec = await fetch(`${gw.origin}/openapi.json`);
    expect(spec.headers.get('content-security-policy')).toBeNull();
  });
});
