// Property-based fuzzing of the whole HTTP surface: every route from app.routes(), hostile
// bodies, headers, paths and query strings, with and without keys. Whatever arrives, the
// gateway answers below 500, its errors in the route's dialect envelope, and stays alive.
// A failure prints the request and fast-check's seed and path (see FUZZ_SEED below to replay).
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialectOfPath, type Dialect, type RouteEntry } from '../src/http/access.js';
import { TEST_ADMIN_KEY, adminJson } from './helpers/admin.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { makePng } from './helpers/inputs.js';
import { rawRequest, rawSocket, readUntilClose } from './helpers/raw-http.js';

// ---------------------------------------------------------------------------------------------
// JSON as text, so bodies can hold what JSON.stringify never writes: -0, 1e400, duplicate keys,
// own `__proto__` keys.

/** A literal written into the JSON text as is. */
class Raw {
  constructor(readonly text: string) {}
}
/** An object as its entries, in order, duplicates allowed. */
class Entries {
  constructor(readonly entries: readonly (readonly [string, J])[]) {}
}
type J = null | boolean | number | string | Raw | Entries | readonly J[];

function toJsonText(value: J): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Entries) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  return JSON.stringify(value) ?? 'null';
}

/** Plain data -> J (objects become Entries). */
function j(value: unknown): J {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (value instanceof Raw || value instanceof Entries) return value;
  if (Array.isArray(value)) return value.map(j);
  if (typeof value === 'object') return new Entries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, j(v)] as const));
  return null;
}

const nested = (depth: number, inner: J = 1): J => {
  let text = toJsonText(inner);
  for (let i = 0; i < depth; i++) text = i % 2 === 0 ? `[${text}]` : `{"a":${text}}`;
  return new Raw(text);
};

const RAW_NUMBERS = [
  '-0',
  '1e400',
  '-1e400',
  '1E2',
  '1.0',
  '0.0000000000000000000000000001',
  '123456789012345678901234567890',
  `1${'0'.repeat(400)}`,
  '-9007199254740993',
  '5e-324',
];

const leafArb: fc.Arbitrary<J> = fc.oneof(
  fc.constantFrom<J>(
    null,
    true,
    false,
    0,
    1,
    -1,
    2,
    16,
    17,
    0.5,
    1.5,
    -0.000001,
    Number.MAX_SAFE_INTEGER,
    1e21,
    8.64e15,
    8.64e15 + 1,
    1e300,
    -1e300,
    '',
    ' ',
    '\u0000',
    'null',
    'true',
    '1',
    'auto',
    '__proto__',
    'constructor',
    'toString',
  ),
  fc.constantFrom(...RAW_NUMBERS).map((t) => new Raw(t)),
  fc.double().map((d) => d as J),
  fc.integer().map((n) => n as J),
  fc.string({ maxLength: 30 }).map((s) => s as J),
  // Lone surrogates and every other code unit; JSON.stringify writes them as \u escapes.
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s as J),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => s as J),
);

const keyArb = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '', 'a', 'image_url', 'file_id', 'x-api-key'),
  fc.string({ maxLength: 12 }),
);

const { json: jsonArb } = fc.letrec<{ json: J }>((tie) => ({
  json: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    leafArb,
    fc.array(tie('json'), { maxLength: 4 }),
    fc.array(fc.tuple(keyArb, tie('json')), { maxLength: 4 }).map((entries) => new Entries(entries)),
  ),
}));

/** Any value at all for one field: arbitrary JSON, fast-check's own, deep nesting, big strings. */
const anyValueArb: fc.Arbitrary<J> = fc.oneof(
  { weight: 4, arbitrary: jsonArb },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(j) },
  { weight: 1, arbitrary: fc.constantFrom(30, 31, 32, 33, 200).map((d) => nested(d)) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 40_000, 300_000).map((n) => 'x'.repeat(n)) },
);

// ---------------------------------------------------------------------------------------------
// Request building blocks.

/** Values the Node client accepts in a header (it refuses controls other than tab). */
const headerCharArb = fc
  .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09))
  .map((c) => String.fromCharCode(c));
const headerTextArb = fc.string({ unit: headerCharArb, maxLength: 60 });

type HeaderValue = string | string[];

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, HeaderValue>;
  body?: Buffer;
  /** The route the request was made for (its path may be spelled so that it no longer matches). */
  route: RouteEntry;
  /** The path was spelled oddly: the envelope is the one the path suggests, not the route's. */
  oddPath: boolean;
  /** Needs a stored channel named CHANNEL_TARGET while it runs. */
  needsChannel: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const CHANNEL_TARGET = 'fuzz-target';
const MAX_ANSWER_MS = 30_000;

/** Sends exactly this (headers may repeat); never normalizes the path. */
function send(origin: string, req: FuzzRequest): Promise<Answer> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: hostname, port, method: req.method, path: req.path, headers: req.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.setTimeout(MAX_ANSWER_MS, () => outgoing.destroy(new Error(`no answer within ${MAX_ANSWER_MS} ms`)));
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with an error body in this dialect; null when it is the envelope. */
function envelopeProblem(dialect: Dialect, status: number, text: string): string | null {
  const body = parsed(text);
  if (dialect === 'task-api') {
    if (isRecord(body) && body.code === status && typeof body.msg === 'string' && body.data === null) return null;
    return `not the task API envelope {code:${status},msg,data:null}`;
  }
  const error = isRecord(body) ? body.error : undefined;
  if (
    isRecord(error) &&
    typeof error.message === 'string' &&
    typeof error.type === 'string' &&
    (error.param === null || typeof error.param === 'string') &&
    (error.code === null || typeof error.code === 'string')
  ) {
    return null;
  }
  return 'not the OpenAI envelope {error:{message,type,param,code}}';
}

