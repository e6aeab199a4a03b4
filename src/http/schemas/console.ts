/**
 * Schemas of the web console's routes (public: the page is a file; every call it makes carries a key):
 * `/` and `/console` redirect to `/console/`, which answers the single-page app (http/console.ts).
 */
import { Type } from '@sinclair/typebox';
import { errorResponses, NoQuery, writtenAsIs } from './common.js';

const TAGS = ['Public'];
const html = writtenAsIs(Type.String());

const redirect = {
  302: {
    description: 'To /console/, the web console.',
    headers: { location: Type.String({ description: '/console/' }) },
    content: { 'text/plain': { schema: writtenAsIs(Type.String()) } },
  },
};

export const ConsoleRedirectSchema = {
  tags: TAGS,
  summary: 'Redirects to the web console (/console/)',
  querystring: NoQuery,
  response: { ...redirect, ...errorResponses('openai', 'public') },
};

/** 503 in place of the page when the console has not been built (a page saying how to build it). */
const notBuilt = { description: 'The console has not been built: an HTML page saying how to build it.', content: { 'text/html': { schema: html } } };

export const ConsolePageSchema = {
  tags: TAGS,
  summary: 'The web console: a single-page app for operators (admin key) and key holders (client key)',
  description:
    'An HTML page; its scripts and styles are under /console/assets/ (hashed names, cached for a year), and every path under /console/ ' +
    'that is not a file answers this page (the app routes it). Content-Security-Policy: scripts, styles and calls from this origin only.',
  querystring: Type.Object({}, { additionalProperties: true, description: 'Ignored: the page reads its own location.' }),
  response: {
    200: { description: 'The console page.', content: { 'text/html': { schema: html } } },
    ...errorResponses('openai', 'public'),
    503: notBuilt,
  },
};

const asset = writtenAsIs(Type.String({ format: 'binary' }));

/** The console's own files and its client-side routes: not part of the API, left out of its description. */
export const ConsoleFileSchema = {
  hide: true,
  querystring: Type.Object({}, { additionalProperties: true }),
  response: {
    200: {
      description: 'A file of the console, or the console page for a client-side route.',
      content: { 'application/javascript': { schema: asset }, 'text/css': { schema: asset }, 'text/html': { schema: html } },
    },
    ...errorResponses('openai', 'public', [404]),
    503: notBuilt,
  },
};
