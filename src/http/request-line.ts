/**
 * One log line per request, written when its answer has ended: sent whole, cut off, or its client
 * gone (a passed-through b64 answer or an SSE stream included, so the bytes sent are known).
 * Fastify's own per-request lines are off (server.ts); this is the one line instead.
 *
 * What a run did comes from the pipeline, told as it writes the request_log row (RunObserver):
 * the attempts the router made and the run's outcome, never computed twice. A line whose answer
 * ended before its run did (the client left mid-answer: the run is refunded after the socket
 * closed) waits for the run's outcome, at most RUN_WAIT_MS.
 *
 * The line never holds a key (its visible prefix only), a query string (signed links carry their
 * signature there: the route is the pattern, `/files/:name`) or a prompt (unless
 * IMAGEGATE_LOG_PROMPTS=true).
 *
 * With tracing on, the request's server span carries the same facts, set when the line is written
 * and ended with it; the run's spans (attempts, upstream calls, stores) are its children.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayError } from '../core/errors.js';
import type { ImageJob } from '../core/job.js';
import { NO_SPANS, type Span, type Spans } from '../core/spans.js';
import type { RunObserver, RunReport } from '../pipeline.js';
import { whenAnswerCloses } from './answer-closed.js';
import { errorOfEnvelope } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the request's log line says beyond what Fastify knows; set on onRequest. */
    logLine: RequestLine | null;
  }
}

export interface RequestLineOptions {
  /** Lines carry the request's prompt (IMAGEGATE_LOG_PROMPTS). */
  logPrompts: boolean;
  /** Longest wait, after the answer ended, for its run to report (default 10 s). */
  runWaitMs?: number;
  /** A server span per request, continuing the caller's trace (src/tracing/); none by default. */
  spans?: Spans;
}

type Attempts = Parameters<RunObserver['begun']>[0];

interface Failure {
  /** null: a library's 4xx the catalogue has no code for (uncataloguedClientError). */
  code: string | null;
  message: string;
}

/** The probes load balancers call every few seconds: a line each at debug while they pass. */
const PROBES: ReadonlySet<string> = new Set(['/livez', '/readyz', '/healthz']);
const RUN_WAIT_MS = 10_000;
const CLIENT_GONE: Failure = { code: 'client_closed_request', message: 'The client closed the request.' };

/** One request's facts as they are learnt: the route notes its job, the pipeline its run, the error handler its error. */
export class RequestLine implements RunObserver {
  readonly started = performance.now();
  model: string | undefined;
  /** Kept only when lines carry it (IMAGEGATE_LOG_PROMPTS). */
  prompt: string | undefined;
  attempts: Attempts | undefined;
  report: RunReport | undefined;
  /** The error the answer's body carries (errors.ts `envelope`). */
  error: GatewayError | undefined;
  private onReport: (() => void) | undefined;

  constructor(
    private readonly keepsPrompt: boolean,
    /** The request's server span (a no-op one when tracing is off). */
    readonly span: Span,
  ) {}

  /** The image job the request asked for: its model (and prompt, when prompts are logged). Not the job itself: its inputs are no business of the line's. */
  noteJob(job: ImageJob): void {
    this.model = job.model.id;
    if (this.keepsPrompt) this.prompt = job.prompt;
  }

  begun(attempts: Attempts): void {
    this.attempts = attempts;
    this.report = undefined;
  }

  ended(report: RunReport): void {
    this.report = report;
    const waiting = this.onReport;
    this.onReport = undefined;
    waiting?.();
  }

  /** A run has begun and not yet reported. */
  get running(): boolean {
    return this.attempts !== undefined && this.report === undefined;
  }

  /** Calls `then` once the run reports, or after `waitMs` whatever it has done by then. */
  afterRun(waitMs: number, then: () => void): void {
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      then();
    };
    const timer = setTimeout(once, waitMs);
    timer.unref();
    this.onReport = once;
  }
}

