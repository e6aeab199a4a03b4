/**
 * A Transport that hands requests to a simulator in this process: the demo channel speaks the
 * real OpenAI wire format without a socket. Hang and truncation behave as they would on a wire.
 */
import { UpstreamFailure } from '../../core/upstream-failure.js';
import type { SimRequest, SimResponse } from '../../simulator/http-server.js';
import { combineSignals, type Transport, type UpstreamRequest, type UpstreamResponse } from '../transport.js';

export interface SimHandler {
  handle(req: SimRequest): Promise<SimResponse>;
}

export class InProcessTransport implements Transport {
  constructor(private readonly handler: SimHandler) {}

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const signal = combineSignals(req.signal, req.timeoutMs);
    try {
      const url = new URL(req.url);
      const answer = this.handler.handle({
        method: req.method,
        path: url.pathname + url.search,
        headers: req.headers,
        body: typeof req.body === 'string' ? Buffer.from(req.body) : (req.body ?? Buffer.alloc(0)),
      });
      const res = await raceAbort(answer, signal.signal);
      if (res.kind === 'hang') return await raceAbort(new Promise<never>(() => {}), signal.signal);
      if (res.kind === 'truncated') throw new UpstreamFailure('connection', 'connection to upstream failed (body cut short)');
      return { status: res.status, headers: lowerCaseKeys(res.headers), body: res.body };
    } catch (err) {
      if (err instanceof UpstreamFailure) throw err;
      if (signal.callerAborted()) throw new UpstreamFailure('aborted', 'the client closed the request');
      if (signal.timedOut()) throw new UpstreamFailure('timeout', `no answer within ${Math.round(req.timeoutMs / 1000)}s`);
      throw new UpstreamFailure('connection', `in-process upstream failed: ${(err as Error).message}`);
    } finally {
      signal.dispose();
    }
  }
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
