/**
 * The Fastify instance: request ids, timeouts, body parsers, and errors in the caller's dialect
 * from the first byte (bad framing, bad URLs, unrouted paths). Who may call what is decided by
 * the route groups (http/access.ts), not here.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { gatewayError, type ErrorCode } from '../core/errors.js';
import type { MemoryBudget } from '../core/memory-budget.js';
import { dialectOfPath, trackRouteAccess, type RouteEntry } from './access.js';
import { discardUnreadBody, watchAnswerIdle, watchBodyIdle } from './body-flow.js';
import { collectWhenIdle } from './idle-collect.js';
import { envelope, handleError, handleNotFound, notFoundError, toGatewayError } from './errors.js';
import { installJsonParser } from './json-body.js';
import { installRequestLines } from './request-line.js';
import { installRequestMemory } from './request-memory.js';
import { installUploadSpool } from './upload-spool.js';
import { buildSerializer, buildValidator, schemaError } from './schemas/validation.js';
import type { SpoolDir } from '../spool/spool-dir.js';
import type { Spans } from '../core/spans.js';

export interface HttpTimeouts {
  /** The request line and headers must arrive within this. */
  headersMs: number;
  /** The whole request, body included, must arrive within this (the answer may take longer). */
  requestMs: number;
  /** While a body arrives, the longest gap between bytes. */
  bodyIdleMs: number;
  /** While a streamed answer goes out, the longest the client may take none of it. */
  sendIdleMs: number;
}

export interface HttpServerOptions {
  logger: FastifyBaseLogger;
  /** Request lines carry the prompt (IMAGEGATE_LOG_PROMPTS). */
  logPrompts?: boolean;
  bodyLimitBytes: number;
  timeouts: HttpTimeouts;
  /** Peers (addresses or CIDRs) whose X-Forwarded-For is believed; empty: none. */
  trustedProxies: readonly string[];
  /** Bytes in flight: each body is reserved before it is read (http/request-memory.ts). */
  memory: MemoryBudget;
  /** Where multipart uploads are written as they are read (http/upload-spool.ts). */
  spool: SpoolDir;
  /** A server span per request (http/request-line.ts); none by default. */
  spans?: Spans;
}

export interface HttpServer {
  app: FastifyInstance;
  /** Every route with its access class and dialect (complete once the server is ready). */
  routes: () => readonly RouteEntry[];
}

const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const { timeouts } = opts;
  const answers = new WeakMap<Socket, ServerResponse>();
  const app = Fastify({
    loggerInstance: opts.logger,
    // Fastify's two lines per request ("incoming request", "request completed") give way to our
    // one (request-line.ts), written when the answer has ended, with what the run did.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Bounds on receiving a request; the wait for a generation after it is not bounded here.
    requestTimeout: timeouts.requestMs,
    http: {
      headersTimeout: timeouts.requestMs > 0 ? Math.min(timeouts.headersMs, timeouts.requestMs) : timeouts.headersMs,
      // Node checks both bounds on this period (30 s by default, which would double a 30 s bound).
      connectionsCheckingInterval: Math.min(5_000, Math.max(250, Math.floor(timeouts.headersMs / 4))),
    },
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    trustProxy: opts.trustedProxies.length > 0 ? [...opts.trustedProxies] : false,
    frameworkErrors: answerFrameworkError,
    // Route schemas (http/schemas/): requests checked by ajv, refused in the dialect's words;
    // responses described only, never used to serialize.
    schemaController: { compilersFactory: { buildValidator, buildSerializer } },
    schemaErrorFormatter: schemaError,
    clientErrorHandler: (err, socket) => answerClientError(opts.logger, err, socket, answers.get(socket)),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : `req_${randomUUID().replaceAll('-', '')}`;
    },
  });
  // JSON and multipart (edits, variations) only: anything else is a clear 415.
  app.removeContentTypeParser('text/plain');
  installJsonParser(app, opts.bodyLimitBytes);
  installRequestMemory(app, opts.memory);
  installUploadSpool(app, opts.spool);
  // Parts are read by the routes that take them (http/image-form.ts), with their own limits.
  void app.register(multipart);
  trackAnswers(app, answers);
  collectWhenIdle(app);
  app.decorateRequest('apiKey', null);
  const routes = trackRouteAccess(app);
  // First: the next hook may answer an unrouted request and stop the rest.
  installRequestLines(app, { logPrompts: opts.logPrompts ?? false, ...(opts.spans ? { spans: opts.spans } : {}) });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // An unrouted path (or a known path with the wrong method) answers before its body is read.
    if (request.is404) return reply.status(404).send(envelope(dialectOfPath(request.url), notFoundError(request)));
    watchBodyIdle(request, reply, timeouts.bodyIdleMs);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    discardUnreadBody(request, reply);
    watchAnswerIdle(reply, payload, timeouts.sendIdleMs);
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
    // Fastify closes the idle keep-alive connections once, when close begins; one whose answer
    // was still going out then turns idle later and would hold close() for the keep-alive timeout
    // (72 s). Close them as they get there; answers in flight still finish.
    const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
    sweep.unref();
    app.server.once('close', () => clearInterval(sweep));
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  app.server.on('checkExpectation', answerExpectation);
  return { app, routes };
}

