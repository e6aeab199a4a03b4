/**
 * What the admin gallery and a key's own gallery share: the filters read from the query, one
 * image as both show it (fresh signed links, time left before retention), and the thumbnail
 * links the signed-link group serves.
 */
import type { ImageRow } from '../db/schema.js';
import type { ImageFilter, ImageParams } from '../storage/image-records.js';
import type { UrlSigner } from '../storage/url-signer.js';
import { isHeldImageName, storedName } from '../storage/retention-sweeper.js';
import { timeBound } from './admin-list.js';
import type { ImageView } from './schemas/gallery.js';

/** A thumbnail link names its image `<id>.thumb`: a name no stored image has, so it opens nothing else. */
export const THUMBNAIL_SUFFIX = '.thumb';

export interface GalleryLinks {
  /** A stored image's link, as answers hand them out (ImageOutput.signedUrl). */
  image(name: string): string;
  /** A signed link to an image's thumbnail (/thumbnails/<id>.thumb). */
  thumbnail(id: string): string;
}

export function createGalleryLinks(deps: {
  signer: UrlSigner;
  publicUrl: () => string;
  ttlSeconds: number;
  imageLink: (name: string) => string;
}): GalleryLinks {
  return {
    image: deps.imageLink,
    thumbnail: (id) => {
      const name = `${id}${THUMBNAIL_SUFFIX}`;
      const { expires, sig } = deps.signer.sign(name, deps.ttlSeconds);
      return `${deps.publicUrl()}/thumbnails/${name}?expires=${expires}&sig=${sig}`;
    },
  };
}

export interface GalleryQuery {
  model?: string;
  from?: string;
  to?: string;
  task?: string;
  request?: string;
  operation?: NonNullable<ImageFilter['operation']>;
  review?: NonNullable<ImageFilter['review']>;
}

/** The filter a validated query asks for (`from`/`to` read as the other lists read them). */
export function imageFilterOf(query: GalleryQuery): ImageFilter {
  const from = timeBound(query.from, 'from');
  const to = timeBound(query.to, 'to');
  return {
    ...(query.model ? { model: query.model } : {}),
    ...(query.task ? { taskId: query.task } : {}),
    ...(query.request ? { requestId: query.request } : {}),
    ...(query.operation ? { operation: query.operation } : {}),
    ...(query.review ? { review: query.review } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
}

export function renderImage(row: ImageRow, links: GalleryLinks, now: number): ImageView {
  return {
    id: row.id,
    object: 'image',
    // An image the content check held back is never linked (/files refuses its name too).
    url: isHeldImageName(row.id) ? null : links.image(storedName(row.id, row.mime)),
    thumbnail_url: links.thumbnail(row.id),
    mime: row.mime,
    bytes: row.bytes,
    width: row.width,
    height: row.height,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
    expires_in_s: Math.max(0, Math.floor((row.expires_at - now) / 1000)),
    key_id: row.key_id,
    model: row.model,
    request_id: row.request_id,
    task_id: row.task_id,
    operation: row.operation,
    prompt: row.prompt,
    params: row.params ? (JSON.parse(row.params) as ImageParams) : {},
    review: row.review,
    safety_scores: row.safety_scores ? (JSON.parse(row.safety_scores) as Record<string, number>) : null,
  };
}
