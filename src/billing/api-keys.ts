/**
 * Client API keys: created once and shown once, stored as SHA-256 (keys are 192-bit random, so a
 * fast hash is enough), looked up by hash. Keys from IMAGEGATE_API_KEYS live only in memory.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { ApiKeyRow } from '../db/schema.js';
import { parseSafetyPolicy, safetyPolicyToRaw, type SafetyPolicy } from '../core/safety-policy.js';
import type { KeySettings } from './key-settings.js';

/** What a key may do; null fields mean "no limit". Env keys have no limits at all. */
export interface KeyPolicy {
  enabled: boolean;
  expiresAt: number | null;
  allowedModels: readonly string[] | null;
  allowedIps: readonly string[] | null;
  rpm: number | null;
  maxConcurrent: number | null;
  /** The key's own content-safety policy; null: the operator's default applies. */
  safety: SafetyPolicy | null;
}

export interface KeyIdentity {
  /** The api_keys row id; `env:<prefix>` for keys from IMAGEGATE_API_KEYS. */
  id: string;
  name: string;
  /** The key's first characters, as the admin API shows them (for logs: never the whole key). */
  prefix: string;
  policy: KeyPolicy;
  /** Has a credit balance (as of the last lookup): requests reserve and settle credits. */
  metered: boolean;
}

export interface KeySummary {
  id: string;
  name: string;
  prefix: string;
  owner: string | null;
  /** Credits left in micro-dollars; null: unlimited. */
  balanceMicros: number | null;
  createdAt: number;
  revokedAt: number | null;
  policy: KeyPolicy;
}

export const UNLIMITED: KeyPolicy = { enabled: true, expiresAt: null, allowedModels: null, allowedIps: null, rpm: null, maxConcurrent: null, safety: null };

export interface CreatedKey extends KeySummary {
  /** The whole secret: shown to the operator once, never stored. */
  key: string;
}

const KEY_PREFIX = 'ig-';
const VISIBLE_CHARS = 10;
/** Cached positive lookups; a revocation on another instance takes effect within this time. */
const CACHE_TTL_MS = 5_000;

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export class ApiKeyService {
  private readonly envKeys = new Map<string, KeyIdentity>();
  private readonly cache = new Map<string, { identity: KeyIdentity; until: number }>();

  constructor(
    private readonly db: Db,
    envKeys: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    for (const secret of envKeys) {
      const prefix = secret.slice(0, VISIBLE_CHARS);
      this.envKeys.set(hashKey(secret), { id: `env:${prefix}`, name: 'IMAGEGATE_API_KEYS', prefix, policy: UNLIMITED, metered: false });
    }
  }

  get hasEnvKeys(): boolean {
    return this.envKeys.size > 0;
  }

  async authenticate(secret: string): Promise<KeyIdentity | null> {
    const hash = hashKey(secret);
    const fromEnv = this.envKeys.get(hash);
    if (fromEnv) return fromEnv;
    const cached = this.cache.get(hash);
    if (cached && cached.until > this.now()) return cached.identity;
    const row = await this.db.selectFrom('api_keys').selectAll().where('secret_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
    if (!row) {
      this.cache.delete(hash);
      return null;
    }
    const identity = { id: row.id, name: row.name, prefix: row.prefix, policy: policyOf(row), metered: row.balance_micros !== null };
    this.cache.set(hash, { identity, until: this.now() + CACHE_TTL_MS });
    return identity;
  }

  /** A name alone makes an unlimited key; settings add credits (recorded as a grant by the caller) and limits. */
  async create(nameOrSettings: string | KeySettings): Promise<CreatedKey> {
    const settings: KeySettings = typeof nameOrSettings === 'string' ? { name: nameOrSettings } : nameOrSettings;
    const key = KEY_PREFIX + randomBytes(24).toString('base64url');
    const row = {
      id: randomUUID(),
      name: settings.name ?? 'unnamed',
      prefix: key.slice(0, VISIBLE_CHARS),
      secret_hash: hashKey(key),
      created_at: this.now(),
      revoked_at: null,
      // Credits arrive through Credits.grant, so the ledger holds every micro of the balance.
      balance_micros: settings.creditsMicros === undefined || settings.creditsMicros === null ? null : 0,
      ...columnsOf(settings),
    };
    await this.db.insertInto('api_keys').values(row).execute();
    const created = await this.get(row.id);
    if (!created) throw new Error('a key just created is gone');
    return { ...created, key };
  }

  /** Changes settings; returns the key, or null when there is none by that id or prefix. */
  async update(idOrPrefix: string, settings: KeySettings): Promise<KeySummary | null> {
    const current = await this.get(idOrPrefix);
    if (!current) return null;
    const columns = columnsOf(settings);
    if (Object.keys(columns).length > 0) await this.db.updateTable('api_keys').set(columns).where('id', '=', current.id).execute();
    this.cache.clear();
    return this.get(current.id);
  }

  async get(idOrPrefix: string): Promise<KeySummary | null> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrPrefix), eb('prefix', '=', idOrPrefix)]))
      .executeTakeFirst();
    return row ? summaryOf(row) : null;
  }

  async list(): Promise<KeySummary[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at').execute();
    return rows.map(summaryOf);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirst();
    return Number(row?.count ?? 0);
  }

  /** Revokes by id or by visible prefix; returns how many keys it revoked. */
  async revoke(idOrPrefix: string): Promise<number> {
    const result = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: this.now() })
      .where((eb) => eb.or([eb('id', '=', idOrPrefix), eb('prefix', '=', idOrPrefix)]))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    this.cache.clear();
    return Number(result.numUpdatedRows);
  }
}

function summaryOf(row: ApiKeyRow): KeySummary {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    owner: row.owner,
    balanceMicros: row.balance_micros,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    policy: policyOf(row),
  };
}

function policyOf(row: ApiKeyRow): KeyPolicy {
  return {
    enabled: row.enabled !== 0,
    expiresAt: row.expires_at,
    allowedModels: parseList(row.allowed_models),
    allowedIps: parseList(row.allowed_ips),
    rpm: row.rpm,
    maxConcurrent: row.max_concurrent,
    // Stored as checked when it was set: read back the same way.
    safety: row.safety_policy === null ? null : parseSafetyPolicy(JSON.parse(row.safety_policy), 'safety', { stored: true }),
  };
}

function parseList(json: string | null): string[] | null {
  if (json === null) return null;
  const value: unknown = JSON.parse(json);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;
}

/** The columns a settings object changes (credits excepted: they move through the ledger). */
function columnsOf(s: KeySettings) {
  const json = (v: readonly string[] | null) => (v === null ? null : JSON.stringify(v));
  return {
    ...(s.name !== undefined ? { name: s.name } : {}),
    ...(s.owner !== undefined ? { owner: s.owner } : {}),
    ...(s.expiresAt !== undefined ? { expires_at: s.expiresAt } : {}),
    ...(s.allowedModels !== undefined ? { allowed_models: json(s.allowedModels) } : {}),
    ...(s.allowedIps !== undefined ? { allowed_ips: json(s.allowedIps) } : {}),
    ...(s.rpm !== undefined ? { rpm: s.rpm } : {}),
    ...(s.maxConcurrent !== undefined ? { max_concurrent: s.maxConcurrent } : {}),
    ...(s.enabled !== undefined ? { enabled: s.enabled ? 1 : 0 } : {}),
    ...(s.safety !== undefined ? { safety_policy: s.safety === null ? null : JSON.stringify(safetyPolicyToRaw(s.safety)) } : {}),
  };
}
