/**
 * How providers reach an upstream: real HTTP (undici, pooled keep-alive), failures turned into
 * UpstreamFailure. (The demo channel has no upstream: it draws its images itself, providers/demo/.)
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Channel } from '../core/channel.js';
import { NO_SPANS, type Span, type SpanAttributes, type Spans } from '../core/spans.js';
import { LazyAgent } from '../core/undici-loader.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import { readAhead, type ReadAheadLimits } from './read-ahead.js';
import { StreamedBody } from './upstream-body.js';

/** Text or bytes in memory, or a body streamed from its pieces (input images, maybe spooled). */
export type UpstreamBody = string | Buffer | StreamedBody;

export interface UpstreamRequest {
  /** PUT: a cancel (fal's queue). */
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body?: UpstreamBody;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The channel's connections; without it (image downloads), the shared pool. */
  pool?: ConnectionPool;
}

/** Whose connections a request uses, and how many that owner may open (0: no cap). */
export interface ConnectionPool {
  readonly key: string;
  readonly maxConnections: number;
}

/** A channel's pool: as many connections as its max_concurrent allows, else no cap. */
export function channelPool(channel: Channel): ConnectionPool {
  return { key: channel.id, maxConnections: channel.maxConcurrent };
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** The whole body (joined on first use when it arrived in chunks). */
  readonly body: Buffer;
  /** The body as it arrived, for readers that can work without joining megabytes. */
  readonly chunks?: readonly Buffer[];
}

/** An answer whose body is read as it arrives (server-sent events). */
export interface StreamingResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** Chunks as they arrive; failures surface as UpstreamFailure while iterating. */
  body: AsyncIterable<Buffer>;
}

export interface Transport {
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
  /** Like send, but hands the body over while it is still arriving. */
  open(request: UpstreamRequest): Promise<StreamingResponse>;
}

const BODY_READ_AHEAD_BYTES = 16 * 1024;
const UNDICI_TIMER_SLACK_MS = 1_000;

/** Refuse absurd upstream answers before they exhaust memory. */
const MAX_RESPONSE_BYTES = 512 * 1024 * 1024;

// No `connections`: undici then opens as many as there are requests. A fixed number would be a
// hidden cap, queueing requests inside undici however many the channel was meant to carry.
// pipelining must stay 1: 0 would turn keep-alive off (a new connection per request).
const AGENT_OPTIONS = { keepAliveTimeout: 30_000 } as const;

export class HttpTransport implements Transport {
  private readonly agent = new LazyAgent(AGENT_OPTIONS);
  /** Channels with a max_concurrent get connections of their own, that many at most. */
  private readonly capped = new Map<string, { maxConnections: number; agent: LazyAgent }>();

  /**
   * `spans`: each call is a client span, and carries its trace headers (traceparent) upstream.
   * `readAhead`: answers passed on as they arrive (open) are read off their connection ahead of a
   * slow reader, within these limits (providers/read-ahead.ts says why).
   */
  constructor(
    private readonly spans: Spans = NO_SPANS,
    private readonly readAheadLimits?: ReadAheadLimits,
  ) {}

  /** One client span for the call, its answer read whole inside it. */
  send(req: UpstreamRequest): Promise<UpstreamResponse> {
    return this.spans.run(req.method, 'client', callAttributes(req), (span) => this.sendWithin(req, span));
  }

  private async sendWithin(req: UpstreamRequest, span: Span): Promise<UpstreamResponse> {
    const signal = combineSignals(req.signal, req.timeoutMs);
    try {
      const res = await this.dispatch({ ...req, headers: this.spans.traceHeaders(req.headers) }, signal);
      const chunks = await readChunks(res.body, Number(res.headers['content-length'] ?? 0));
      answered(
        span,
        res.statusCode,
        chunks.reduce((sum, c) => sum + c.length, 0),
      );
      let joined: Buffer | undefined;
      return {
        status: res.statusCode,
        headers: flattenHeaders(res.headers),
        chunks,
        get body() {
          joined ??= chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          return joined;
        },
      };
    } catch (err) {
      throw toFailure(err, req, signal);
    } finally {
      signal.dispose();
    }
  }

