/**
 * Schemas of the API's own description (public, no key): the OpenAPI document generated from
 * every route schema (http/api-docs.ts) and the docs page that renders it, with its assets.
 */
import { Type } from '@sinclair/typebox';
import { errorResponses, NoQuery, writtenAsIs } from './common.js';

const TAGS = ['Public'];

export const OpenApiDocumentSchema = {
  tags: TAGS,
  summary: 'This API as an OpenAPI 3.1 document',
  querystring: NoQuery,
  response: {
    200: Type.Object(
      {
        openapi: Type.String({ description: '3.1.0' }),
        info: Type.Object({ title: Type.String(), version: Type.String() }),
        paths: Type.Record(Type.String(), Type.Unknown()),
      },
      { title: 'OpenApiDocument', description: 'Generated from the route schemas (src/http/schemas/): every route, its parameters, bodies and answers.' },
    ),
    ...errorResponses('openai', 'public'),
  },
};

const html = writtenAsIs(Type.String());

export const DocsPageSchema = {
  tags: TAGS,
  summary: 'The API reference (Swagger UI), served with its assets by the gateway',
  querystring: NoQuery,
  response: {
    200: {
      description: 'An HTML page; its scripts and styles are under /docs/static/ (Content-Security-Policy: only this origin).',
      content: { 'text/html': { schema: html } },
    },
    ...errorResponses('openai', 'public'),
  },
};

const asset = writtenAsIs(Type.String({ format: 'binary' }));

/** The docs page's own files (scripts, styles, icons, its copy of the document): not part of the API, left out of it. */
export const DocsAssetSchema = {
  hide: true,
  querystring: NoQuery,
  response: {
    200: {
      description: 'A file of the docs page.',
      content: {
        'application/javascript': { schema: asset },
        'text/css': { schema: asset },
        'image/png': { schema: asset },
        'application/json': { schema: writtenAsIs(Type.Unknown()) },
      },
    },
    ...errorResponses('openai', 'public', [404]),
  },
};
