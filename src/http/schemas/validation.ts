/**
 * How route schemas are checked, and what a refusal looks like. Fastify's own ajv compiler,
 * twice: query strings, path params and headers as Fastify sets it up (text coerced to the
 * declared type, defaults filled in); bodies as sent (no coercion: "2" is not a number, as the
 * hand validation has always said; no defaults, nothing removed). Parts marked describedOnly are
 * not checked. A refusal is the same 400 the hand validation gives, naming the field as the
 * client wrote it (`images[0].image_url`), in the route's dialect (the error handler renders it).
 */
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifySchemaValidationError, FastifyServerOptions } from 'fastify';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import { DESCRIBED_ONLY } from './common.js';

type SchemaErrorDataVar = 'body' | 'headers' | 'params' | 'querystring';

/** Ajv options for bodies: what the client sent is what the handler reads. */
const BODY_OPTIONS = { coerceTypes: false, useDefaults: false, removeAdditional: false } as const;

/** Ajv instances, one per set of options (Fastify builds a validator per plugin scope). */
const pool = AjvCompiler();

/** The schemaController's validator factory (server.ts). */
export const buildValidator: AjvCompiler.BuildCompilerFromPool = (externalSchemas, ajvOptions) => {
  const options = ajvOptions?.mode === 'JTD' ? {} : (ajvOptions ?? {});
  const custom = options.customOptions ?? {};
  // verbose: errors carry the value they are about (a repeated query parameter is told from a wrong one).
  // validateSchema off: checking our own schemas against the meta-schema compiled that meta-schema
  // in each ajv instance at start (a fifth of start-up's CPU); ajv's strict compile still refuses
  // a malformed schema, and the OpenAPI test validates them all.
  const ours = { ...custom, verbose: true, validateSchema: false };
  const text = pool(externalSchemas, { ...options, customOptions: ours });
  const body = pool(externalSchemas, { ...options, customOptions: { ...ours, ...BODY_OPTIONS } });
  return (route) =>
    compiledOnFirstUse(() => {
      const schema = checkedPart(route.schema) as AjvCompiler.RouteDefinition['schema'];
      // No body (or JSON null) is the handler's to refuse: each says what it needs (an empty body
      // where a JSON object is wanted, or a form) as it did before there were schemas.
      return route.httpPart === 'body' ? body({ ...route, schema: { anyOf: [{ type: 'null' }, schema] } }) : withSafeNumbers(text({ ...route, schema }));
    });
};

type Validate = ReturnType<ReturnType<AjvCompiler.BuildCompilerFromPool>>;

/**
 * Text coerced to a number must stay a number the database can hold. ajv coerces "1e400" to
 * Infinity and then lets it through `maximum` (its coercion skips the checks after it), and an
 * offset of 1e20 is past SQLite's and PostgreSQL's integers: both were a 500. Any coerced number
 * outside the safe-integer range is refused as out of range, naming its parameter.
 */
function withSafeNumbers(validate: Validate): Validate {
  const checked = (data: unknown, context?: object): unknown => {
    const ok = (validate as (data: unknown, context?: object) => unknown)(data, context);
    const unsafe = ok ? unsafeNumberAt(data) : null;
    const errors = unsafe === null ? validate.errors : [outOfRange(unsafe)];
    Object.assign(checked, { errors });
    return ok && unsafe === null;
  };
  return Object.assign(checked, { schemaEnv: true, errors: null }) as unknown as Validate;
}

/** The first top-level field (or element of a repeated one) that is a number beyond ±2^53. */
function unsafeNumberAt(data: unknown): string | null {
  if (typeof data !== 'object' || data === null) return null;
  for (const [key, value] of Object.entries(data)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'number' && !(Math.abs(v) <= Number.MAX_SAFE_INTEGER))) return key;
  }
  return null;
}

function outOfRange(key: string): AjvError {
  return {
    keyword: 'maximum',
    instancePath: `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`,
    schemaPath: '',
    params: { limit: Number.MAX_SAFE_INTEGER },
    message: `must be a number between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`,
  };
}
/** Validators not compiled yet; weakly, so a closed server's are not kept alive by this list. */
const pending = new Set<WeakRef<() => Validate>>();

/**
 * A validator that ajv compiles when it first runs, not at start: compiling every route's
 * schemas took most of start-up's CPU (and compiling them all after start, as much again on a
 * busy first minute). test/route-schemas.e2e.test.ts compiles them all (compileValidatorsNow),
 * so a schema ajv refuses fails the suite, not a first request.
 */
function compiledOnFirstUse(compile: () => Validate): Validate {
  let compiled: Validate | undefined;
  const ensure = (): Validate => {
    if (!compiled) {
      compiled = compile();
      pending.delete(entry);
    }
    return compiled;
  };
  const entry = new WeakRef(ensure);
  pending.add(entry);
  // Fastify passes ajv's data context (so coercion can replace a root value) only to a function
  // that has schemaEnv, as ajv's own do.
  const validate = (data: unknown, context?: object): unknown => {
    const inner = ensure() as (data: unknown, context?: object) => unknown;
    const ok = inner(data, context);
    Object.assign(validate, { errors: ensure().errors });
    return ok;
  };
  return Object.assign(validate, { schemaEnv: true, errors: null }) as unknown as Validate;
}

