/**
 * A Transport that hands requests to a simulator in this process: the demo channel speaks the
 * real OpenAI wire format without a socket. Hang and truncation behave as they would on a wire.
 */
import { UpstreamFailure } from '../../core/upstream-failure.js';
import type { SimRequest, SimResponse } from '../../simulator/http-server.js';
import { combineSignals, type StreamingResponse, type Transport, type UpstreamBody, type UpstreamRequest, type UpstreamResponse } from '../transport.js';

export interface SimHandler {
  handle(req: SimRequest, signal?: AbortSignal): Promise<SimResponse>;
}

export class InProcessTransport implements Transport {
  constructor(private readonly handler: SimHandler) {}

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const res = await this.open(req);
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk);
    return { status: res.status, headers: res.headers, body: Buffer.concat(chunks), chunks };
  }

  async open(req: UpstreamRequest): Promise<StreamingResponse> {
    const signal = combineSignals(req.signal, req.timeoutMs);
    try {
      const url = new URL(req.url);
      const request: SimRequest = { method: req.method, path: url.pathname + url.search, headers: req.headers, body: await wholeBody(req.body) };
      const res = await raceAbort(this.handler.handle(request, signal.signal), signal.signal);
      if (res.kind === 'hang') return await raceAbort(new Promise<never>(() => {}), signal.signal);
      if (res.kind === 'truncated') throw new UpstreamFailure('connection', 'connection to upstream failed (body cut short)');
      const body = res.kind === 'stream' ? streamed(res.body, res.cutAtEnd === true, req, signal) : once(res.body, signal);
      return { status: res.status, headers: lowerCaseKeys(res.headers), body };
    } catch (err) {
      signal.dispose();
      throw failureOf(err, req, signal);
    }
  }
}

type Signal = ReturnType<typeof combineSignals>;

/** The simulator reads whole bodies: a streamed one (spooled uploads) is read into memory here. */
async function wholeBody(body: UpstreamBody | undefined): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.isBuffer(body) ? body : body.whole();
}

async function* once(body: Buffer, signal: Signal): AsyncGenerator<Buffer> {
  signal.dispose();
  yield body;
}

/** A simulator's stream, stopped (iterator return) when the caller gives up or the deadline passes. */
async function* streamed(body: AsyncIterable<Buffer>, cutAtEnd: boolean, req: UpstreamRequest, signal: Signal): AsyncGenerator<Buffer> {
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await raceAbort(iterator.next(), signal.signal);
      if (next.done) break;
      yield next.value;
    }
    if (cutAtEnd) throw new UpstreamFailure('connection', 'connection to upstream failed (stream cut short)');
  } catch (err) {
    throw failureOf(err, req, signal);
  } finally {
    signal.dispose();
    void iterator.return?.();
  }
}

function failureOf(err: unknown, req: UpstreamRequest, signal: Signal): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  if (signal.callerAborted()) return new UpstreamFailure('aborted', 'the client closed the request');
  if (signal.timedOut()) return new UpstreamFailure('timeout', `no answer within ${Math.round(req.timeoutMs / 1000)}s`);
  return new UpstreamFailure('connection', `in-process upstream failed: ${(err as Error).message}`);
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