/** While closing, how often connections that have turned idle are closed. */
const IDLE_SWEEP_MS = 100;

/**
 * An Expect other than 100-continue never reaches Fastify: Node answers it itself, with a bare
 * 417. Answered here instead, in the envelope; the body is not read, so the connection closes.
 */
function answerExpectation(req: IncomingMessage, res: ServerResponse): void {
  const err = gatewayError('expectation_failed', 'Unsupported Expect header: only Expect: 100-continue is understood.', { param: 'Expect' });
  const body = req.method === 'HEAD' ? '' : JSON.stringify(envelope(dialectOfPath(req.url ?? ''), err));
  res.shouldKeepAlive = false;
  res.writeHead(err.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
  req.resume();
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

/** Each connection's answer while it is being sent, for answerClientError. */
function trackAnswers(app: FastifyInstance, answers: WeakMap<Socket, ServerResponse>): void {
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { socket } = req;
    answers.set(socket, res);
    res.once('close', () => {
      if (answers.get(socket) === res) answers.delete(socket);
    });
  });
}

/** Errors Fastify meets before routing (a URL that does not decode, an over-long path parameter). */
function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const known = toGatewayError(err) ?? gatewayError('invalid_request', 'Bad request.');
  void reply.status(known.status).send(envelope(dialectOfPath(request.raw.url ?? ''), known));
}

interface ClientError extends Error {
  code?: string;
  rawPacket?: unknown;
}

interface ClientErrorAnswer {
  code: ErrorCode;
  message: string;
}

const CLIENT_ERRORS: Readonly<Record<string, ClientErrorAnswer>> = {
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', message: 'The request was not received in time.' },
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large', message: 'The request headers are too large.' },
  HPE_URI_TOO_LONG: { code: 'uri_too_long', message: 'The request URL is too long.' },
};

/**
 * Malformed HTTP (bad framing, oversized headers, too slow): answered in the dialect the request
 * line names, then the connection is closed, as Node does.
 */
function answerClientError(log: FastifyBaseLogger, err: ClientError, socket: Socket, answering: ServerResponse | undefined): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // Bytes that do not parse after a request whose answer has started (a body sent without
  // framing, say): writing an error now would cut into that answer. It is finished, then the
  // connection closed, as Node itself does.
  if (answering?.headersSent) {
    log.debug({ code: err.code }, 'client error during an answer');
    if (answering.writableFinished) closeSoon(socket);
    else answering.once('close', () => closeSoon(socket));
    return;
  }
  const known: ClientErrorAnswer = (err.code ? CLIENT_ERRORS[err.code] : undefined) ?? {
    code: 'malformed_request',
    message: 'The request is not valid HTTP/1.1.',
  };
  const refusal = gatewayError(known.code, known.message);
  const packet = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 2048).toString('latin1') : '';
  const [, method, target = ''] = /^([A-Z]+) (\S+)/.exec(packet) ?? [];
  const body = method === 'HEAD' ? '' : JSON.stringify(envelope(dialectOfPath(target), refusal));
  log.debug({ code: err.code }, 'client error');
  if (!socket.writable) return void socket.destroy();
  closeSoon(
    socket,
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function closeSoon(socket: Socket, last?: string): void {
  if (last === undefined) socket.end();
  else socket.end(last);
  // A peer that never reads its answer does not hold the socket.
  setTimeout(() => socket.destroy(), 5_000).unref();
}