/** The path's segments as the router reads them (each decoded on its own: %2F stays in its segment); the last as `*`. */
function routedSegments(target: string): string[] {
  const segments = (target.split(/[?#]/, 1)[0] ?? '').split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return segments.length > 1 ? [...segments.slice(0, -1), '*'] : segments;
}

/** Why this answer breaks the contract; null when it keeps it. */
function answerProblem(req: FuzzRequest, res: Answer): string | null {
  if (res.status >= 500) return `status ${res.status}`;
  if (req.method === 'HEAD') return res.text === '' ? null : 'HEAD answered with a body';
  const type = String(res.headers['content-type'] ?? '');
  if (res.status < 400) {
    if (type.startsWith('application/json') && parsed(res.text) === undefined) return 'a 2xx JSON answer that does not parse';
    return null;
  }
  // new-api's own answer for a task it does not know: its clients parse this shape.
  if (res.status === 404 && req.method === 'GET' && routedSegments(req.path).join('/') === '/v1/images/tasks/*') {
    const body = parsed(res.text);
    if (isRecord(body) && body.code === 'task_not_exist' && body.data === null) return null;
  }
  const dialect = req.oddPath ? dialectOfPath(req.path) : req.route.dialect;
  return envelopeProblem(dialect, res.status, res.text);
}

// ---------------------------------------------------------------------------------------------
// The gateway's own things, for requests that get past the first checks.

interface Fixtures {
  routes: readonly RouteEntry[];
  clientKey: string;
  /** A key the fuzzer may revoke, limit and credit: never the one it sends. */
  victimKeyId: string;
  taskIds: string[];
  imageName: string;
  imageQuery: { expires: string; sig: string };
  pngDataUrl: string;
}

const hexByte = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
/** Every byte percent-encoded (lone surrogates become U+FFFD, as a client's encoder would make them). */
const encodeAll = (s: string) => [...Buffer.from(s, 'utf8')].map(hexByte).join('');
/** Characters the Node client puts in a request target unescaped. */
const pathCharArb = fc
  .integer({ min: 0x21, max: 0x7e })
  .filter((c) => c !== 0x2f && c !== 0x3f && c !== 0x23)
  .map((c) => String.fromCharCode(c));

function segmentArb(fx: Fixtures, param: string): fc.Arbitrary<string> {
  const real: string[] =
    param === 'model'
      ? ['gpt-image-1', 'dall-e-2', 'gpt-image-2', 'GPT-IMAGE-1', ' gpt-image-1']
      : param === 'name'
        ? [fx.imageName, 'x.png', `${fx.imageName}.png`]
        : [fx.victimKeyId, CHANNEL_TARGET, 'demo', ...fx.taskIds];
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...real.map(encodeURIComponent)) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '..',
        '.',
        '%2e%2e',
        '%2E',
        '%00',
        'a%00b',
        '%2F',
        'a%2Fb',
        '%5C',
        '%',
        '%zz',
        '%E0%A4%A',
        '%ED%A0%80',
        '%C0%AE',
        '%F0%9F%98%80',
        '%20',
        '+',
        'a;b=c',
        '~',
        '*',
        '@',
        ':',
        'null',
        'undefined',
        '__proto__',
        'constructor',
        'prototype',
        'toString',
        '0',
        '-1',
        '1e400',
        'NaN',
        `${fx.taskIds[0] ?? 'x'}%25`,
        `${fx.victimKeyId.slice(0, 4)}%25`,
        '%25',
        '_',
        'a%5Fb',
      ),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(encodeAll) },
    { weight: 1, arbitrary: fc.string({ unit: pathCharArb, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.integer({ min: 90, max: 5_000 }).map((n) => 'a'.repeat(n)) },
  );
}

const PATH_SPELLINGS: readonly ((p: string) => string)[] = [
  (p) => `${p}/`,
  (p) => p.replace(/\//g, '//'),
  (p) => p.toUpperCase(),
  (p) => `${p};x`,
  (p) => `/x/..${p}`,
  (p) => `/.${p}`,
  (p) => `/%2e${p}`,
  (p) => p.replace(/\/([^/]+)$/, '/./$1'),
  (p) => p.replace(/[a-z]/, (c) => hexByte(c.charCodeAt(0))),
  (p) => `${p}%00`,
  (p) => `${p}%20`,
  (p) => `${p}#frag`,
  (p) => `${p}%3Fa=1`,
  (p) => p.replace(/\/$/, '').replace(/[^/]+$/, '..'),
];

const QUERY_KEYS = [
  'task_id',
  'state',
  'key',
  'model',
  'from',
  'to',
  'limit',
  'start_date',
  'end_date',
  'expires',
  'sig',
  'task_id[]',
  'key[]',
  'a[b]',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  '',
];

function queryValueArb(fx: Fixtures): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '',
      'a',
      'queued',
      'running',
      'succeeded',
      'failed',
      'gpt-image-1',
      fx.victimKeyId,
      fx.victimKeyId.slice(0, 4),
      ...fx.taskIds,
      fx.imageQuery.expires,
      fx.imageQuery.sig,
      '2024-01-01',
      '1700000000000',
      '99999999999999999999',
      '1e400',
      '-0',
      'NaN',
      '-1',
      '0',
      '1001',
      '8640000000000001',
      '%',
      '%zz',
      '%E0%A4%A',
      '%00',
      '+',
      '%2B',
      '[]',
      '{}',
    ),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
    fc.string({ unit: 'binary', maxLength: 20 }).map(encodeAll),
    fc.integer({ min: 1_000, max: 6_000 }).map((n) => 'v'.repeat(n)),
  );
}

function queryArb(fx: Fixtures): fc.Arbitrary<string> {
  const pair = fc.tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) }, { weight: 1, arbitrary: fc.string({ unit: pathCharArb, maxLength: 10 }) }),
    queryValueArb(fx),
    fc.boolean(),
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    {
      weight: 6,
      arbitrary: fc
        .array(pair, { minLength: 1, maxLength: 6 })
        .map((pairs) => `?${pairs.map(([k, v, bare]) => (bare && v === '' ? k : `${k}=${v}`)).join('&')}`),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '?',
        '?&&&',
        '?=',
        '?==',
        '?%zz=%zz',
        '?a[b]=c',
        '?a[]=1&a[]=2',
        '?task_id=a&task_id=b',
        `?task_id=${fx.taskIds[0] ?? 'a'}&task_id=${fx.taskIds[0] ?? 'a'}`,
        '?key=a&key=b',
        '?model=a&model=b',
        '?state=queued&state=failed',
        '?from=1&from=2',
        '?start_date=2024-01-01&start_date=2024-01-02',
        '?limit=1&limit=2',
        `?expires=${fx.imageQuery.expires}&expires=${fx.imageQuery.expires}&sig=${fx.imageQuery.sig}`,
        `?expires=${fx.imageQuery.expires}&sig=${fx.imageQuery.sig}&sig=x`,
        `?expires=${fx.imageQuery.expires}&sig=${fx.imageQuery.sig}`,
        `?expires=99999999999&sig=${fx.imageQuery.sig}`,
        '?__proto__[x]=1',
        '?constructor[prototype][x]=1',
      ),
    },
  );
}