  /** The client span ends with the answer's body (read to its end, broken or dropped). */
  async open(req: UpstreamRequest): Promise<StreamingResponse> {
    const span = this.spans.start(req.method, 'client', callAttributes(req));
    const signal = combineSignals(req.signal, req.timeoutMs);
    try {
      const res = await this.dispatch({ ...req, headers: this.spans.traceHeaders(req.headers, span) }, signal);
      const body = this.readAheadLimits ? readAhead(res.body, this.readAheadLimits) : res.body;
      return { status: res.statusCode, headers: flattenHeaders(res.headers), body: guardedBody(body, req, signal, res.statusCode, span) };
    } catch (err) {
      signal.dispose();
      const failure = toFailure(err, req, signal);
      span.fail(failure.kind, failure.message);
      span.end();
      throw failure;
    }
  }

  async close(): Promise<void> {
    const agents = [this.agent, ...[...this.capped.values()].map((c) => c.agent)];
    this.capped.clear();
    await Promise.all(agents.map((a) => a.close()));
  }

  private agentFor(pool: ConnectionPool | undefined): LazyAgent {
    if (!pool) return this.agent;
    const current = this.capped.get(pool.key);
    if (current?.maxConnections === pool.maxConnections) return current.agent;
    // The cap changed (or went): requests under way finish on the old pool, which then closes.
    if (current) {
      this.capped.delete(pool.key);
      current.agent.close().catch(() => {});
    }
    if (pool.maxConnections <= 0) return this.agent;
    const agent = new LazyAgent({ ...AGENT_OPTIONS, connections: pool.maxConnections });
    this.capped.set(pool.key, { maxConnections: pool.maxConnections, agent });
    return agent;
  }

  /**
   * Sent again, at once, when the connection closed before any answer: what a pooled keep-alive
   * connection the upstream has just closed looks like. undici drops idle connections by the
   * upstream's Keep-Alive hint, but on a clock that falls behind while the event loop is busy, so
   * a burst (a thousand requests arriving together) went out on connections closed seconds before,
   * and their failures opened the channel's breaker before the router could retry them. The router
   * would send them again anyway (a connection failure is retryable); here that costs no wait.
   */
  private async dispatch(req: UpstreamRequest, signal: CombinedSignal): Promise<Dispatcher.ResponseData> {
    const agent = await this.agentFor(req.pool).get();
    for (let resent = 0; ; resent++) {
      // Read afresh each time (wireBody): a streamed body is replayed from its start.
      const { headers, body } = wireBody(req);
      try {
        return await agent.request({
          origin: new URL(req.url).origin,
          path: pathOf(req.url),
          method: req.method,
          headers,
          body,
          signal: signal.signal,
          // The deadline is ours (combineSignals, a precise timer). undici's own timers tick twice a
          // second and can fire up to a tick early: given a second of slack, they never beat ours.
          headersTimeout: req.timeoutMs + UNDICI_TIMER_SLACK_MS,
          bodyTimeout: req.timeoutMs + UNDICI_TIMER_SLACK_MS,
          // Read ahead of the reader no more than this: an answer passed through to a slow client
          // waits in the upstream's socket, not in our memory.
          highWaterMark: BODY_READ_AHEAD_BYTES,
        });
      } catch (err) {
        if (resent >= CLOSED_CONNECTION_RESENDS || !closedBeforeAnswer(err) || signal.signal.aborted) throw err;
      }
    }
  }
}

/** A streamed body goes with its length (many relays refuse chunked uploads), read afresh for this attempt. */
function wireBody(req: UpstreamRequest): { headers: Record<string, string>; body: string | Buffer | Readable | null } {
  const { body } = req;
  if (!(body instanceof StreamedBody)) return { headers: req.headers, body: body ?? null };
  return { headers: { ...req.headers, 'content-length': String(body.length) }, body: Readable.from(body.pieces(), { objectMode: false }) };
}

