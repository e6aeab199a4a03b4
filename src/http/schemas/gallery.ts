/**
 * The gallery's schemas: stored images for the operator (/admin/api/images) and for a client key
 * (/v1/account/images, that key's only), and thumbnails behind signed links (/thumbnails/{name}).
 * Errors are OpenAI's envelope.
 */
import { Type, type Static } from '@sinclair/typebox';
import { KEY_FILTER, MODEL_FILTER, MORE_AFTER, rowListQuery, stringEnum, TIME_RANGE_QUERY } from '../admin-list.js';
import { errorResponses, IdParams, NoBody, NoQuery, nullable, Timestamp, writtenAsIs } from './common.js';

export const IMAGE_OPERATIONS = ['generations', 'edits', 'variations'] as const;
export const IMAGE_REVIEWS = ['flagged', 'refused', 'approved'] as const;

const ImageParamsView = Type.Object(
  {
    size: Type.Optional(Type.String({ description: 'As asked (auto or WIDTHxHEIGHT).' })),
    quality: Type.Optional(Type.String()),
    output_format: Type.Optional(Type.String()),
    output_compression: Type.Optional(Type.Number()),
    background: Type.Optional(Type.Unknown({ description: "transparent, opaque or auto (or a relay gateway's object)." })),
    style: Type.Optional(Type.Unknown()),
    moderation: Type.Optional(Type.String()),
    response_format: Type.Optional(Type.String({ description: 'url or b64_json: how the client took the answer.' })),
    n: Type.Optional(Type.Integer({ description: 'Images the request asked for.' })),
    index: Type.Optional(Type.Integer({ description: "This image's place among them, from 0." })),
  },
  { description: 'The parameters behind the image; empty for images stored before the gallery kept them.' },
);

const ImageView = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('image'),
    url: nullable(
      Type.String({
        description:
          'A fresh signed link to the image, as the gateway hands them out (IMAGEGATE_URL_TTL); null for an image the content check refused (never linked).',
      }),
    ),
    thumbnail_url: Type.String({
      description: 'A signed, expiring link to a thumbnail (WebP, at most 256 px on its longest side; an SVG is its own), usable in an <img> without a key.',
    }),
    mime: Type.String({ description: 'image/png, image/jpeg, image/webp, image/gif or image/svg+xml.' }),
    bytes: Type.Integer(),
    width: nullable(Type.Integer({ description: 'Pixels, when the image says (null otherwise).' })),
    height: nullable(Type.Integer()),
    created_at: Timestamp,
    expires_at: Timestamp,
    expires_in_s: Type.Integer({ description: 'Seconds left before retention (IMAGEGATE_RETENTION) deletes the image.' }),
    key_id: nullable(Type.String({ description: 'The client key that asked for it.' })),
    model: nullable(Type.String()),
    request_id: Type.String({ description: 'The request (x-request-id) that made it; a task run is `<task id>` or `<task id>.<attempt>`.' }),
    task_id: nullable(Type.String({ description: 'The async task it is a result of.' })),
    operation: nullable(stringEnum(IMAGE_OPERATIONS, { description: 'The endpoint it answered.' })),
    prompt: nullable(Type.String({ description: 'The prompt behind it; null when not kept (IMAGEGATE_GALLERY_PROMPTS=false) or a variation.' })),
    params: ImageParamsView,
    review: nullable(
      stringEnum(IMAGE_REVIEWS, {
        description:
          'Content review: flagged (delivered under a flag-mode policy), refused (held back, never linked), approved (a reviewer cleared it); null: not flagged.',
      }),
    ),
    safety_scores: nullable(
      Type.Record(Type.String(), Type.Number(), {
        description: "The content check's scores per class (drawing, hentai, neutral, porn, sexy); null: not checked.",
      }),
    ),
  },
  { title: 'GalleryImage' },
);
export type ImageView = Static<typeof ImageView>;

/** The gallery's filters besides the key (a client key sees only its own images). */
const IMAGE_FILTERS = {
  ...MODEL_FILTER,
  ...TIME_RANGE_QUERY,
  task: Type.Optional(Type.String({ description: 'Only images of this task (its id).' })),
  request: Type.Optional(Type.String({ description: 'Only images of this request (its id, x-request-id).' })),
  operation: Type.Optional(stringEnum(IMAGE_OPERATIONS, { description: 'Only images of this endpoint.' })),
};

const ImageList = Type.Object({ object: Type.Literal('list'), data: Type.Array(ImageView, { description: 'Newest first.' }), ...MORE_AFTER });
const ImageDeleted = Type.Object({ id: Type.String(), object: Type.Literal('image'), deleted: Type.Literal(true) }, { title: 'GalleryImageDeleted' });

const adminErrors = (...statuses: (404 | 409)[]) => errorResponses('openai', 'admin', statuses);
const clientErrors = (...statuses: 404[]) => errorResponses('openai', 'client', statuses);

export const AdminImageSchemas = {
  list: {
    querystring: rowListQuery({
      ...KEY_FILTER,
      ...IMAGE_FILTERS,
      review: Type.Optional(
        stringEnum([...IMAGE_REVIEWS, 'any'] as const, {
          description: 'Content review: images in that state; any: every image the content check flagged or refused.',
        }),
      ),
    }),
    response: { 200: ImageList, ...adminErrors() },
  },
  get: { params: IdParams, querystring: NoQuery, response: { 200: ImageView, ...adminErrors(404) } },
  approve: { params: IdParams, querystring: NoQuery, body: NoBody, response: { 200: ImageView, ...adminErrors(404, 409) } },
  delete: { params: IdParams, querystring: NoQuery, response: { 200: ImageDeleted, ...adminErrors(404) } },
};

export const AccountImageSchemas = {
  list: { querystring: rowListQuery(IMAGE_FILTERS), response: { 200: ImageList, ...clientErrors() } },
  get: { params: IdParams, querystring: NoQuery, response: { 200: ImageView, ...clientErrors(404) } },
  delete: { params: IdParams, querystring: NoQuery, response: { 200: ImageDeleted, ...clientErrors(404) } },
};

const thumbnailBytes = writtenAsIs(Type.String({ format: 'binary' }));

export const ThumbnailSchema = {
  params: Type.Object({ name: Type.String({ description: 'The image id and `.thumb`, as the link names it.' }) }),
  querystring: Type.Object({
    expires: Type.Integer({ description: 'Unix seconds the link is good until (signed).' }),
    sig: Type.String({ description: 'The link signature.' }),
  }),
  response: {
    200: {
      description:
        "The thumbnail (Cache-Control: private, for as long as the link is good), with the image links' Content-Security-Policy and X-Content-Type-Options: nosniff.",
      content: { 'image/webp': { schema: thumbnailBytes }, 'image/svg+xml': { schema: thumbnailBytes } },
    },
    ...errorResponses('openai', 'signed-link', [404]),
  },
};