function pathArb(fx: Fixtures, route: RouteEntry): fc.Arbitrary<{ path: string; oddPath: boolean; needsChannel: boolean }> {
  const params = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] ?? '');
  const segments = params.length === 0 ? fc.constant<string[]>([]) : fc.tuple(...params.map((p) => segmentArb(fx, p)));
  const spelling = fc.oneof({ weight: 6, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: PATH_SPELLINGS.length - 1 }) });
  return fc.tuple(segments, spelling, queryArb(fx)).map(([values, spell, query]) => {
    let i = 0;
    const filled = route.url.replace(/:\w+/g, () => values[i++] ?? '');
    const path = spell < 0 ? filled : (PATH_SPELLINGS[spell] ?? ((p: string) => p))(filled);
    // A segment of its own making may reach another route or none: then the path picks the envelope.
    const plainSegments = values.every((v) => /^[\w.~-]*$/.test(v) && v !== '.' && v !== '..' && v.length <= 100);
    return {
      path: `${path}${query}`,
      oddPath: spell >= 0 || !plainSegments,
      needsChannel: route.url.startsWith('/admin/api/channels/:id') && values[0] === CHANNEL_TARGET,
    };
  });
}

/** `goodWeight`: how much more often than each other form the right key is sent. */
function authArb(fx: Fixtures, route: RouteEntry, goodWeight: number): fc.Arbitrary<HeaderValue | undefined> {
  const good = route.access === 'admin' ? TEST_ADMIN_KEY : fx.clientKey;
  const other = route.access === 'admin' ? fx.clientKey : TEST_ADMIN_KEY;
  return fc.oneof(
    { weight: goodWeight, arbitrary: fc.constant(`Bearer ${good}`) },
    {
      weight: 4,
      arbitrary: fc.constantFrom<HeaderValue | undefined>(
        undefined,
        `Bearer ${other}`,
        `bearer\t${good}  `,
        `BEARER ${good}`,
        `Bearer  ${good}`,
        `Bearer ${good} ${good}`,
        `Bearer ${good}\u00ff`,
        `Bearer ${good.slice(0, -1)}`,
        good,
        'Bearer',
        'Bearer ',
        '',
        `Basic ${Buffer.from(`user:${good}`).toString('base64')}`,
        [`Bearer ${good}`, 'Bearer nope'],
        ['Bearer nope', `Bearer ${good}`],
        `Bearer ${'k'.repeat(9_000)}`,
        `Bearer ${good.slice(0, 9)}`,
        `Bearer ${fx.victimKeyId}`,
      ),
    },
    { weight: 2, arbitrary: headerTextArb.map((s) => `Bearer ${s}`) },
    { weight: 1, arbitrary: headerTextArb },
  );
}

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary=zzz',
  'application/octet-stream',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/JSON',
  'APPLICATION/JSON',
  'application/json;;',
  'application/json ; x=y',
  'application/jsonx',
  'application/vnd.api+json',
  'application/problem+json',
  'text/json',
  'image/png',
  '*/*',
  ';',
  'json',
  'application/json, text/plain',
];

interface HeaderChoice {
  contentType: 'default' | 'none' | string;
  chunked: boolean;
  extra: Record<string, HeaderValue>;
}

const EXTRA_HEADERS: Readonly<Record<string, fc.Arbitrary<HeaderValue>>> = {
  'idempotency-key': fc.oneof(fc.constantFrom<HeaderValue>('', ' ', 'k1', 'k2', 'k'.repeat(300), ['a', 'b']), headerTextArb),
  'x-new-api-async-task': fc.constantFrom<HeaderValue>('true', '1', 'TRUE ', 'false', 'yes', ['true', 'false'], ''),
  'x-request-id': fc.oneof(fc.constantFrom<HeaderValue>('req-1', 'x'.repeat(200), ['a', 'b'], '../../etc'), headerTextArb),
  'x-forwarded-for': fc.oneof(
    fc.constantFrom<HeaderValue>('203.0.113.7', '::1, 10.0.0.1', 'unknown', 'x'.repeat(1_000), ['1.1.1.1', '2.2.2.2']),
    headerTextArb,
  ),
  accept: fc.constantFrom<HeaderValue>('text/event-stream', 'application/xml', '*/*', ''),
  'accept-encoding': fc.constantFrom<HeaderValue>('gzip', 'br', 'identity;q=0', 'x'),
  expect: fc.constantFrom<HeaderValue>('100-continue', 'nonsense', '100-continue, x'),
  range: fc.constantFrom<HeaderValue>('bytes=0-10', 'bytes=-1', 'bytes=99999999-', 'x'),
  cookie: headerTextArb,
  'content-encoding': fc.constantFrom<HeaderValue>('gzip', 'br', 'x'),
  'if-none-match': fc.constantFrom<HeaderValue>('*', '"x"'),
  origin: fc.constantFrom<HeaderValue>('null', 'http://evil.example'),
  connection: fc.constantFrom<HeaderValue>('close', 'keep-alive', 'upgrade'),
  upgrade: fc.constantFrom<HeaderValue>('websocket', 'h2c'),
};

/** A few extra headers, mostly none. */
const extraHeadersArb: fc.Arbitrary<Record<string, HeaderValue>> = fc
  .array(
    fc.constantFrom(...Object.keys(EXTRA_HEADERS)).chain((name) => (EXTRA_HEADERS[name] ?? fc.constant('')).map((value) => [name, value] as const)),
    { maxLength: 3 },
  )
  .map((pairs) => Object.fromEntries(pairs));

