/**
 * The web console (web/, built by Vite into dist/console/) served at /console/, and `/` sent there.
 * Files under /console/assets/ have hashed names: cached for a year. Every other path under /console/
 * that is not a file answers index.html, never cached, so the app's own routes survive a reload.
 * When the console has not been built, /console/ answers a page saying how to build it (503, never a 500).
 *
 * The file sending (@fastify/send, the engine of @fastify/static) is imported on the first console
 * request, not at start-up: a gateway that nobody opens the console on pays nothing for it.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { S3Config } from '../config.js';
import { handleNotFound, handleRangeNotSatisfiable } from './errors.js';
import { ConsoleFileSchema, ConsolePageSchema, ConsoleRedirectSchema } from './schemas/console.js';

/** Two levels below the package root, in src/http/ as in dist/http/. */
export const CONSOLE_BUILD_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export interface ConsoleOptions {
  /** Where the built console is (dist/console/). */
  root: string;
  /** Origins besides this one that image links may point at (a bucket's public or presigned links, IMAGEGATE_PUBLIC_URL). */
  imageOrigins: readonly string[];
}

/** Scripts, styles and calls from this origin only; images also from the image store's origins and the page's own blobs. */
export function consoleCsp(imageOrigins: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    ['img-src', "'self'", 'data:', 'blob:', ...imageOrigins].join(' '),
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * Where the page's <img> links may point besides this origin: IMAGEGATE_PUBLIC_URL's origin (links are signed
 * with it), and a bucket's when its links are direct (public base URL, or presigned links to the endpoint or AWS).
 */
export function imageOriginsOf(publicUrl: string | undefined, s3: S3Config | undefined): string[] {
  const origins = new Set<string>();
  if (publicUrl) origins.add(new URL(publicUrl).origin);
  if (s3?.links === 'public' && s3.publicBaseUrl) origins.add(new URL(s3.publicBaseUrl).origin);
  if (s3?.links === 'presigned') {
    if (!s3.endpoint) origins.add('https://*.amazonaws.com');
    else {
      const endpoint = new URL(s3.endpoint);
      origins.add(s3.forcePathStyle ? endpoint.origin : `${endpoint.protocol}//${s3.bucket}.${endpoint.host}`);
    }
  }
  return [...origins];
}

const YEAR_SECONDS = 365 * 24 * 60 * 60;

type Send = typeof import('@fastify/send').default;
let loadedSend: Promise<Send> | undefined;
function loadSend(): Promise<Send> {
  loadedSend ??= import('@fastify/send').then((module) => module.default);
  return loadedSend;
}

/** GET /, /console, /console/ and /console/*; in a `public` group. */
export function registerConsoleRoutes(scope: FastifyInstance, options: ConsoleOptions): void {
  const csp = consoleCsp(options.imageOrigins);
  const secure = (reply: FastifyReply) =>
    reply.header('content-security-policy', csp).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
  const toConsole = async (_request: FastifyRequest, reply: FastifyReply) => reply.redirect('/console/', 302);
  scope.get('/', { schema: ConsoleRedirectSchema }, toConsole);
  scope.get('/console', { schema: ConsoleRedirectSchema }, toConsole);

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    secure(reply);
    if (!(await isBuilt(options.root))) return notBuilt(reply);
    return sendFile(request, reply, options.root, 'index.html', 'no-cache');
  };
  scope.get('/console/', { schema: ConsolePageSchema }, page);
  scope.get<{ Params: { '*': string } }>('/console/*', { schema: ConsoleFileSchema }, async (request, reply) => {
    const path = request.params['*'];
    if (path.startsWith('assets/')) {
      secure(reply);
      return sendFile(request, reply, options.root, path, `public, max-age=${YEAR_SECONDS}, immutable`);
    }
    // A path with a file extension is a file that is not there (a mistyped asset); anything else is the app's route.
    if (/\.[a-z0-9]+$/i.test(path)) return handleNotFound(request, reply);
    return page(request, reply);
  });
}

async function isBuilt(root: string): Promise<boolean> {
  const index = await stat(`${root}/index.html`).catch(() => undefined);
  return index?.isFile() ?? false;
}

async function sendFile(request: FastifyRequest, reply: FastifyReply, root: string, path: string, cacheControl: string) {
  const send = await loadSend();
  const sent = await send(request.raw, encodeURI(path), { root, dotfiles: 'deny', index: false, cacheControl: false, etag: true, lastModified: true });
  if (sent.type !== 'file') {
    // A path out of the folder (403), a dotfile, a directory or a missing file: nothing to serve there.
    if (sent.type === 'directory' || sent.statusCode !== 416) return handleNotFound(request, reply);
    // A range past the file's end: send's Content-Range (the file's length), in the caller's envelope.
    sent.stream.destroy();
    return handleRangeNotSatisfiable(request, reply, sent.headers['Content-Range']);
  }
  return reply.status(sent.statusCode).headers(sent.headers).header('cache-control', cacheControl).send(sent.stream);
}

function notBuilt(reply: FastifyReply) {
  return reply
    .status(503)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(
      [
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>imagegate console: not built</title></head><body>',
        '<h1>The console has not been built</h1>',
        '<p>This gateway serves its web console from <code>dist/console/</code>, which is missing. Build it from the checkout with',
        '<code>npm run build:console</code> (or restart with <code>npm start</code>, which builds it when it is missing or stale), then reload.</p>',
        '<p>The API itself works without it: see <a href="/docs">/docs</a>.</p>',
        '</body></html>',
      ].join('\n'),
    );
}
