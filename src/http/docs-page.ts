/**
 * The docs page (Swagger UI) and its files, loaded at the first request under /docs: Swagger UI's
 * plugin runs in a Fastify instance of its own, built then, and each request under /docs is
 * answered by it. The page, its files and their headers (the CSP, caching, ranges) are the
 * plugin's own; its refusals are the gateway's, in the caller's envelope (a 404 like an unrouted path's, a 416 like the console's).
 */
import fastifySwaggerUi, { type FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import { uncataloguedClientError } from '../core/errors.js';
import Fastify, { type FastifyInstance, type FastifyPluginCallback, type FastifyReply, type FastifyRequest } from 'fastify';
import { handleRangeNotSatisfiable } from './errors.js';

export interface DocsPage {
  answer(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>;
  close(): Promise<void>;
}

/** Hop-by-hop headers, and what the gateway's reply sets itself. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length', 'host', 'upgrade']);

const forwarded = (headers: Record<string, string | string[] | number | undefined>) =>
  Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !NOT_FORWARDED.has(name.toLowerCase())));

/**
 * Stands for @fastify/swagger, which Swagger UI's plugin requires registered before it: the same
 * app.swagger(), the gateway's own document. Marked as fastify-plugin marks a plugin (its name,
 * and no scope of its own, so the decorator is the instance's).
 */
function theGatewaysDocument(swagger: FastifyInstance['swagger']): FastifyPluginCallback {
  const plugin: FastifyPluginCallback = (instance, _options, done) => {
    instance.decorate('swagger', swagger);
    done();
  };
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('plugin-meta')]: { name: '@fastify/swagger' } });
}

export async function openDocsPage(swagger: FastifyInstance['swagger'], options: Omit<FastifySwaggerUiOptions, 'routePrefix'>): Promise<DocsPage> {
  const ui = Fastify({ logger: false });
  await ui.register(theGatewaysDocument(swagger));
  await ui.register(fastifySwaggerUi, { ...options, routePrefix: '/docs' });
  await ui.ready();
  return {
    async answer(request, reply) {
      // HEAD is asked as GET: the gateway's reply leaves the body out itself.
      const res = await ui.inject({ method: 'GET', url: request.url, headers: forwarded(request.headers) as Record<string, string> });
      if (res.statusCode === 404) {
        // The gateway's 404, with the CSP Swagger UI puts on a missing file of its own.
        const csp = res.headers['content-security-policy'];
        if (csp !== undefined) reply.header('content-security-policy', csp);
        reply.callNotFound();
        return reply;
      }
      if (res.statusCode === 416) {
        handleRangeNotSatisfiable(request, reply, res.headers['content-range']);
        return reply;
      }
      // Any other refusal of the plugin's (Fastify's own shape) in the caller's envelope too.
      if (res.statusCode >= 400) throw uncataloguedClientError(res.statusCode, res.statusMessage || 'Bad request.');
      reply.code(res.statusCode).headers(forwarded(res.headers));
      // No body (a redirect, a 304): none sent, and no type given to it.
      return res.rawPayload.length > 0 ? reply.send(res.rawPayload) : reply.send();
    },
    close: () => ui.close(),
  };
}
