/** The error catalogue: every code's status and type fit together, and errors are only made by name. */
import { readdirSync, readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  databaseUnavailable,
  ERROR_CATALOGUE,
  gatewayError,
  internalError,
  invalidApiKey,
  invalidRequest,
  modelNotFound,
  requestTooLarge,
  uncataloguedClientError,
  upstreamInvalidResponse,
  upstreamRejected,
  type ErrorCode,
  type ErrorType,
} from '../src/core/errors.js';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
/** The one file that may call the constructor: it holds the class and the factories. */
const ERRORS_FILE = join('core', 'errors.ts');

const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** The types the OpenAI dialect sends with a status; any other 4xx is invalid_request_error. */
function typesFor(status: number): readonly ErrorType[] {
  if (status >= 500) return ['server_error', 'upstream_error'];
  switch (status) {
    case 401: // OpenAI's invalid_api_key is a 401 invalid_request_error
      return ['authentication_error', 'invalid_request_error'];
    case 402:
      return ['insufficient_quota'];
    case 403:
      return ['permission_error', 'invalid_request_error'];
    case 404:
      return ['not_found_error', 'invalid_request_error'];
    case 429:
      return ['rate_limit_error'];
    default:
      return ['invalid_request_error'];
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('the error catalogue', () => {
  it.each(CODES)('%s: a 4xx or 5xx status with a type that fits it', (code) => {
    const { status, type } = ERROR_CATALOGUE[code];
    expect(Number.isInteger(status)).toBe(true);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
    // A status HTTP names, or nginx's 499 (client closed request).
    expect(status === 499 || STATUS_CODES[status] !== undefined).toBe(true);
    expect(typesFor(status)).toContain(type);
  });

  it('codes are snake_case', () => {
    for (const code of CODES) expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  });

  it('gatewayError takes status and type from the catalogue; param and headers from the call', () => {
    for (const code of CODES) {
      const err = gatewayError(code, 'why');
      expect(err).toMatchObject({ ...ERROR_CATALOGUE[code], code, param: null, message: 'why', headers: {} });
    }
    const err = gatewayError('task_not_found', 'task not found', { param: 'task_id', headers: { 'retry-after': '1' } });
    expect(err).toMatchObject({ status: 404, type: 'invalid_request_error', code: 'task_not_found', param: 'task_id', headers: { 'retry-after': '1' } });
    expect(err.toEnvelope()).toEqual({ error: { message: 'task not found', type: 'invalid_request_error', param: 'task_id', code: 'task_not_found' } });
  });

  it('a misspelt code, or a non-400 code for invalidRequest, does not compile (tsc --noEmit checks the directives)', () => {
    const wrong = [
      // @ts-expect-error not a catalogue code
      () => gatewayError('task_not_fund', 'x'),
      // @ts-expect-error invalidRequest takes only the catalogue's 400 codes
      () => invalidRequest('model', 'model_not_found', 'x'),
    ];
    expect(wrong).toHaveLength(2);
  });

  it('the helpers are catalogue entries', () => {
    const made = [
      [modelNotFound('m'), 'model_not_found'],
      [invalidApiKey(), 'invalid_api_key'],
      [databaseUnavailable(), 'service_unavailable'],
      [internalError(), 'internal_error'],
      [requestTooLarge('big', 'image'), 'request_too_large'],
      [upstreamInvalidResponse('bad'), 'upstream_invalid_response'],
      [invalidRequest('n', 'invalid_value', 'bad n'), 'invalid_value'],
    ] as const;
    for (const [err, code] of made) expect(err).toMatchObject({ ...ERROR_CATALOGUE[code], code });
    expect(databaseUnavailable().headers['retry-after']).toBeDefined();
  });

  it("an upstream's refusal keeps its own code with upstream_rejected's status and type", () => {
    expect(upstreamRejected('moderation_blocked', 'prompt', 'no')).toMatchObject({
      ...ERROR_CATALOGUE.upstream_rejected,
      code: 'moderation_blocked',
      param: 'prompt',
    });
    expect(upstreamRejected(undefined, null, 'no')).toMatchObject({ ...ERROR_CATALOGUE.upstream_rejected, code: 'upstream_rejected' });
    expect(upstreamRejected(null, null, 'no').code).toBe('upstream_rejected');
  });

  it("a library's uncatalogued 4xx keeps its status; anything else becomes a 400", () => {
    expect(uncataloguedClientError(406, 'no')).toMatchObject({ status: 406, type: 'invalid_request_error', code: null });
    expect(uncataloguedClientError(500, 'no').status).toBe(400);
    expect(uncataloguedClientError(302, 'no').status).toBe(400);
  });

  it(`no file under src/ but ${ERRORS_FILE} calls new GatewayError(: errors are made by name`, () => {
    const files = sourceFiles(SRC);
    const constructs = /\bnew\s+GatewayError\s*\(/;
    // The scan reads the real tree, and the pattern finds the one allowed use.
    expect(files.length).toBeGreaterThan(50);
    expect(readFileSync(join(SRC, ERRORS_FILE), 'utf8')).toMatch(constructs);
    const offenders = files
      .map((file) => relative(SRC, file))
      .filter((file) => file !== ERRORS_FILE && constructs.test(readFileSync(join(SRC, file), 'utf8')))
      .map((file) => `src/${file.split(sep).join('/')}`);
    expect(offenders).toEqual([]);
  });
});
