/**
 * Client API keys: created once and shown once, stored as SHA-256 (keys are 192-bit random, so a
 * fast hash is enough), looked up by hash. Keys from IMAGEGATE_API_KEYS live only in memory.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';

export interface KeyIdentity {
  /** The api_keys row id; `env:<prefix>` for keys from IMAGEGATE_API_KEYS. */
  id: string;
  name: string;
}

export interface KeySummary {
  id: string;
  name: string;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

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
      this.envKeys.set(hashKey(secret), { id: `env:${prefix}`, name: 'IMAGEGATE_API_KEYS' });
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
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'name'])
      .where('secret_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) {
      this.cache.delete(hash);
      return null;
    }
    const identity = { id: row.id, name: row.name };
    this.cache.set(hash, { identity, until: this.now() + CACHE_TTL_MS });
    return identity;
  }

  async create(name: string): Promise<CreatedKey> {
    const key = KEY_PREFIX + randomBytes(24).toString('base64url');
    const row = {
      id: randomUUID(),
      name,
      prefix: key.slice(0, VISIBLE_CHARS),
      secret_hash: hashKey(key),
      created_at: this.now(),
      revoked_at: null,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return { id: row.id, name, prefix: row.prefix, createdAt: row.created_at, revokedAt: null, key };
  }

  async list(): Promise<KeySummary[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(['id', 'name', 'prefix', 'created_at', 'revoked_at'])
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ id: r.id, name: r.name, prefix: r.prefix, createdAt: r.created_at, revokedAt: r.revoked_at }));
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirst();
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