/** `plainWeight`: how much more often than each odd form the body's own Content-Type and no extra headers are sent. */
const headersArb = (plainWeight: number): fc.Arbitrary<HeaderChoice> =>
  fc.record({
    contentType: fc.oneof(
      { weight: plainWeight, arbitrary: fc.constant('default') },
      { weight: 1, arbitrary: fc.constant('none') },
      { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      { weight: 1, arbitrary: headerTextArb },
    ),
    extra: fc.oneof({ weight: plainWeight, arbitrary: fc.constant({}) }, { weight: 6, arbitrary: extraHeadersArb }),
    chunked: fc.oneof({ weight: 7, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  });

// ---------------------------------------------------------------------------------------------
// Bodies: a valid body for the route with one field changed, or anything else at all.

function validBodies(fx: Fixtures, route: RouteEntry): Record<string, unknown>[] {
  const png = fx.pngDataUrl;
  switch (`${route.method} ${route.url}`) {
    case 'POST /v1/images/generations':
      return [
        { model: 'gpt-image-1', prompt: 'a red fox', size: '1024x1024', quality: 'low', n: 1, response_format: 'b64_json' },
        { model: 'dall-e-2', prompt: 'a fox', size: '256x256', response_format: 'url', user: 'u' },
        {
          model: 'gpt-image-2',
          prompt: 'a fox',
          size: '1024x1024',
          quality: 'low',
          output_format: 'webp',
          output_compression: 50,
          background: 'opaque',
          moderation: 'low',
          stream: false,
          partial_images: 0,
          metadata: { a: 1 },
        },
        { model: 'gpt-image-1', prompt: 'like this', image: [png], quality: 'low', size: '1024x1024' },
      ];
    case 'POST /v1/images/edits':
      return [
        { model: 'gpt-image-1', prompt: 'make it blue', images: [{ image_url: png }], size: '1024x1024', quality: 'low', input_fidelity: 'low' },
        { model: 'dall-e-2', prompt: 'make it blue', image: png, mask: { image_url: png }, size: '256x256' },
      ];
    case 'POST /v1/images/variations':
      return [{ model: 'dall-e-2', image: png, n: 1, size: '256x256' }];
    case 'POST /api/v1/images/generations':
      return [
        { model: 'gpt-image-1', prompt: 'a fox', aspect_ratio: '1:1', quality: 'low', nsfw_checker: false, callback_url: null },
        { model: 'gpt-image-1', prompt: 'a fox', image_urls: [png], quality: 'low' },
        { model: 'dall-e-2', prompt: 'a fox', image_url: png, size: '256x256' },
      ];
    case 'POST /admin/api/keys':
      return [
        {
          name: 'fuzz',
          owner: 'o',
          credits: 5,
          expires_at: '2100-01-01',
          allowed_models: ['gpt-image-1'],
          allowed_ips: ['10.0.0.0/8'],
          rpm: 60,
          max_concurrent: 2,
          enabled: true,
        },
      ];
    case 'PATCH /admin/api/keys/:id':
      return [{ name: 'renamed', owner: null, expires_at: null, allowed_models: null, allowed_ips: null, rpm: 100, max_concurrent: null, enabled: true }];
    case 'POST /admin/api/keys/:id/credits':
      return [{ amount: 1.5, note: 'fuzz' }];
    case 'POST /admin/api/channels':
    case 'PATCH /admin/api/channels/:id':
      return [
        {
          name: 'fuzz-new',
          kind: 'demo',
          models: '*',
          model_map: { 'gpt-image-1': { upstream_model: 'gpt-image-1', params: {} } },
          priority: 0,
          weight: 1,
          max_concurrent: 0,
          timeout: 30,
          headers: { 'x-a': 'b' },
          enabled: true,
          cost_ratio: 1,
        },
      ];
    default:
      return [{}];
  }
}

function fieldValuePool(fx: Fixtures): Record<string, readonly unknown[]> {
  const png = fx.pngDataUrl;
  return {
    model: ['gpt-image-1', 'dall-e-2', 'dall-e-3', 'gpt-image-2', 'gpt-image-2-4k', 'GPT-IMAGE-1', ' gpt-image-1 ', 'nope', '__proto__'],
    prompt: ['', ' ', 'x'.repeat(33_000), '\u0000', '\ud800'],
    n: [0, 1, 2, 10, 11, -1, 1.5, 1e9, '1', '2'],
    size: [
      'auto',
      '256x256',
      '512x512',
      '1024x1024',
      '1024X1024',
      ' 1024x1024 ',
      '0x0',
      '1x1',
      '-1024x1024',
      '1e3x1e3',
      '99999x99999',
      '3840x2160',
      '1024x1024x1',
      'x',
      '1024*1024',
      '16x16',
    ],
    quality: ['low', 'medium', 'high', 'auto', 'hd', 'standard', 'LOW'],
    response_format: ['url', 'b64_json', 'base64', '__proto__', 'toString', 'constructor'],
    output_format: ['png', 'jpeg', 'webp', 'jpg', 'gif', 'PNG'],
    output_compression: [0, 100, 101, -1, 50.5],
    background: ['transparent', 'opaque', 'auto', 'none'],
    stream: [true, false, 'true', 1],
    partial_images: [0, 1, 3, 4, -1, 1.5],
    image: [
      png,
      [png],
      [png, png],
      'http://127.0.0.1/x.png',
      'data:image/png;base64,',
      'data:,',
      'data:image/png;base64,!!!',
      [{ image_url: png }],
      Array.from({ length: 17 }, () => png),
      'file:///etc/passwd',
      'http://[::1]/',
      'http://169.254.169.254/latest',
      'iVBORw0KGgo=',
      [],
    ],
    images: [
      [{ image_url: png }],
      [{ file_id: 'file-1' }],
      [{}],
      [null],
      { image_url: png },
      [],
      [{ image_url: png, file_id: 'f' }],
      [{ image_url: png, x: 1 }],
    ],
    mask: [{ image_url: png }, png, { file_id: 'x' }, {}, []],
    input_fidelity: ['high', 'low', 'x'],
    callback_url: [
      'http://127.0.0.1/cb',
      'https://10.0.0.1/',
      'http://user:pw@1.2.3.4/',
      'javascript:alert(1)',
      ' ',
      'http://[::1]:80/',
      'http://0x7f000001/',
      'x'.repeat(3_000),
      'http://a b/',
      'http://\u0000/',
    ],
    aspect_ratio: ['auto', '1:1', '16:9', '9:16', '0:1', '1:0', '-1:1', '1.5:1', 'a:b', '1:1:1', '100000:1', ''],
    image_url: [png, '', 'ftp://x', 1],
    image_urls: [[], [png], 'str', [1], Array.from({ length: 17 }, () => png), [null], [png, png]],
    nsfw_checker: [true, false, 'true', null],
    metadata: [{ a: 1 }, [1], 'x', null],
    name: ['', ' ', 'x'.repeat(101), 'ok', '\u0000', 'fuzz-other', '-bad', 'a'.repeat(65), CHANNEL_TARGET],
    owner: ['', 'x'.repeat(201), null],
    credits: [0, 1, -1, 1e-7, 1e300, 9007199254.740993, 0.30000000000000004],
    amount: [0, 1, -1, 1e-7, 1e300, -1e300, 9007199254.740993, '1'],
    note: ['', 'x'.repeat(1_000), 1],
    expires_at: ['2100-01-01', 8.64e15, 8.64e15 + 1, 1e300, -1e300, -8.64e15 - 1, '+275760-09-13T00:00:00.001Z', '0', 0, 'garbage', 1.5, '2024-02-30'],
    allowed_models: [['gpt-image-1'], [], [''], 'x', [1]],
    allowed_ips: [
      ['10.0.0.0/8'],
      ['::1'],
      ['1.2.3.4/33'],
      ['x'],
      [''],
      '10.0.0.1',
      ['10.0.0.0/-1'],
      ['::/0'],
      ['0.0.0.0/0'],
      ['fe80::1%eth0'],
      ['10.0.0.0/8.5'],
    ],
    rpm: [1, 0, 1_000_000, 1_000_001, 1.5, -1, '5'],
    max_concurrent: [1, 0, 1_000_000, 1_000_001, 1.5, -1, '5'],
    enabled: [true, false, 'false', 0],
    kind: ['demo', 'openai', 'azure', 'DEMO', ''],
    base_url: ['http://x', 'ftp://x', 'not a url', 'http://127.0.0.1:1/v1', ''],
    api_key: ['', ' ', 'sk-x', 1],
    api_keys: [[], [''], ['sk-x'], 'sk-x'],
    models: ['*', [], ['gpt-image-1'], [1], ''],
    model_map: [{ a: 'b' }, { a: { upstream_model: 1 } }, { a: { params: [] } }, { a: null }, [], 'x'],
    headers: [{ 'x-a': 'b' }, { 'bad name': 'v' }, { a: 1 }, [], 'x'],
    timeout: [0, 1, 86_400, 86_401, 1e-9],
    poll_interval: [0, 0.01, 3_600, 3_601],
    reference_images: ['inline', 'url', 'x'],
    cost_ratio: [0, 1_000, 1_001, -1],
    priority: [1.5, -1_000_001, 1_000_000],
    weight: [-1, 0, 1e7],
    api_version: ['', 1, '2024-01-01'],
  };
}

type Mutation = { op: 'set'; field: string; value: J } | { op: 'delete'; field: string } | { op: 'duplicate'; field: string; value: J };

function mutate(base: Record<string, unknown>, m: Mutation): J {
  const entries: (readonly [string, J])[] = Object.entries(base).map(([k, v]) => [k, j(v)] as const);
  if (m.op === 'delete') return new Entries(entries.filter(([k]) => k !== m.field));
  if (m.op === 'duplicate') return new Entries([...entries, [m.field, m.value]]);
  const at = entries.findIndex(([k]) => k === m.field);
  if (at >= 0) entries[at] = [m.field, m.value];
  else entries.push([m.field, m.value]);
  return new Entries(entries);
}

const IMAGE_FIELDS = [
  'model',
  'prompt',
  'n',
  'size',
  'quality',
  'response_format',
  'output_format',
  'output_compression',
  'background',
  'moderation',
  'style',
  'user',
  'stream',
  'partial_images',
  'watermark',
  'metadata',
  'image',
  'images',
  'mask',
  'input_fidelity',
  'callback_url',
];
const KEY_FIELDS = ['name', 'owner', 'credits', 'expires_at', 'allowed_models', 'allowed_ips', 'rpm', 'max_concurrent', 'enabled'];
const CHANNEL_FIELDS = [
  'name',
  'kind',
  'base_url',
  'api_key',
  'api_keys',
  'models',
  'model_map',
  'priority',
  'weight',
  'max_concurrent',
  'timeout',
  'headers',
  'enabled',
  'api_version',
  'poll_interval',
  'reference_images',
  'cost_ratio',
];

/** The fields the route reads: most mutations go there. */
function routeFields(route: RouteEntry): string[] {
  if (route.url === '/api/v1/images/generations') return [...IMAGE_FIELDS, 'aspect_ratio', 'image_url', 'image_urls', 'nsfw_checker'];
  if (route.url.startsWith('/v1/images/')) return IMAGE_FIELDS;
  if (route.url.endsWith('/credits')) return ['amount', 'note'];
  if (route.url === '/admin/api/keys' || route.url === '/admin/api/keys/:id') return KEY_FIELDS;
  if (route.url === '/admin/api/channels' || route.url === '/admin/api/channels/:id') return CHANNEL_FIELDS;
  return [];
}

function mutatedBodyArb(fx: Fixtures, route: RouteEntry): fc.Arbitrary<J> {
  const pool = fieldValuePool(fx);
  const bases = validBodies(fx, route);
  const own = [...new Set([...bases.flatMap((b) => Object.keys(b)), ...routeFields(route)])];
  const anyField = [...new Set([...own, ...Object.keys(pool), 'extra', '__proto__', 'constructor'])];
  const fieldArb =
    own.length > 0
      ? fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: fc.constantFrom(...anyField) })
      : fc.constantFrom(...anyField);
  const valueFor = (field: string): fc.Arbitrary<J> => {
    const typed = Object.hasOwn(pool, field) ? pool[field] : undefined;
    return typed ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...typed).map(j) }, { weight: 2, arbitrary: anyValueArb }) : anyValueArb;
  };
  const mutation: fc.Arbitrary<Mutation> = fieldArb.chain((field) =>
    fc.oneof(
      { weight: 8, arbitrary: valueFor(field).map((value): Mutation => ({ op: 'set', field, value })) },
      { weight: 1, arbitrary: fc.constant<Mutation>({ op: 'delete', field }) },
      { weight: 1, arbitrary: valueFor(field).map((value): Mutation => ({ op: 'duplicate', field, value })) },
    ),
  );
  return fc.tuple(fc.constantFrom(...bases), fc.array(mutation, { minLength: 0, maxLength: 2 })).map(([base, ms]) => {
    let body: J = j(base);
    for (const m of ms) body = mutate(entriesToRecord(body), m);
    return body;
  });
}

