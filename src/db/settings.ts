import type { Db } from './database.js';

/** Reads a setting, creating it first if absent; safe when several instances start at once. */
export async function getOrCreateSetting(db: Db, key: string, make: () => string): Promise<string> {
  await db.insertInto('settings').values({ key, value: make() }).onConflict((oc) => oc.column('key').doNothing()).execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}
