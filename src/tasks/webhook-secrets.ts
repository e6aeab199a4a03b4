/**
 * Each API key's Standard Webhooks signing secret (`whsec_` + base64 of 24 random bytes), kept in
 * `api_keys.webhook_secret` and made the first time the key needs one. Keys from
 * IMAGEGATE_API_KEYS (ids `env:...`) have no row to keep a secret in, and a task without a key has
 * nobody to share one with: their callbacks go out unsigned (`secretFor` answers null).
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';

const PREFIX = 'whsec_';
const SECRET_BYTES = 24;

export function newWebhookSecret(): string {
  return PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** True for a key that can hold a secret: a database key, not an env key. */
function isDatabaseKey(keyId: string | null): keyId is string {
  return keyId !== null && !keyId.startsWith('env:');
}

export class WebhookSecrets {
  constructor(private readonly db: Db) {}

  /**
   * The key's secret, made and stored on first use. Two instances asking at once both end with the
   * same secret: the write only lands while the column is still empty, and both read it back.
   * Null for env keys, a null key, or a key id with no row.
   */
  async secretFor(keyId: string | null): Promise<string | null> {
    if (!isDatabaseKey(keyId)) return null;
    const stored = await this.read(keyId);
    if (stored === undefined) return null;
    if (stored !== null) return stored;
    await this.db.updateTable('api_keys').set({ webhook_secret: newWebhookSecret() }).where('id', '=', keyId).where('webhook_secret', 'is', null).execute();
    return (await this.read(keyId)) ?? null;
  }

  /** Replaces the key's secret and returns the new one (null for env keys or an unknown key). Takes effect on the next attempt. */
  async rotate(keyId: string): Promise<string | null> {
    if (!isDatabaseKey(keyId)) return null;
    const secret = newWebhookSecret();
    const updated = await this.db.updateTable('api_keys').set({ webhook_secret: secret }).where('id', '=', keyId).executeTakeFirst();
    return Number(updated.numUpdatedRows) === 0 ? null : secret;
  }

  /** undefined: no such key; null: no secret yet. */
  private async read(keyId: string): Promise<string | null | undefined> {
    const row = await this.db.selectFrom('api_keys').select('webhook_secret').where('id', '=', keyId).executeTakeFirst();
    return row ? row.webhook_secret : undefined;
  }
}