/** Back to a record for the next mutation (the last duplicate wins, as in JSON.parse). */
function entriesToRecord(body: J): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (body instanceof Entries)
    for (const [k, v] of body.entries) Object.defineProperty(out, k, { value: v, enumerable: true, configurable: true, writable: true });
  return out;
}

const RAW_BODIES = [
  '',
  ' ',
  'null',
  'true',
  '0',
  '-0',
  '1e400',
  '"str"',
  '[]',
  '{}',
  '[{}]',
  '{"model":',
  '{"a":1}}',
  '\ufeff{"model":"gpt-image-1","prompt":"x"}',
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"prompt":"\\ud800"}',
  '{"prompt":"\\u0000"}',
  '{"model":"gpt-image-1","model":1}',
  "{'a':1}",
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":1,}',
  '/*c*/{}',
  '{"a":"\\x41"}',
  `{"n":${'9'.repeat(400)}}`,
];

function bodyArb(fx: Fixtures, route: RouteEntry): fc.Arbitrary<{ body?: Buffer; form?: string }> {
  const text = (s: string) => ({ body: Buffer.from(s, 'utf8') });
  const valid = fc.constantFrom(...validBodies(fx, route));
  const takesUploads = route.method === 'POST' && route.url.startsWith('/v1/images/');
  return fc.oneof(
    { weight: 12, arbitrary: mutatedBodyArb(fx, route).map((b) => text(toJsonText(b))) },
    { weight: 3, arbitrary: anyValueArb.map((b) => text(toJsonText(b))) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => text(JSON.stringify(v) ?? 'null')) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_BODIES).map(text) },
    {
      weight: 2,
      arbitrary: fc.tuple(valid, fc.nat()).map(([b, cut]) => {
        const s = JSON.stringify(b);
        return text(s.slice(0, cut % s.length));
      }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ body: Buffer.from(bytes) })) },
    { weight: 1, arbitrary: fc.constantFrom(33, 100, 5_000, 300_000).map((d) => text(toJsonText(nested(d)))) },
    { weight: 1, arbitrary: fc.constant(text(JSON.stringify({ model: 'gpt-image-1', prompt: 'x'.repeat(1_100_000) }))) },
    { weight: 1, arbitrary: fc.constant({}) },
    { weight: takesUploads ? 4 : 1, arbitrary: multipartArb(fx, route) },
  );
}

