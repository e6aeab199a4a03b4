import type { Db } from './database.js';
import { isSealed, type SecretBox } from './secret-box.js';

/** Reads a setting, creating it first if absent; safe when several instances start at once. */
export async function getOrCreateSetting(db: Db, key: string, make: () => string): Promise<string> {
  await db
    .insertInto('settings')
    .values({ key, value: make() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}

/**
 * A secret setting (a signing secret the gateway must use, so it cannot be hashed), sealed at
 * rest when there is a box; one stored in clear before sealing was on is sealed on this read.
 */
export async function getOrCreateSecretSetting(db: Db, box: SecretBox | null, key: string, make: () => string): Promise<string> {
  const stored = await getOrCreateSetting(db, key, () => (box ? box.seal(make()) : make()));
  if (!box) {
    if (isSealed(stored)) throw new Error(`the setting '${key}' is sealed in the database: set IMAGEGATE_SECRET_KEY to the key it was sealed with`);
    return stored;
  }
  const secret = box.open(stored);
  if (!isSealed(stored))
    await db
      .updateTable('settings')
      .set({ value: box.seal(secret) })
      .where('key', '=', key)
      .where('value', '=', stored)
      .execute();
  return secret;
}
