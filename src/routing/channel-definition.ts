/**
 * A channel as operators write it (YAML `channels:` entries, admin API bodies, CLI): snake_case,
 * durations in seconds. Parsed into the domain Channel, with errors naming the field.
 */
import { CHANNEL_KINDS, REFERENCE_IMAGE_MODES, type Channel, type ChannelKind, type ModelMapping, type ReferenceImageMode } from '../core/channel.js';
import { parseSafetyPolicy, safetyPolicyToRaw, SafetyPolicyError, type SafetyPolicy } from '../core/safety-policy.js';

export class ChannelDefinitionError extends Error {
  constructor(
    /** The offending field, e.g. `base_url` or `model_map.poster.params`. */
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChannelDefinitionError';
  }
}

export type ChannelDefinition = Omit<Channel, 'id'>;

/** Defaults every channel gets when its definition leaves them out. */
export const CHANNEL_DEFAULTS = {
  priority: 0,
  weight: 1,
  maxConcurrent: 0,
  timeoutSeconds: 300,
  enabled: true,
} as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
type Raw = Record<string, unknown>;

/** Parses a whole definition (create). */
export function parseChannelDefinition(raw: unknown, defaults: { timeoutSeconds: number } = CHANNEL_DEFAULTS): ChannelDefinition {
  const body = asObject(raw, '');
  const kind = parseKind(body.kind);
  const name = parseName(body.name);
  return finish({
    name,
    kind,
    baseUrl: parseBaseUrl(body.base_url, kind),
    apiKeys: parseKeys(body),
    models: parseModels(body.models),
    modelMap: parseModelMap(body.model_map),
    priority: optionalInteger(body, 'priority', -1_000_000, 1_000_000) ?? CHANNEL_DEFAULTS.priority,
    weight: optionalNumber(body, 'weight', 0, 1_000_000) ?? CHANNEL_DEFAULTS.weight,
    maxConcurrent: optionalInteger(body, 'max_concurrent', 0, 1_000_000) ?? CHANNEL_DEFAULTS.maxConcurrent,
    timeoutMs: Math.round((optionalNumber(body, 'timeout', 1, 86_400) ?? defaults.timeoutSeconds) * 1000),
    headers: parseHeaders(body.headers),
    enabled: optionalBoolean(body, 'enabled') ?? CHANNEL_DEFAULTS.enabled,
    ...optionalString(body, 'api_version', 'apiVersion'),
    ...pollInterval(body),
    ...referenceImages(body),
    ...watermark(body),
    ...costRatio(body),
    ...safety(body),
  });
}

/** Applies a partial update (admin PATCH) to an existing definition. */
export function patchChannelDefinition(current: ChannelDefinition, raw: unknown): ChannelDefinition {
  const patch = asObject(raw, '');
  const merged: Raw = { ...toRaw(current), ...patch };
  // Keys are replaced only when the patch names them; otherwise the stored ones stay.
  if (patch.api_keys === undefined && patch.api_key === undefined) merged.api_keys = [...current.apiKeys];
  return parseChannelDefinition(merged, { timeoutSeconds: current.timeoutMs / 1000 });
}

/** The snake_case form, with keys in clear (for storage and patching, never for responses). */
export function toRaw(def: ChannelDefinition): Raw {
  return {
    name: def.name,
    kind: def.kind,
    base_url: def.baseUrl,
    api_keys: [...def.apiKeys],
    models: def.models === '*' ? '*' : [...def.models],
    model_map: Object.fromEntries(
      Object.entries(def.modelMap).map(([model, m]) => [
        model,
        { ...(m.upstreamModel ? { upstream_model: m.upstreamModel } : {}), ...(m.params ? { params: m.params } : {}) },
      ]),
    ),
    priority: def.priority,
    weight: def.weight,
    max_concurrent: def.maxConcurrent,
    timeout: def.timeoutMs / 1000,
    headers: { ...def.headers },
    enabled: def.enabled,
    ...(def.apiVersion ? { api_version: def.apiVersion } : {}),
    ...(def.pollIntervalMs !== undefined ? { poll_interval: def.pollIntervalMs / 1000 } : {}),
    ...(def.referenceImages ? { reference_images: def.referenceImages } : {}),
    ...(def.watermark !== undefined ? { watermark: def.watermark } : {}),
    ...(def.costRatio !== undefined ? { cost_ratio: def.costRatio } : {}),
    ...(def.safety !== undefined ? { safety: safetyPolicyToRaw(def.safety) } : {}),
  };
}

function finish(def: ChannelDefinition): ChannelDefinition {
  if (def.kind !== 'demo' && def.apiKeys.length === 0) {
    throw new ChannelDefinitionError('api_keys', `a ${def.kind} channel needs at least one upstream key (api_key or api_keys)`);
  }
  return def;
}

function asObject(raw: unknown, field: string): Raw {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ChannelDefinitionError(field || 'channel', `${field || 'a channel'} must be an object`);
  }
  return raw as Raw;
}

function parseKind(value: unknown): ChannelKind {
  if (typeof value !== 'string' || !(CHANNEL_KINDS as readonly string[]).includes(value)) {
    throw new ChannelDefinitionError('kind', `kind must be one of ${CHANNEL_KINDS.join(', ')}`);
  }
  return value as ChannelKind;
}