/** Registers the hooks that make each request's line. Call before any other onRequest hook: one that answers early stops the rest. */
export function installRequestLines(app: FastifyInstance, options: RequestLineOptions): void {
  // Bytes written on each connection as of its last answer's end: an answer's own are the difference.
  const written = new WeakMap<Socket, number>();
  const bytesOut = (socket: Socket): number => {
    const total = Number(socket.bytesWritten);
    if (!Number.isFinite(total)) return 0;
    const before = written.get(socket) ?? 0;
    written.set(socket, total);
    return Math.max(0, total - before);
  };
  app.decorateRequest('logLine', null);
  const spans = options.spans ?? NO_SPANS;
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    // Probes, called every few seconds by load balancers, would bury the traces that matter.
    const span = (route !== undefined && PROBES.has(route) ? NO_SPANS : spans).startIncoming(
      route === undefined ? request.method : `${request.method} ${route}`,
      request.headers,
      {
        'http.request.method': request.method,
        'http.route': route,
        'imagegate.request_id': request.id,
      },
    );
    const line = new RequestLine(options.logPrompts, span);
    request.logLine = line;
    whenAnswerCloses(reply.raw, () => {
      const ended = { finished: reply.raw.writableFinished, latencyMs: Math.round(performance.now() - line.started), bytesOut: bytesOut(request.raw.socket) };
      const write = () => writeLine(request, reply, line, ended);
      if (line.running) line.afterRun(options.runWaitMs ?? RUN_WAIT_MS, write);
      else write();
    });
  });
  app.addHook('preSerialization', async (request, _reply, payload) => {
    const err = errorOfEnvelope(payload);
    if (err && request.logLine) request.logLine.error = err;
    return payload;
  });
}

interface Ended {
  /** The whole answer went out (false: the connection closed first). */
  finished: boolean;
  latencyMs: number;
  bytesOut: number;
}

function writeLine(request: FastifyRequest, reply: FastifyReply, line: RequestLine, ended: Ended): void {
  const { report, attempts, model, prompt } = line;
  const { finished } = ended;
  // An answer that did not finish was cut by us (its run failed mid-answer: the run's status) or
  // left by its client (499, as nginx says).
  const status = finished ? reply.raw.statusCode : report && report.status >= 500 ? report.status : 499;
  const failure: Failure | undefined = finished ? (line.error ?? report?.error) : (report?.error ?? CLIENT_GONE);
  const route = request.routeOptions.url ?? null;
  const fields = {
    method: request.method,
    route,
    status,
    ...(failure ? { code: failure.code, reason: failure.message } : {}),
    latencyMs: ended.latencyMs,
    ...(attempts
      ? {
          upstreamLatencyMs: attempts.reduce((sum, a) => sum + a.latencyMs, 0),
          attempts: attempts.map((a) => ({ channel: a.channel, outcome: a.outcome, latencyMs: a.latencyMs })),
        }
      : {}),
    ...(request.apiKey ? { keyPrefix: request.apiKey.prefix } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(report ? { delivered: report.delivered } : {}),
    bytesOut: ended.bytesOut,
    ...(finished ? {} : { cut: true }),
    ...(prompt !== undefined ? { prompt } : {}),
  };
  endSpan(line.span, fields, failure);
  // Failures of ours at warn, so LOG_LEVEL=warn still shows them; but an outage (the database's,
  // or Redis's when rate limits cannot be checked: 503 service_unavailable) is announced once when
  // it begins and once when it ends (db/connection-watch.ts, redis/redis-link.ts), not again by
  // each request it refuses.
  if (status >= 500 && failure?.code !== 'service_unavailable') request.log.warn(fields, 'request');
  else if (route !== null && PROBES.has(route) && status < 400) request.log.debug(fields, 'request');
  else request.log.info(fields, 'request');
}

/** What the span takes of the line. */
interface LineFields {
  status: number;
  keyPrefix?: string;
  model?: string;
  attempts?: readonly unknown[];
  delivered?: number;
  bytesOut: number;
  cut?: boolean;
  prompt?: string;
}

/** The line's facts on the request's span, which ends with it: failed (status ERROR, error.type the code) when the answer carried an error. */
function endSpan(span: Span, fields: LineFields, failure: Failure | undefined): void {
  span.set({
    'http.response.status_code': fields.status,
    'imagegate.key_prefix': fields.keyPrefix,
    'imagegate.model': fields.model,
    'imagegate.attempts': fields.attempts?.length,
    'imagegate.delivered': fields.delivered,
    'imagegate.bytes_out': fields.bytesOut,
    'imagegate.cut': fields.cut,
    'imagegate.prompt': fields.prompt,
  });
  if (failure) span.fail(failure.code, failure.message);
  span.end();
}