/** A multipart form built from a valid body, with an upload, its framing sometimes broken. */
function multipartArb(fx: Fixtures, route: RouteEntry): fc.Arbitrary<{ body: Buffer; form: string }> {
  const pngBytes = Buffer.from(fx.pngDataUrl.slice(fx.pngDataUrl.indexOf(',') + 1), 'base64');
  const fileArb = fc.record({
    name: fc.constantFrom('image', 'image[]', 'image[0]', 'mask', 'images', 'prompt', ''),
    filename: fc.constantFrom('a.png', '', '../../etc/passwd', 'é.png', 'a"b.png', 'x'.repeat(300)),
    type: fc.constantFrom('image/png', 'application/octet-stream', 'text/plain', ''),
    data: fc.oneof(
      fc.constant(pngBytes),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.constant(Buffer.alloc(0)),
    ),
  });
  const fieldArb = fc.tuple(
    fc.oneof(fc.constantFrom('model', 'prompt', 'n', 'size', 'quality', 'response_format', 'stream', 'image', 'mask', 'user'), keyArb),
    fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 })),
  );
  return fc
    .record({
      base: fc.constantFrom(...validBodies(fx, route)),
      fields: fc.oneof(fc.constant([]), fc.array(fieldArb, { minLength: 1, maxLength: 3 })),
      // Usually the upload the route wants, so the form gets past its first check.
      upload: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      files: fc.oneof(fc.constant([]), fc.array(fileArb, { minLength: 1, maxLength: 2 })),
      framing: fc.oneof(
        { weight: 5, arbitrary: fc.constant('ok') },
        { weight: 1, arbitrary: fc.constantFrom('no-closing', 'wrong-boundary', 'no-boundary', 'lf-only', 'garbage-preamble') },
      ),
    })
    .map(({ base, fields, upload, files: extra, framing }) => {
      const files = upload ? [{ name: 'image', filename: 'a.png', type: 'image/png', data: pngBytes }, ...extra] : extra;
      const boundary = 'fuzzBoundary7MA4YWxkTrZu0gW';
      const chunks: Buffer[] = [];
      const eol = framing === 'lf-only' ? '\n' : '\r\n';
      if (framing === 'garbage-preamble') chunks.push(Buffer.from('garbage\r\n'));
      const textFields: [string, string][] = [
        ...Object.entries(base)
          .filter(([k]) => k !== 'image' && k !== 'images' && k !== 'mask')
          .map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
        ...fields,
      ];
      for (const [name, value] of textFields)
        chunks.push(Buffer.from(`--${boundary}${eol}Content-Disposition: form-data; name="${name}"${eol}${eol}${value}${eol}`));
      for (const f of files) {
        chunks.push(
          Buffer.from(
            `--${boundary}${eol}Content-Disposition: form-data; name="${f.name}"; filename="${f.filename}"${eol}${f.type ? `Content-Type: ${f.type}${eol}` : ''}${eol}`,
          ),
          f.data,
          Buffer.from(eol),
        );
      }
      if (framing !== 'no-closing') chunks.push(Buffer.from(`--${boundary}--${eol}`));
      const form =
        framing === 'wrong-boundary'
          ? 'multipart/form-data; boundary=other'
          : framing === 'no-boundary'
            ? 'multipart/form-data'
            : `multipart/form-data; boundary=${boundary}`;
      return { body: Buffer.concat(chunks), form };
    });
}

// ---------------------------------------------------------------------------------------------

