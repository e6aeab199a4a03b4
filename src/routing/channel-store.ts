/**
 * Channels in the database: the config file's (rewritten at every start) and the admin API's.
 * Upstream keys are sealed with the SecretBox when there is one (the gateway must send them, so
 * they are encrypted, not hashed); responses only ever show them redacted.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Channel } from '../core/channel.js';
import type { Db } from '../db/database.js';
import type { ChannelRow } from '../db/schema.js';
import { isSealed, type SecretBox } from '../db/secret-box.js';
import { parseChannelDefinition, toRaw, type ChannelDefinition } from './channel-definition.js';

export interface StoredChannel {
  channel: Channel;
  source: 'config' | 'admin';
  /** Why the gateway disabled it on its own (null when it did not). */
  disabledReason: string | null;
  /** Key fingerprint -> why the gateway stopped using that key. */
  disabledKeys: Readonly<Record<string, string>>;
  createdAt: number;
  updatedAt: number;
}

/** A short stable id for an upstream key, safe to show and log. */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

export class ChannelStore {
  constructor(
    private readonly db: Db,
    /** null: keys are stored in clear (PostgreSQL without IMAGEGATE_SECRET_KEY; warned at start). */
    private readonly box: SecretBox | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  async list(): Promise<StoredChannel[]> {
    const rows = await this.db.selectFrom('channels').selectAll().orderBy('created_at').orderBy('name').execute();
    return rows.map((row) => fromRow(row, this.box));
  }

  async get(idOrName: string): Promise<StoredChannel | undefined> {
    const row = await this.db
      .selectFrom('channels')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
    return row ? fromRow(row, this.box) : undefined;
  }

  async create(def: ChannelDefinition, source: 'config' | 'admin'): Promise<StoredChannel> {
    const now = this.now();
    const row: ChannelRow = {
      id: randomUUID(),
      ...columns(def, this.box),
      source,
      disabled_reason: null,
      disabled_keys: '{}',
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('channels').values(row).execute();
    return fromRow(row, this.box);
  }

  /** Replaces the definition; a human edit also clears what the gateway disabled on its own. */
  async update(id: string, def: ChannelDefinition): Promise<StoredChannel | undefined> {
    await this.db
      .updateTable('channels')
      .set({ ...columns(def, this.box), disabled_reason: null, disabled_keys: '{}', updated_at: this.now() })
      .where('id', '=', id)
      .execute();
    return this.get(id);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('channels').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async disableChannel(id: string, reason: string): Promise<void> {
    await this.db.updateTable('channels').set({ disabled_reason: reason, updated_at: this.now() }).where('id', '=', id).execute();
  }

  /** Compare-and-set on the JSON, so two instances disabling two keys at once keep both. */
  async disableKey(id: string, fingerprint: string, reason: string): Promise<void> {
    for (let tries = 0; tries < 5; tries++) {
      const row = await this.db.selectFrom('channels').select('disabled_keys').where('id', '=', id).executeTakeFirst();
      if (!row) return;
      const disabled = { ...(JSON.parse(row.disabled_keys) as Record<string, string>), [fingerprint]: reason };
      const res = await this.db
        .updateTable('channels')
        .set({ disabled_keys: JSON.stringify(disabled), updated_at: this.now() })
        .where('id', '=', id)
        .where('disabled_keys', '=', row.disabled_keys)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) return;
    }
  }

  /**
   * Inserts a config channel unless another instance starting at the same moment just did (it read
   * the same file); returns that instance's row then, or undefined when this insert made it.
   */
  private async insertConfigChannel(def: ChannelDefinition): Promise<StoredChannel | undefined> {
    const now = this.now();
    const row: ChannelRow = {
      id: randomUUID(),
      ...columns(def, this.box),
      source: 'config',
      disabled_reason: null,
      disabled_keys: '{}',
      created_at: now,
      updated_at: now,
    };
    const inserted = await this.db
      .insertInto('channels')
      .values(row)
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return undefined;
    return this.get(def.name);
  }

  /**
   * Makes the config file's channels the `config` rows: new ones inserted, changed ones updated,
   * ones no longer in the file deleted. Admin-made channels are left alone.
   */
  async syncConfigChannels(defs: readonly ChannelDefinition[]): Promise<void> {
    const existing = new Map((await this.list()).map((s) => [s.channel.name, s]));
    for (const def of defs) {
      const current = existing.get(def.name) ?? (await this.insertConfigChannel(def));
      if (!current) continue;
      if (current.source === 'admin') throw new Error(`channel '${def.name}' exists as an admin channel; rename one of them`);
      else if (JSON.stringify(toRaw(definitionOf(current.channel))) !== JSON.stringify(toRaw(def))) await this.update(current.channel.id, def);
    }
    const wanted = new Set(defs.map((d) => d.name));
    for (const stored of existing.values()) {
      if (stored.source === 'config' && !wanted.has(stored.channel.name)) await this.delete(stored.channel.id);
    }
  }
}

export function definitionOf(channel: Channel): ChannelDefinition {
  const { id: _id, ...def } = channel;
  return def;
}

function columns(def: ChannelDefinition, box: SecretBox | null): Pick<ChannelRow, 'name' | 'kind' | 'base_url' | 'config' | 'enabled'> {
  const { name, kind, base_url, enabled, ...rest } = toRaw(def);
  const sealed = box ? { ...rest, api_keys: def.apiKeys.map((key) => box.seal(key)) } : rest;
  return { name: String(name), kind: String(kind), base_url: String(base_url), enabled: enabled ? 1 : 0, config: JSON.stringify(sealed) };
}

function fromRow(row: ChannelRow, box: SecretBox | null): StoredChannel {
  const raw: unknown = JSON.parse(row.config);
  const stored = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const keys = stored.api_keys;
  if (!box && Array.isArray(keys) && keys.some((k) => typeof k === 'string' && isSealed(k))) {
    throw new Error(`channel '${row.name}' has encrypted keys: set IMAGEGATE_SECRET_KEY to the key they were sealed with`);
  }
  const rest = box && Array.isArray(keys) ? { ...stored, api_keys: keys.map((k: unknown) => (typeof k === 'string' ? box.open(k) : k)) } : stored;
  const def = parseChannelDefinition({ ...rest, name: row.name, kind: row.kind, base_url: row.base_url, enabled: row.enabled === 1 });
  const disabledKeys: unknown = JSON.parse(row.disabled_keys);
  return {
    channel: { id: row.id, ...def },
    source: row.source,
    disabledReason: row.disabled_reason,
    disabledKeys: typeof disabledKeys === 'object' && disabledKeys !== null ? (disabledKeys as Record<string, string>) : {},
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
