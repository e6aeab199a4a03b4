/** GET /files/:name?expires=&sig=: stored images behind signed, expiring links. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { gatewayError } from '../core/errors.js';
import { isHeldImageName } from '../storage/retention-sweeper.js';
import type { ImageStore, StoredImage } from '../storage/image-store.js';
import { ReadBuffers } from '../storage/read-buffers.js';
import type { UrlSigner } from '../storage/url-signer.js';
import { whenAnswerCloses } from './answer-closed.js';
import { FileSchema } from './schemas/public.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', svg: 'image/svg+xml' };

/**
 * Sent with every stored image. An SVG is a document that can carry scripts and load resources:
 * opened from a link it runs none (no script source is allowed) and loads nothing, only its own
 * inline styles apply; nosniff keeps a browser from reading any image as something else.
 */
export const SAFE_IMAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
};

type FileRequest = FastifyRequest<{ Params: { name?: string }; Querystring: { expires?: unknown; sig?: unknown } }>;

/** The signed-link access check: runs before the handler, for every route of the group. */
export function createSignedLinkCheck(signer: UrlSigner) {
  return async (request: FastifyRequest): Promise<void> => {
    const { params, query } = request as FileRequest;
    // A repeated parameter arrives as an array: not a link we made.
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const check = signer.check(params.name ?? '', text(query.expires), text(query.sig));
    if (check === 'tampered') {
      throw gatewayError('invalid_signature', 'This image link is not valid.');
    }
    if (check === 'expired') {
      throw gatewayError('url_expired', 'This image link has expired.');
    }
  };
}

/** Register inside a signed-link group (createSignedLinkCheck). */
export function registerFileRoutes(scope: FastifyInstance, store: ImageStore, now: () => number = Date.now): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const buffers = new ReadBuffers();
  const read = (name: string): Promise<StoredImage | null> => (store.read ? store.read(name, buffers) : store.open(name));
  // The link's signature was checked on onRequest (createSignedLinkCheck), before this schema.
  app.get('/files/:name', { schema: FileSchema }, async (request, reply) => {
    const { name } = request.params;
    // An image the content check held back is never served by link, whatever the signature says.
    const file = isHeldImageName(name) ? null : await read(name);
    if (!file) throw gatewayError('image_not_found', 'This image is no longer stored.');
    // A lent buffer goes back once the answer is over: sent whole, or its connection gone (Node
    // has let go of the bytes by then either way); at once if the client left while it was read.
    if ('release' in file) whenAnswerCloses(reply.raw, file.release);
    const ext = name.slice(name.lastIndexOf('.') + 1);
    const maxAge = Math.max(0, request.query.expires - Math.floor(now() / 1000));
    return reply
      .type(CONTENT_TYPES[ext] ?? 'application/octet-stream')
      .header('content-length', file.size)
      .header('cache-control', `private, max-age=${maxAge}`)
      .headers(SAFE_IMAGE_HEADERS)
      .send('release' in file ? file.bytes : file.stream);
  });
}