function requestArb(fx: Fixtures, routes: readonly RouteEntry[], focus: 'body' | 'path' | 'any'): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routes).chain((route) => {
    const takesBody = route.method === 'POST' || route.method === 'PATCH' || route.method === 'DELETE';
    const plainPath = fc.constant({
      path: route.url.replace(/:\w+/g, (p) =>
        p === ':model'
          ? 'gpt-image-1'
          : p === ':name'
            ? fx.imageName
            : p === ':id'
              ? route.url.startsWith('/admin/api/channels')
                ? CHANNEL_TARGET
                : route.url.startsWith('/admin/api/keys')
                  ? fx.victimKeyId
                  : (fx.taskIds[0] ?? 'x')
              : 'x',
      ),
      oddPath: false,
      needsChannel: route.url.startsWith('/admin/api/channels/:id'),
    });
    const path = focus === 'body' ? plainPath : pathArb(fx, route);
    const body: fc.Arbitrary<{ body?: Buffer; form?: string }> = takesBody || focus === 'any' ? bodyArb(fx, route) : fc.constant({});
    // Bodies get deepest with the right key and Content-Type; the other forms are the any-focus's.
    const headers = focus === 'path' ? fc.constant<HeaderChoice>({ contentType: 'default', extra: {}, chunked: false }) : headersArb(focus === 'body' ? 40 : 5);
    return fc.record({ p: path, auth: authArb(fx, route, focus === 'body' ? 60 : 10), b: body, h: headers }).map(({ p, auth, b, h }): FuzzRequest => {
      const headerMap: Record<string, HeaderValue> = { ...h.extra };
      if (auth !== undefined) headerMap.authorization = auth;
      const form = b.form;
      if (b.body !== undefined) {
        // The Node client frames a GET, HEAD or DELETE body only when told how; chunked sometimes.
        if (h.chunked) headerMap['transfer-encoding'] = 'chunked';
        else headerMap['content-length'] = String(b.body.length);
        const type = h.contentType === 'default' ? (form ?? 'application/json') : h.contentType === 'none' ? undefined : h.contentType;
        if (type !== undefined) headerMap['content-type'] = type;
      }
      // A file link's own query is what a client holds; the fuzzed one replaces it only sometimes.
      let target = p.path;
      if (route.url === '/files/:name' && !target.includes('?')) target += `?expires=${fx.imageQuery.expires}&sig=${fx.imageQuery.sig}`;
      const req: FuzzRequest = {
        method: route.method,
        path: target,
        headers: headerMap,
        ...(b.body !== undefined ? { body: b.body } : {}),
        route,
        oddPath: p.oddPath,
        needsChannel: p.needsChannel,
      };
      // Counterexamples print as a readable request, not as a megabyte of bytes.
      return Object.assign(req, { [fc.toStringMethod]: () => describeRequest(req) });
    });
  });
}

/** FUZZ_DUMP=file: the failing request whole (the message shortens it), to replay by hand. */
function dumpFailure(req: FuzzRequest, answer: string): void {
  const file = process.env.FUZZ_DUMP;
  if (file) writeFileSync(file, JSON.stringify({ method: req.method, path: req.path, headers: req.headers, body: req.body?.toString('base64'), answer }));
}

