/**
 * The gallery: what each stored image was made from (model, operation, prompt, parameters, the
 * task it belongs to) and its pixel size, so the images can be listed, filtered and explained.
 * Rows stored before this have these columns null.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const columns: [string, 'text' | 'integer'][] = [
    ['model', 'text'],
    // generations, edits or variations: the endpoint the image answered.
    ['operation', 'text'],
    ['task_id', 'text'],
    // Kept with the image for its retention (IMAGEGATE_GALLERY_PROMPTS=false: never stored).
    ['prompt', 'text'],
    // JSON: size, quality, output format, background... and the image's index among the request's n.
    ['params', 'text'],
    ['width', 'integer'],
    ['height', 'integer'],
  ];
  for (const [name, type] of columns) await db.schema.alterTable('images').addColumn(name, type).execute();
  // The gallery lists newest first, for everyone or for one key.
  await db.schema.createIndex('images_created_at').on('images').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('images_key_created').on('images').columns(['key_id', 'created_at']).execute();
  await db.schema.createIndex('images_task').on('images').column('task_id').execute();
  await db.schema.createIndex('images_request').on('images').column('request_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of ['images_request', 'images_task', 'images_key_created', 'images_created_at']) await db.schema.dropIndex(index).ifExists().execute();
  for (const name of ['height', 'width', 'params', 'prompt', 'task_id', 'operation', 'model']) await db.schema.alterTable('images').dropColumn(name).execute();
}
