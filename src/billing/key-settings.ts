/**
 * A key's account settings as operators write them (admin API bodies, CLI flags): snake_case,
 * credits in USD, expiry as an ISO date or epoch ms. Parsed into micros and epoch ms, with
 * errors naming the field.
 */
import { BlockList } from 'node:net';
import { invalidRequest } from '../core/errors.js';
import { parseSafetyPolicy, SafetyPolicyError, type SafetyPolicy } from '../core/safety-policy.js';
import { addException } from '../net/address-policy.js';

export interface KeySettings {
  name?: string;
  owner?: string | null;
  /** Initial credits (create only); null: unlimited. */
  creditsMicros?: number | null;
  expiresAt?: number | null;
  allowedModels?: string[] | null;
  allowedIps?: string[] | null;
  rpm?: number | null;
  maxConcurrent?: number | null;
  enabled?: boolean;
  /** The key's content-safety policy; null: the operator's default (IMAGEGATE_SAFETY_*). */
  safety?: SafetyPolicy | null;
}

type Raw = Record<string, unknown>;

export function parseKeySettings(raw: unknown, mode: 'create' | 'update'): KeySettings {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidRequest(null, 'invalid_request', 'The body must be a JSON object.');
  const body = raw as Raw;
  const known = new Set(['name', 'owner', 'credits', 'expires_at', 'allowed_models', 'allowed_ips', 'rpm', 'max_concurrent', 'enabled', 'safety']);
  const unknown = Object.keys(body).find((k) => !known.has(k));
  if (unknown) throw invalidRequest(unknown, 'unknown_parameter', `Unknown parameter: '${unknown}'.`);
  if (mode === 'update' && body.credits !== undefined) {
    throw invalidRequest('credits', 'invalid_value', 'Change credits with POST /admin/api/keys/{id}/credits, so the ledger records it.');
  }
  const settings: KeySettings = {};
  if (body.name !== undefined) settings.name = text(body.name, 'name', 100);
  else if (mode === 'create') throw invalidRequest('name', 'missing_required_parameter', "Missing required parameter: 'name'.");
  if (body.owner !== undefined) settings.owner = body.owner === null ? null : text(body.owner, 'owner', 200);
  if (body.credits !== undefined) settings.creditsMicros = body.credits === null ? null : usdToMicros(body.credits, 'credits', false);
  if (body.expires_at !== undefined) settings.expiresAt = body.expires_at === null ? null : time(body.expires_at, 'expires_at');
  if (body.allowed_models !== undefined) settings.allowedModels = body.allowed_models === null ? null : list(body.allowed_models, 'allowed_models');
  if (body.allowed_ips !== undefined) settings.allowedIps = body.allowed_ips === null ? null : addresses(body.allowed_ips);
  if (body.rpm !== undefined) settings.rpm = body.rpm === null ? null : count(body.rpm, 'rpm');
  if (body.max_concurrent !== undefined) settings.maxConcurrent = body.max_concurrent === null ? null : count(body.max_concurrent, 'max_concurrent');
  if (body.enabled !== undefined) {
    if (typeof body.enabled !== 'boolean') throw invalidRequest('enabled', 'invalid_type', 'enabled must be true or false.');
    settings.enabled = body.enabled;
  }
  if (body.safety !== undefined) settings.safety = body.safety === null ? null : safetyPolicy(body.safety);
  return settings;
}

/** USD (a number, at most 6 decimals) -> micros. Negative only where `signed`. */
export function usdToMicros(value: unknown, param: string, signed: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (!signed && value < 0)) {
    throw invalidRequest(param, 'invalid_value', `${param} must be ${signed ? 'a' : 'a non-negative'} number of USD.`);
  }
  const micros = Math.round(value * 1_000_000);
  if (!Number.isSafeInteger(micros)) throw invalidRequest(param, 'invalid_value', `${param} is too large.`);
  return micros;
}

function text(value: unknown, param: string, max: number): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max) {
    throw invalidRequest(param, 'invalid_value', `${param} must be a non-empty string of at most ${max} characters.`);
  }
  return value.trim();
}

/** The most epoch milliseconds a Date holds either side of 1970: beyond it, nothing can render the expiry. */
const MAX_DATE_MS = 8.64e15;

function time(value: unknown, param: string): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS)
    throw invalidRequest(param, 'invalid_value', `${param} must be an ISO 8601 date or epoch milliseconds.`);
  // Whole milliseconds: the column is an integer.
  return Math.round(ms);
}

function list(value: unknown, param: string): string[] {
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string' && v.length > 0)) {
    throw invalidRequest(param, 'invalid_type', `${param} must be a list of strings (or null for no restriction).`);
  }
  return [...new Set(value)];
}

function addresses(value: unknown): string[] {
  const entries = list(value, 'allowed_ips');
  const probe = new BlockList();
  for (const entry of entries) {
    try {
      addException(probe, entry);
    } catch (err) {
      throw invalidRequest('allowed_ips', 'invalid_value', `allowed_ips: ${(err as Error).message}.`);
    }
  }
  return entries;
}

/** A bad policy (an unknown class, a regex that does not compile) is refused here, naming the part at fault. */
function safetyPolicy(value: unknown): SafetyPolicy {
  try {
    return parseSafetyPolicy(value, 'safety');
  } catch (err) {
    if (err instanceof SafetyPolicyError) throw invalidRequest(err.field, 'invalid_value', `${err.message}.`);
    throw err;
  }
}

function count(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1_000_000) {
    throw invalidRequest(param, 'invalid_value', `${param} must be an integer from 1 to 1,000,000 (or null for no limit).`);
  }
  return value;
}