function parseName(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ChannelDefinitionError('name', 'name must be 1-64 letters, digits, _ . - (starting with a letter or digit)');
  }
  return value;
}

function parseBaseUrl(value: unknown, kind: ChannelKind): string {
  if (kind === 'demo' && value === undefined) return 'http://demo.invalid/v1';
  if (typeof value !== 'string') throw new ChannelDefinitionError('base_url', 'base_url is required');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ChannelDefinitionError('base_url', `base_url '${value}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ChannelDefinitionError('base_url', 'base_url must be http(s)');
  return value.replace(/\/+$/, '');
}

function parseKeys(body: Raw): string[] {
  const list = body.api_keys ?? (body.api_key !== undefined ? [body.api_key] : []);
  if (!Array.isArray(list) || !list.every((k): k is string => typeof k === 'string' && k.trim().length > 0)) {
    throw new ChannelDefinitionError('api_keys', 'api_keys must be a list of non-empty strings');
  }
  return [...new Set(list.map((k) => k.trim()))];
}

function parseModels(value: unknown): readonly string[] | '*' {
  if (value === undefined || value === '*') return '*';
  if (!Array.isArray(value) || value.length === 0 || !value.every((m): m is string => typeof m === 'string' && m.length > 0)) {
    throw new ChannelDefinitionError('models', "models must be '*' or a non-empty list of model names");
  }
  return value;
}

function parseModelMap(value: unknown): Record<string, ModelMapping> {
  if (value === undefined || value === null) return {};
  const map = asObject(value, 'model_map');
  const out: Record<string, ModelMapping> = {};
  for (const [model, entry] of Object.entries(map)) {
    const field = `model_map.${model}`;
    // Shorthand: `gpt-image-2-4k: gpt-image-2` maps the name only.
    if (typeof entry === 'string') {
      out[model] = { upstreamModel: entry };
      continue;
    }
    const e = asObject(entry, field);
    if (e.upstream_model !== undefined && typeof e.upstream_model !== 'string') {
      throw new ChannelDefinitionError(`${field}.upstream_model`, `${field}.upstream_model must be a string`);
    }
    const params = e.params === undefined ? undefined : asObject(e.params, `${field}.params`);
    out[model] = { ...(typeof e.upstream_model === 'string' ? { upstreamModel: e.upstream_model } : {}), ...(params ? { params } : {}) };
  }
  return out;
}

function parseHeaders(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  const headers = asObject(value, 'headers');
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(headers)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9-]+$/.test(name)) {
      throw new ChannelDefinitionError(`headers.${name}`, 'headers must map header names to string values');
    }
    out[name.toLowerCase()] = v;
  }
  return out;
}

function pollInterval(body: Raw): { pollIntervalMs?: number } {
  const seconds = optionalNumber(body, 'poll_interval', 0.01, 3600);
  return seconds === undefined ? {} : { pollIntervalMs: Math.round(seconds * 1000) };
}

function referenceImages(body: Raw): { referenceImages?: ReferenceImageMode } {
  const value = body.reference_images;
  if (value === undefined || value === null) return {};
  if (typeof value !== 'string' || !(REFERENCE_IMAGE_MODES as readonly string[]).includes(value)) {
    throw new ChannelDefinitionError('reference_images', `reference_images must be one of ${REFERENCE_IMAGE_MODES.join(', ')}`);
  }
  return { referenceImages: value as ReferenceImageMode };
}

function watermark(body: Raw): { watermark?: boolean } {
  const value = optionalBoolean(body, 'watermark');
  return value === undefined ? {} : { watermark: value };
}

function costRatio(body: Raw): { costRatio?: number } {
  const ratio = optionalNumber(body, 'cost_ratio', 0, 1000);
  return ratio === undefined ? {} : { costRatio: ratio };
}

/** The channel's content-safety policy; a bad one (an unknown class, a regex that does not compile) is refused, naming the part. */
function safety(body: Raw): { safety?: SafetyPolicy } {
  const value = body.safety;
  if (value === undefined || value === null) return {};
  try {
    return { safety: parseSafetyPolicy(value, 'safety') };
  } catch (err) {
    if (err instanceof SafetyPolicyError) throw new ChannelDefinitionError(err.field, err.message);
    throw err;
  }
}

function optionalNumber(body: Raw, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ChannelDefinitionError(field, `${field} must be a number between ${min} and ${max}`);
  }
  return value;
}

function optionalInteger(body: Raw, field: string, min: number, max: number): number | undefined {
  const value = optionalNumber(body, field, min, max);
  if (value !== undefined && !Number.isInteger(value)) throw new ChannelDefinitionError(field, `${field} must be an integer`);
  return value;
}

function optionalBoolean(body: Raw, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new ChannelDefinitionError(field, `${field} must be true or false`);
  return value;
}

function optionalString<K extends string>(body: Raw, field: string, key: K): Partial<Record<K, string>> {
  const value = body[field];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'string' || value.length === 0) throw new ChannelDefinitionError(field, `${field} must be a non-empty string`);
  return { [key]: value } as Partial<Record<K, string>>;
}
