/**
 * Content safety: a key's own policy (JSON: mode, thresholds, blocklist; null: the operator's
 * default), and what the image check said of each stored image it scored: the classes' scores
 * (JSON) and its review state (flagged: delivered under a flag-mode policy; refused: held back by a
 * block-mode policy, never linked; approved: a reviewer cleared it). Rows stored before this, and
 * images nothing checked, have them null.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('safety_policy', 'text').execute();
  await db.schema.alterTable('images').addColumn('safety_scores', 'text').execute();
  await db.schema.alterTable('images').addColumn('review', 'text').execute();
  // The review list: flagged and refused images, newest first.
  await db.schema.createIndex('images_review').on('images').columns(['review', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('images_review').ifExists().execute();
  await db.schema.alterTable('images').dropColumn('review').execute();
  await db.schema.alterTable('images').dropColumn('safety_scores').execute();
  await db.schema.alterTable('api_keys').dropColumn('safety_policy').execute();
}
