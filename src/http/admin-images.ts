/** /admin/api/images: every stored image, filtered and paged; one image; deleting one (its link then answers 404). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../billing/api-keys.js';
import { gatewayError } from '../core/errors.js';
import type { ImageGallery } from '../storage/image-gallery.js';
import { pageOf, rowPageAnswer } from './admin-list.js';
import { imageFilterOf, renderImage, type GalleryLinks } from './gallery-view.js';
import { AdminImageSchemas } from './schemas/gallery.js';

export interface AdminImageDeps {
  gallery: ImageGallery;
  links: GalleryLinks;
  keys: ApiKeyService;
}

/** Register in the admin group. */
export function registerAdminImageRoutes(scope: FastifyInstance, { gallery, links, keys }: AdminImageDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const find = async (id: string) => {
    const image = await gallery.get(id);
    if (!image) throw gatewayError('image_not_found', `No stored image '${id}'.`, { param: 'id' });
    return image;
  };

  app.get('/admin/api/images', { schema: AdminImageSchemas.list }, async (request) => {
    const q = request.query;
    // A key by id or by its visible prefix, as the other admin lists take it.
    const keyId = q.key ? ((await keys.get(q.key))?.id ?? q.key) : undefined;
    const filter = { ...imageFilterOf(q), ...(keyId !== undefined ? { keyId } : {}) };
    const page = pageOf(q);
    const { data, ...more } = rowPageAnswer(await gallery.list(filter, { ...page, limit: page.limit + 1 }), page);
    const now = gallery.now();
    return { object: 'list' as const, data: data.map((row) => renderImage(row, links, now)), ...more };
  });

  app.get('/admin/api/images/:id', { schema: AdminImageSchemas.get }, async (request) => renderImage(await find(request.params.id), links, gallery.now()));

  /** Content review: a flagged or refused image cleared by a reviewer (a refused one stays unlinked; delete removes it). */
  app.post('/admin/api/images/:id/approve', { schema: AdminImageSchemas.approve }, async (request) => {
    const image = await find(request.params.id);
    if (!(await gallery.approve(image.id)))
      throw gatewayError('image_not_under_review', `Image '${image.id}' was not flagged by the content check.`, { param: 'id' });
    return renderImage(await find(image.id), links, gallery.now());
  });

  app.delete('/admin/api/images/:id', { schema: AdminImageSchemas.delete }, async (request) => {
    const image = await find(request.params.id);
    await gallery.delete(image);
    return { id: image.id, object: 'image' as const, deleted: true as const };
  });
}