/** The body's chunks, with errors as UpstreamFailure and the deadline released (and the call's span ended) once it ends. */
async function* guardedBody(body: AsyncIterable<Buffer>, req: UpstreamRequest, signal: CombinedSignal, status: number, span: Span): AsyncGenerator<Buffer> {
  let bytes = 0;
  const chunks = body[Symbol.asyncIterator]();
  let ended = false;
  try {
    // Not `for await`: its variable would keep the last chunk alive while the next is awaited
    // (core/each-once.ts says why that matters).
    for (;;) {
      let next: IteratorResult<Buffer> | undefined = await chunks.next();
      if (next.done) break;
      bytes += next.value.length;
      yield next.value;
      next = undefined;
    }
    ended = true;
  } catch (err) {
    ended = true;
    const failure = toFailure(err, req, signal);
    span.fail(failure.kind, failure.message);
    throw failure;
  } finally {
    // Left early (the reader stopped): the body is let go, as `for await` would.
    if (!ended) await chunks.return?.();
    signal.dispose();
    answered(span, status, bytes);
    span.end();
  }
}

/** What a client span says of its call: the upstream's host and path (never the query: some carry keys). */
function callAttributes(req: UpstreamRequest): SpanAttributes {
  const url = new URL(req.url);
  return {
    'http.request.method': req.method,
    'server.address': url.hostname,
    'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    'url.scheme': url.protocol.slice(0, -1),
    'url.path': url.pathname,
    ...(req.pool ? { 'imagegate.channel.id': req.pool.key } : {}),
  };
}

/** The answer's status and body size; an error status marks the call failed (the provider decides what it means). */
function answered(span: Span, status: number, bytes: number): void {
  span.set({ 'http.response.status_code': status, 'http.response.body.size': bytes });
  if (status >= 400) span.fail(`http_${status}`, `upstream answered ${status}`);
}

function pathOf(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

async function readChunks(body: AsyncIterable<Buffer>, declared: number): Promise<Buffer[]> {
  if (declared > MAX_RESPONSE_BYTES) throw new UpstreamFailure('protocol', `upstream answer too large (${declared} bytes)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) throw new UpstreamFailure('protocol', 'upstream answer too large');
    chunks.push(chunk);
  }
  return chunks;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

interface CombinedSignal {
  signal: AbortSignal;
  timedOut(): boolean;
  callerAborted(): boolean;
  dispose(): void;
}

/** One signal for "caller gave up" or "deadline passed", remembering which. */
export function combineSignals(caller: AbortSignal | undefined, timeoutMs: number): CombinedSignal {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, timeoutMs);
  const onAbort = () => controller.abort(caller?.reason);
  if (caller?.aborted) onAbort();
  else caller?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    callerAborted: () => caller?.aborted === true,
    dispose: () => {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onAbort);
    },
  };
}

/** undici's timeout errors, by their codes (their classes would need undici loaded to compare with). */
const UNDICI_TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** A request is sent again once on another connection after its own closed before any answer (the router retries the rest). */
const CLOSED_CONNECTION_RESENDS = 1;

/** The connection closed or was reset under a request that had no answer yet (undici rejects only before the headers). */
function closedBeforeAnswer(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

function toFailure(err: unknown, req: UpstreamRequest, signal: CombinedSignal): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  if (signal.callerAborted()) return new UpstreamFailure('aborted', 'the client closed the request');
  const code = (err as { code?: unknown }).code;
  if (signal.timedOut() || (typeof code === 'string' && UNDICI_TIMEOUT_CODES.has(code))) {
    return new UpstreamFailure('timeout', `no answer within ${Math.round(req.timeoutMs / 1000)}s`);
  }
  const what = typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
  return new UpstreamFailure('connection', `connection to upstream failed (${what})`);
}
