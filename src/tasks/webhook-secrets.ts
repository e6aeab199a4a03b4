/**
 * The Standard Webhooks signing secrets (`whsec_` + base64 of 24 random bytes) every task
 * callback is signed with. A database key has its own, in `api_keys.webhook_secret`, made the
 * first time the key needs one. Keys from IMAGEGATE_API_KEYS (ids `env:...`) have no row to keep
 * one in, so they (and a task without a key, should there be one) share the gateway-wide secret,
 * kept in the settings table and shown to the operator by the admin API and the CLI.
 *
 * Secrets are sealed at rest with the SecretBox, like upstream keys: the gateway must use them,
 * so they cannot be hashed, and a copied database must not let anyone forge callbacks. Without a
 * box (PostgreSQL and no IMAGEGATE_SECRET_KEY) they are stored in clear; the app warns. Secrets
 * stored in clear before sealing was on are read as they are, and sealed on that read.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import { isSealed, type SecretBox } from '../db/secret-box.js';
import { getOrCreateSecretSetting } from '../db/settings.js';

const PREFIX = 'whsec_';
const SECRET_BYTES = 24;
/** The settings row of the gateway-wide secret. */
const GATEWAY_SETTING = 'webhook_signing_secret';

export function newWebhookSecret(): string {
  return PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** True for a key that can hold a secret: a database key, not an env key. */
function isDatabaseKey(keyId: string | null): keyId is string {
  return keyId !== null && !keyId.startsWith('env:');
}

export class WebhookSecrets {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox | null,
  ) {}

  /**
   * The secret that signs the callbacks of this key's tasks, made and stored on first use: the
   * key's own for a database key, the gateway-wide one for an env key or no key. Null for a key
   * id with no row. Two instances asking at once end with the same secret: the write only lands
   * while nothing is stored yet, and both read back what did.
   */
  async secretFor(keyId: string | null): Promise<string | null> {
    if (!isDatabaseKey(keyId)) return this.gatewaySecret();
    const stored = await this.readKey(keyId);
    if (stored === undefined) return null;
    if (stored !== null) return this.openKeySecret(keyId, stored);
    await this.db
      .updateTable('api_keys')
      .set({ webhook_secret: this.seal(newWebhookSecret()) })
      .where('id', '=', keyId)
      .where('webhook_secret', 'is', null)
      .execute();
    const made = await this.readKey(keyId);
    return made ? this.openKeySecret(keyId, made) : null;
  }

  /** Replaces the key's secret and returns the new one (null for env keys or an unknown key). Takes effect on the next attempt. */
  async rotate(keyId: string): Promise<string | null> {
    if (!isDatabaseKey(keyId)) return null;
    const secret = newWebhookSecret();
    const updated = await this.db
      .updateTable('api_keys')
      .set({ webhook_secret: this.seal(secret) })
      .where('id', '=', keyId)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) === 0 ? null : secret;
  }

  /** The gateway-wide secret (env keys' callbacks), made on first use. */
  async gatewaySecret(): Promise<string> {
    return getOrCreateSecretSetting(this.db, this.box, GATEWAY_SETTING, newWebhookSecret);
  }

  /** Replaces the gateway-wide secret and returns the new one. Takes effect on the next attempt. */
  async rotateGatewaySecret(): Promise<string> {
    const secret = newWebhookSecret();
    const value = this.seal(secret);
    await this.db
      .insertInto('settings')
      .values({ key: GATEWAY_SETTING, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
    return secret;
  }

  /** undefined: no such key; null: no secret yet. */
  private async readKey(keyId: string): Promise<string | null | undefined> {
    const row = await this.db.selectFrom('api_keys').select('webhook_secret').where('id', '=', keyId).executeTakeFirst();
    return row ? row.webhook_secret : undefined;
  }

  /** Opens a stored key secret; one still in clear is sealed now (unless a rotation replaced it meanwhile). */
  private async openKeySecret(keyId: string, stored: string): Promise<string> {
    const secret = this.open(stored);
    if (this.box && !isSealed(stored)) {
      await this.db
        .updateTable('api_keys')
        .set({ webhook_secret: this.box.seal(secret) })
        .where('id', '=', keyId)
        .where('webhook_secret', '=', stored)
        .execute();
    }
    return secret;
  }

  private seal(secret: string): string {
    return this.box ? this.box.seal(secret) : secret;
  }

  private open(stored: string): string {
    if (this.box) return this.box.open(stored);
    if (isSealed(stored)) throw new Error('webhook secrets are sealed in the database: set IMAGEGATE_SECRET_KEY to the key they were sealed with');
    return stored;
  }
}