function describeRequest(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length}B)=${JSON.stringify(req.body.subarray(0, 300).toString('utf8'))}`;
  const headers = JSON.stringify(req.headers, (_k, v: unknown) => (typeof v === 'string' && v.length > 120 ? `${v.slice(0, 120)}...(${v.length})` : v));
  return `${req.method} ${req.path.length > 300 ? `${req.path.slice(0, 300)}...` : req.path} ${headers}${body}`;
}

// ---------------------------------------------------------------------------------------------

describe('fuzz: hostile requests on every route', () => {
  let gw: TestGateway;
  let fx: Fixtures;
  // FUZZ_STATS=1: answers per route and status class, to see how deep the requests get.
  const stats = process.env.FUZZ_STATS ? new Map<string, number>() : null;

  const admin = (method: string, path: string, body?: unknown) => adminJson(gw.origin, method, path, body);

  /** Channels back to none stored, so the built-in demo channel serves every model again. */
  async function resetChannels(): Promise<void> {
    const list = await admin('GET', '/admin/api/channels');
    for (const c of (list.data as { id: string }[] | undefined) ?? []) {
      const res = await fetch(`${gw.origin}/admin/api/channels/${encodeURIComponent(c.id)}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
      });
      await res.arrayBuffer();
    }
  }

  /** One request, its answer checked; anything a request may have changed in routing, undone. */
  async function exercise(req: FuzzRequest): Promise<void> {
    const touchesChannels = req.route.url.startsWith('/admin/api/channels') && req.method !== 'GET' && req.method !== 'HEAD';
    if (req.needsChannel && touchesChannels) await admin('POST', '/admin/api/channels', { name: CHANNEL_TARGET, kind: 'demo' });
    let res: Answer;
    try {
      res = await send(gw.origin, req);
    } catch (err) {
      dumpFailure(req, String((err as { rawPacket?: unknown }).rawPacket ?? err));
      throw err;
    } finally {
      if (touchesChannels) await resetChannels();
    }
    if (stats) {
      const form = String(req.headers['content-type'] ?? '').startsWith('multipart/') ? ' (multipart)' : '';
      const key = `${req.route.method} ${req.route.url}${form} ${Math.floor(res.status / 100)}xx`;
      stats.set(key, (stats.get(key) ?? 0) + 1);
    }
    const problem = answerProblem(req, res);
    if (problem) dumpFailure(req, res.text);
    if (problem) throw new Error(`${problem}: ${res.status} ${res.text.slice(0, 400)}\n  request: ${describeRequest(req)}`);
  }

  beforeAll(async () => {
    gw = await startGateway({
      IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
      IMAGEGATE_BODY_LIMIT: '1mb',
      IMAGEGATE_DEMO_DELAY: '0',
      // Accepted tasks render in the background: one at a time leaves the CPU to the fuzzer.
      IMAGEGATE_TASK_WORKERS: '1',
      IMAGEGATE_FETCH_TIMEOUT: '2s',
    });
    const png = await makePng({ width: 64, height: 64, alpha: 0.5 });
    const victim = await admin('POST', '/admin/api/keys', { name: 'victim' });
    const image = await gw.client.images.generate({ model: 'dall-e-2', prompt: 'fixture', size: '256x256', response_format: 'url' });
    const link = new URL(image.data?.[0]?.url ?? '');
    const asyncTask = await rawRequest(gw.origin, {
      method: 'POST',
      path: '/v1/images/generations',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', 'x-new-api-async-task': 'true' },
      body: JSON.stringify({ model: 'dall-e-2', prompt: 'task', size: '256x256' }),
    });
    const taskApi = await rawRequest(gw.origin, {
      method: 'POST',
      path: '/api/v1/images/generations',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-2', prompt: 'task', size: '256x256' }),
    });
    const taskIds = [
      (asyncTask.json?.data as { task_id?: string } | undefined)?.task_id,
      (taskApi.json?.data as { taskId?: string } | undefined)?.taskId,
    ].filter((id): id is string => typeof id === 'string');
    expect(taskIds).toHaveLength(2);
    fx = {
      routes: gw.app.routes(),
      clientKey: gw.apiKey,
      victimKeyId: String(victim.id),
      taskIds,
      imageName: decodeURIComponent(link.pathname.slice('/files/'.length)),
      imageQuery: { expires: link.searchParams.get('expires') ?? '', sig: link.searchParams.get('sig') ?? '' },
      pngDataUrl: `data:image/png;base64,${png.toString('base64')}`,
    };
  });
  afterAll(async () => {
    if (stats)
      console.log(
        [...stats]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join('\n'),
      );
    await gw?.close();
  });

  // endOnFailure: no shrinking (each step is a live request); the counterexample prints as the
  // request that failed, with its seed and path. FUZZ_SEED=<seed> FUZZ_PATH=<path> replays one
  // (with -t naming its property); FUZZ_SCALE=10 runs a longer campaign.
  const scale = Number(process.env.FUZZ_SCALE ?? 1) || 1;
  const replay = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}) } : {};
  const params = { endOnFailure: true, verbose: 1, ...replay } as const;
  const runs = (n: number) => Math.round(n * scale);
  const timeout = 120_000 * scale;

  it(
    'valid bodies with fields changed to anything: no 5xx, errors in the dialect envelope',
    async () => {
      const withBodies = fx.routes.filter((r) => r.method === 'POST' || r.method === 'PATCH');
      await fc.assert(fc.asyncProperty(requestArb(fx, withBodies, 'body'), exercise), { ...params, numRuns: runs(800) });
    },
    timeout,
  );

  it(
    'any route, spelled and queried oddly: no 5xx, errors in the dialect envelope',
    async () => {
      await fc.assert(fc.asyncProperty(requestArb(fx, fx.routes, 'path'), exercise), { ...params, numRuns: runs(1_200) });
    },
    timeout,
  );

  it(
    'any route, any body, any headers: no 5xx, errors in the dialect envelope',
    async () => {
      await fc.assert(fc.asyncProperty(requestArb(fx, fx.routes, 'any'), exercise), { ...params, numRuns: runs(900) });
    },
    timeout,
  );

  // What the fuzzer found, each as one concrete request.

  it('an Expect header other than 100-continue is a 417 in the dialect envelope, not the bare one Node sends', async () => {
    const openai = await rawRequest(gw.origin, { method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${gw.apiKey}`, expect: 'nonsense' } });
    expect(openai.status).toBe(417);
    expect(openai.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'expectation_failed', param: 'Expect' } });
    const taskApi = await rawRequest(gw.origin, {
      method: 'GET',
      path: '/api/v1/images/generations?task_id=x',
      headers: { authorization: `Bearer ${gw.apiKey}`, expect: 'nonsense' },
    });
    expect(taskApi.status).toBe(417);
    expect(taskApi.json).toMatchObject({ code: 417, data: null });
    expect(String(taskApi.json?.msg)).toContain('Expect');
  });

  it('bytes after a request whose answer has started get no second answer spliced in after it', async () => {
    // A GET whose body the client did not frame (the Node client does this): the body is a
    // second "request" that does not parse, after the 414 has already been sent.
    const socket = await rawSocket(gw.origin);
    socket.write(`DELETE /admin/api/keys/${'a'.repeat(150)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_ADMIN_KEY}\r\nConnection: close\r\n\r\n{}`);
    const { text } = await readUntilClose(socket, 10_000);
    expect(text).toMatch(/^HTTP\/1\.1 414 /);
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    expect(text).toContain('"code":"uri_too_long"');
  });

  it('a repeated query parameter is a 400 naming it, not a 500 from the database or a date read from "a,b"', async () => {
    const get = (path: string, key: string) => rawRequest(gw.origin, { method: 'GET', path, headers: { authorization: `Bearer ${key}` } });
    for (const [path, param] of [
      ['/admin/api/usage?model=a&model=b', 'model'],
      ['/admin/api/usage?key=a&key=b', 'key'],
      ['/admin/api/usage?from=1&from=2', 'from'],
      ['/admin/api/tasks?key=a&key=b', 'key'],
      ['/admin/api/tasks?model=a&model=b', 'model'],
      ['/admin/api/tasks?to=1&to=2', 'to'],
    ] as const) {
      const res = await get(path, TEST_ADMIN_KEY);
      expect(res.status, path).toBe(400);
      expect(res.json, path).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_type', param } });
    }
    const dashboard = await get('/v1/dashboard/billing/usage?start_date=1&start_date=2', gw.apiKey);
    expect(dashboard.status).toBe(400);
    expect(dashboard.json).toMatchObject({ error: { code: 'invalid_type', param: 'start_date' } });
    const taskApi = await get('/api/v1/images/generations?task_id=a&task_id=b', gw.apiKey);
    expect(taskApi.status).toBe(400);
    expect(taskApi.json).toMatchObject({ code: 400, data: null });
    // Given once, they work as before.
    expect((await get('/admin/api/usage?model=a&from=2024-01-01', TEST_ADMIN_KEY)).status).toBe(200);
    expect((await get('/admin/api/tasks?model=a&key=b', TEST_ADMIN_KEY)).status).toBe(200);
  });

  it('a key expiry outside what a date can hold is a 400, and the key list keeps rendering', async () => {
    const send = (method: string, path: string, body: unknown) =>
      rawRequest(gw.origin, {
        method,
        path,
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const expires of [1e300, 8.64e15 + 1, -8.64e15 - 1]) {
      const created = await send('POST', '/admin/api/keys', { name: 'far-future', expires_at: expires });
      expect(created.status, String(expires)).toBe(400);
      expect(created.json).toMatchObject({ error: { code: 'invalid_value', param: 'expires_at' } });
      const patched = await send('PATCH', `/admin/api/keys/${fx.victimKeyId}`, { expires_at: expires });
      expect(patched.status, String(expires)).toBe(400);
    }
    // The edge of the range, and fractional epoch ms (whole ms are stored).
    const edge = await send('PATCH', `/admin/api/keys/${fx.victimKeyId}`, { expires_at: 8.64e15 });
    expect(edge.json?.expires_at).toBe('+275760-09-13T00:00:00.000Z');
    const fraction = await send('PATCH', `/admin/api/keys/${fx.victimKeyId}`, { expires_at: 1.6 });
    expect(fraction.json?.expires_at).toBe('1970-01-01T00:00:00.002Z');
    const list = await rawRequest(gw.origin, { method: 'GET', path: '/admin/api/keys', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(list.status).toBe(200);
  });

  it('the gateway is still alive and serving', async () => {
    const health = await rawRequest(gw.origin, { method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
    const models = await rawRequest(gw.origin, { method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(models.status).toBe(200);
  });
});
