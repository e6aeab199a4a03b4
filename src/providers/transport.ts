/**
 * How providers reach an upstream: real HTTP (undici, pooled keep-alive) or in-process (the demo
 * channel calling a simulator directly). Both turn failures into UpstreamFailure.
 */
import { Agent, errors as undiciErrors } from 'undici';
import { UpstreamFailure } from '../core/upstream-failure.js';

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
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

/** Refuse absurd upstream answers before they exhaust memory. */
const MAX_RESPONSE_BYTES = 512 * 1024 * 1024;

export class HttpTransport implements Transport {
  // pipelining must stay 1: 0 would turn keep-alive off (a new connection per request).
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const signal = combineSignals(req.signal, req.timeoutMs);
    try {
      const res = await this.dispatch(req, signal);
      const chunks = await readChunks(res.body, Number(res.headers['content-length'] ?? 0));
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

  async open(req: UpstreamRequest): Promise<StreamingResponse> {
    const signal = combineSignals(req.signal, req.timeoutMs);
    try {
      const res = await this.dispatch(req, signal);
      return { status: res.statusCode, headers: flattenHeaders(res.headers), body: guardedBody(res.body, req, signal) };
    } catch (err) {
      signal.dispose();
      throw toFailure(err, req, signal);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private dispatch(req: UpstreamRequest, signal: CombinedSignal) {
    return this.agent.request({
      origin: new URL(req.url).origin,
      path: pathOf(req.url),
      method: req.method,
      headers: req.headers,
      body: req.body ?? null,
      signal: signal.signal,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
  }
}

/** The body's chunks, with errors as UpstreamFailure and the deadline released once it ends. */
async function* guardedBody(body: AsyncIterable<Buffer>, req: UpstreamRequest, signal: CombinedSignal): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    throw toFailure(err, req, signal);
  } finally {
    signal.dispose();
  }
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

function toFailure(err: unknown, req: UpstreamRequest, signal: CombinedSignal): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  if (signal.callerAborted()) return new UpstreamFailure('aborted', 'the client closed the request');
  if (
    signal.timedOut() ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new UpstreamFailure('timeout', `no answer within ${Math.round(req.timeoutMs / 1000)}s`);
  }
  const code = (err as { code?: unknown }).code;
  const what = typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
  return new UpstreamFailure('connection', `connection to upstream failed (${what})`);
}
