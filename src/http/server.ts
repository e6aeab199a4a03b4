/** The Fastify instance: request ids, auth for /v1, error envelopes, and the dialects' routes. */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../billing/api-keys.js';
import { createAdminAuthHook } from './admin-auth.js';
import { createAuthHook } from './auth.js';
import { handleError, handleNotFound } from './errors.js';

export interface HttpServerOptions {
  logger: FastifyBaseLogger;
  bodyLimitBytes: number;
  keys: ApiKeyService;
  adminKey: string | undefined;
}

const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    // One log line per request would cost more than it tells; the request log table has them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Image generations take minutes; the default timeouts would cut them off.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : `req_${randomUUID().replaceAll('-', '')}`;
    },
  });
  // JSON and multipart (edits, variations) only: anything else is a clear 415.
  app.removeContentTypeParser('text/plain');
  // Parts are read by the routes that take them (http/image-form.ts), with their own limits.
  void app.register(multipart);
  app.decorateRequest('apiKey', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const authenticate = createAuthHook(opts.keys);
  const authenticateAdmin = createAdminAuthHook(opts.adminKey);
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/v1/') || request.url.startsWith('/api/v1/')) await authenticate(request);
    else if (request.url.startsWith('/admin/')) await authenticateAdmin(request);
  });
  // On shutdown, answers still in flight close their connection, so close() need not wait
  // for clients' idle keep-alive sockets.
  let closing = false;
  const silentSockets = trackSilentSockets(app);
  app.addHook('preClose', async () => {
    closing = true;
    // Clients (undici among them) open spare connections that never carry a request; Node counts
    // them neither idle nor busy, and server.close() would wait for them forever.
    for (const socket of silentSockets) if (socket.bytesRead === 0) socket.destroy();
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  return app;
}

/** Open connections, for shutdown to find the ones that never sent a byte. */
function trackSilentSockets(app: FastifyInstance): Set<Socket> {
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}