/** Compiles every validator not yet compiled (one per event-loop turn); throws what ajv throws. */
export async function compileValidatorsNow(): Promise<void> {
  for (const entry of [...pending]) {
    pending.delete(entry);
    entry.deref()?.();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

type BuildSerializer = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']>;

/**
 * Response schemas describe answers; they never shape them. Fastify would compile each into a
 * serializer that drops every field the schema does not name; answers stay JSON.stringify's, as
 * they were before there were schemas (and streamed or Buffer answers are written as they are).
 */
export const buildSerializer: BuildSerializer = () => () => (data: unknown) => JSON.stringify(data);

/** The schema as ajv checks it: every describedOnly part becomes `{}` (anything). */
export function checkedPart(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(checkedPart);
  if (typeof schema !== 'object' || schema === null) return schema;
  if ((schema as Record<symbol, unknown>)[DESCRIBED_ONLY] === true) return {};
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, checkedPart(value)]));
}

interface AjvError extends FastifySchemaValidationError {
  data?: unknown;
}

/** Fastify's schemaErrorFormatter: ajv's errors -> the error the hand validation would give. */
export function schemaError(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): GatewayError {
  const picked = pickError(errors as AjvError[]);
  if (!picked) return invalidRequest(null, 'invalid_request', `The request ${partName(dataVar)} is not valid.`);
  const { error, path } = picked;
  const param = paramOf(path);
  if (dataVar === 'body' && path.length === 0 && error.keyword === 'type')
    return invalidRequest(null, 'invalid_request', 'The request body must be a JSON object.');
  switch (error.keyword) {
    case 'required':
      return invalidRequest(param, 'missing_required_parameter', `Missing required parameter: '${param}'.`);
    case 'additionalProperties':
      return invalidRequest(param, 'unknown_parameter', `Unknown parameter: '${param}'.`);
    case 'type': {
      if (dataVar === 'querystring' && Array.isArray(error.data))
        return invalidRequest(param, 'invalid_type', `${param} must be given once, as ${typeNames(picked.types)}.`);
      return invalidRequest(param, 'invalid_type', `${param} must be ${typeNames(picked.types)}.`);
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      return invalidRequest(param, 'invalid_value', `Invalid ${param} '${String(error.data)}'. Supported: ${allowed.map(String).join(', ')}.`);
    }
    case 'const':
      return invalidRequest(param, 'invalid_value', `Invalid ${param} '${String(error.data)}'.`);
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum':
      return invalidRequest(param, 'invalid_value', `${param} ${error.message ?? 'is out of range'}.`);
    case 'maxLength':
      return invalidRequest(param, 'string_above_max_length', `${param} ${error.message ?? 'is too long'}.`);
    default:
      return invalidRequest(param, 'invalid_value', `${param ?? `The request ${partName(dataVar)}`} ${error.message ?? 'is not valid'}.`);
  }
}

interface Picked {
  error: AjvError;
  /** Where the error is: instance path segments, plus the property a required/additional error names. */
  path: string[];
  /** Every type the value could have had there (the branches of a union), null left out. */
  types: string[];
}

/**
 * The error that says most: the deepest one (a union's branches each fail; the branch that got
 * furthest into the value is the one the client meant), never the union's own summary.
 */
function pickError(errors: readonly AjvError[]): Picked | null {
  let best: { error: AjvError; path: string[] } | null = null;
  for (const error of errors) {
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf') continue;
    const path = pathOf(error);
    // A type error says least: at the same depth another keyword (a missing field, say) wins.
    const deeper = !best || path.length > best.path.length || (path.length === best.path.length && best.error.keyword === 'type' && error.keyword !== 'type');
    if (deeper) best = { error, path };
  }
  if (!best) return null;
  const at = best.error.instancePath;
  const types = errors.filter((e) => e.keyword === 'type' && e.instancePath === at).flatMap((e) => [(e.params as { type?: unknown }).type].flat().map(String));
  return { ...best, types: [...new Set(types)].filter((t) => t !== 'null') };
}

function pathOf(error: AjvError): string[] {
  const segments =
    error.instancePath === ''
      ? []
      : error.instancePath
          .slice(1)
          .split('/')
          .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  const params = error.params as { missingProperty?: unknown; additionalProperty?: unknown };
  const named = error.keyword === 'required' ? params.missingProperty : error.keyword === 'additionalProperties' ? params.additionalProperty : undefined;
  return typeof named === 'string' ? [...segments, named] : segments;
}

/** `images[0].image_url`, as OpenAI names a nested field. */
function paramOf(path: readonly string[]): string | null {
  if (path.length === 0) return null;
  return path.map((segment, i) => (/^\d+$/.test(segment) ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('');
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
};

function typeNames(types: readonly string[]): string {
  const names = types.map((t) => TYPE_NAMES[t] ?? t);
  if (names.length <= 1) return names[0] ?? 'of another type';
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}`;
}

function partName(dataVar: SchemaErrorDataVar): string {
  return dataVar === 'querystring' ? 'query' : dataVar === 'params' ? 'path' : dataVar;
}
