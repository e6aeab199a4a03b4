/**
 * GET /thumbnails/:name?expires=&sig=: a stored image's thumbnail behind a signed, expiring link
 * (the gallery's thumbnail_url), so a page can show it in an <img>, which sends no key. Register
 * inside a signed-link group: the signature was checked before the handler runs.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { gatewayError } from '../core/errors.js';
import type { ImageGallery } from '../storage/image-gallery.js';
import type { ThumbnailCache } from '../storage/thumbnails.js';
import { SAFE_IMAGE_HEADERS } from './files.js';
import { THUMBNAIL_SUFFIX } from './gallery-view.js';
import { ThumbnailSchema } from './schemas/gallery.js';

export function registerThumbnailRoute(scope: FastifyInstance, deps: { gallery: ImageGallery; thumbnails: ThumbnailCache }): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/thumbnails/:name', { schema: ThumbnailSchema }, async (request, reply) => {
    const { name } = request.params;
    const gone = () => gatewayError('image_not_found', 'This image is no longer stored.');
    if (!name.endsWith(THUMBNAIL_SUFFIX)) throw gone();
    // Deleted or past retention: its thumbnail goes with it, even while a cached copy remains.
    const image = await deps.gallery.get(name.slice(0, -THUMBNAIL_SUFFIX.length));
    const thumbnail = image ? await deps.thumbnails.open(image) : null;
    if (!thumbnail) throw gone();
    const maxAge = Math.max(0, request.query.expires - Math.floor(deps.gallery.now() / 1000));
    return reply
      .type(thumbnail.mime)
      .header('content-length', thumbnail.size)
      .header('cache-control', `private, max-age=${maxAge}`)
      .headers(SAFE_IMAGE_HEADERS)
      .send(thumbnail.stream);
  });
}
