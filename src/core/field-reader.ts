/** Typed reads of a request body's optional fields, for JSON and multipart forms alike. */
import { invalidRequest, type GatewayError } from './errors.js';

type Body = Readonly<Record<string, unknown>>;
type Kind = 'string' | 'number' | 'boolean';
type KindType<K extends Kind> = K extends 'string' ? string : K extends 'number' ? number : boolean;

/**
 * JSON null counts as absent (the spec marks the fields nullable). Multipart fields are all
 * strings, so `multipart` reads "2" as a number and "true" as a boolean.
 */
export class FieldReader {
  constructor(
    private readonly body: Body,
    private readonly multipart = false,
  ) {}

  has(name: string): boolean {
    return this.body[name] !== undefined && this.body[name] !== null;
  }

  raw(name: string): unknown {
    return this.body[name];
  }

  optional<K extends Kind>(name: string, kind: K): KindType<K> | undefined {
    const given = this.body[name];
    if (given === undefined || given === null) return undefined;
    const value = this.multipart && typeof given === 'string' ? fromFormText(given, kind) : given;
    if (typeof value !== kind || (kind === 'number' && !Number.isFinite(value))) {
      throw typeError(name, kind);
    }
    return value as KindType<K>;
  }

  enumValue<T extends string>(name: string, allowed: readonly T[], context = ''): T | undefined {
    const value = this.optional(name, 'string');
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      const where = context ? ` ${context}` : '';
      throw invalidRequest(name, 'invalid_value', `Invalid ${name} '${value}'${where}. Supported: ${allowed.join(', ')}.`);
    }
    return value as T;
  }
}

/** A form field's text as the kind the JSON form would carry; unchanged when it does not parse. */
function fromFormText(text: string, kind: Kind): unknown {
  const trimmed = text.trim();
  if (kind === 'number' && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (kind === 'boolean' && (trimmed === 'true' || trimmed === 'false')) return trimmed === 'true';
  return text;
}

function typeError(name: string, kind: Kind): GatewayError {
  return invalidRequest(name, 'invalid_type', `${name} must be a ${kind}.`);
}
