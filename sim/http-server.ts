// Puts any transport-free simulator (`handle(SimRequest) -> SimResponse`) behind a node:http
// server, with the wire behaviours faults need: hanging, truncated bodies, client aborts, and
// streamed bodies (server-sent events) written as they are produced.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface SimRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export type SimResponse =
  | { kind: 'full'; status: number; headers: Record<string, string>; body: Buffer }
  /** Never answer (until the client gives up). */
  | { kind: 'hang' }
  /** Declare the full Content-Length, send only `sendBytes`, then destroy the socket. */
  | { kind: 'truncated'; status: number; headers: Record<string, string>; body: Buffer; sendBytes: number }
  | SimStreamResponse;

/**
 * A body produced over time (SSE): each chunk is written as soon as it is yielded, with
 * chunked transfer encoding. When the client goes away the server stops reading and calls the
 * iterator's `return()`, so a generator's `finally` runs and no more work is done for nobody.
 */
export interface SimStreamResponse {
  kind: 'stream';
  status: number;
  headers: Record<string, string>;
  body: AsyncIterable<Buffer>;
  /** After the last chunk, destroy the socket instead of ending the response: a connection lost mid-stream. */
  cutAtEnd?: boolean;
}

/** A simulator core: answers requests without knowing about sockets. */
export interface SimHandler {
  handle(req: SimRequest, signal?: AbortSignal): Promise<SimResponse>;
  /** Requests whose client went away before the answer (maintained by the http server). */
  aborted: number;
}

export interface RunningServer<H extends SimHandler> {
  sim: H;
  port: number;
  /** http://127.0.0.1:port */
  origin: string;
  close(): Promise<void>;
}

/** A bigger body is a 413. */
// Edits carry up to 16 images of 50 MB each; the gateway never sends more than that.
const MAX_BODY_BYTES = 1024 * 1024 * 1024;

function jsonBuffer(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function flattenHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(req.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

class BodyTooLarge extends Error {}

/** Reads the request body; rejects on client abort or when it exceeds the limit. */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(buf);
  }
  return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size);
}

/** Writes an answer; resolves once it is fully written (streams) or handed to the socket. */
async function writeResponse(res: ServerResponse, answer: SimResponse, markIntentional: () => void): Promise<void> {
  if (answer.kind === 'hang') return; // wait for the client (or close()) to end it
  if (answer.kind === 'stream') return writeStream(res, answer, markIntentional);
  res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
  if (answer.kind === 'full') {
    res.end(answer.body);
    return;
  }
  markIntentional();
  res.write(answer.body.subarray(0, answer.sendBytes), () => res.destroy());
}

/** Resolves when the response is closed (client gone, socket destroyed, or ended). */
function closedPromise(res: ServerResponse): Promise<'closed'> {
  if (res.destroyed) return Promise.resolve('closed');
  return new Promise((resolve) => res.once('close', () => resolve('closed')));
}

/** Waits for the socket to take more (backpressure) or for the response to close. */
function drained(res: ServerResponse, closed: Promise<'closed'>): Promise<unknown> {
  return Promise.race([new Promise((resolve) => res.once('drain', resolve)), closed]);
}

/**
 * Streams chunk by chunk: headers go out at once (the client learns the status before the
 * first event), each chunk is written as it comes. Waiting for the next chunk races the
 * close, so a client that leaves mid-stream stops the loop at once and `return()` ends the
 * iteration (the close handler in `serve` counts the abort).
 */
async function writeStream(res: ServerResponse, answer: SimStreamResponse, markIntentional: () => void): Promise<void> {
  res.writeHead(answer.status, answer.headers);
  res.flushHeaders();
  const closed = closedPromise(res);
  const iterator = answer.body[Symbol.asyncIterator]();
  let finished = false;
  // Settles once the last chunk has reached the socket: a cut must not discard what was written.
  let flushed: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      const pending = iterator.next();
      pending.catch(() => undefined); // when the close wins the race, a later failure has no reader
      const next = await Promise.race([pending, closed]);
      if (next === 'closed' || res.destroyed) return;
      if (next.done === true) break;
      let ok = true;
      flushed = new Promise<void>((resolve) => {
        ok = res.write(next.value, () => resolve());
      });
      if (!ok) await drained(res, closed);
    }
    finished = true;
  } catch (err) {
    // The status line is out: all that is left is to drop the connection (not a client abort).
    markIntentional();
    res.destroy();
    throw err;
  } finally {
    // Not awaited: a generator stuck in a wait would otherwise hold this request open.
    if (!finished) iterator.return?.()?.catch(() => undefined);
  }
  if (res.destroyed) return;
  if (answer.cutAtEnd === true) {
    await Promise.race([flushed, closed]);
    markIntentional();
    res.destroy();
    return;
  }
  res.end();
}

function tooLarge(res: ServerResponse): void {
  const body = jsonBuffer({
    error: { message: 'Request body too large.', type: 'invalid_request_error', param: null, code: null },
  });
  res.writeHead(413, { 'content-type': 'application/json', 'content-length': String(body.length), connection: 'close' });
  res.end(body);
}

async function serve(sim: SimHandler, req: IncomingMessage, res: ServerResponse, closing: () => boolean): Promise<void> {
  const controller = new AbortController();
  let intentional = false;
  res.on('close', () => {
    // Closed before we called end(): the client gave up (unless we cut it ourselves).
    if (!res.writableEnded && !intentional && !closing()) sim.aborted += 1;
    controller.abort();
  });
  const method = req.method ?? 'GET';
  let body: Buffer;
  try {
    body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge && !res.destroyed) tooLarge(res);
    return; // otherwise the client aborted mid-body; 'close' counts it
  }
  const answer = await sim.handle({ method, path: req.url ?? '/', headers: flattenHeaders(req), body }, controller.signal);
  if (res.destroyed || controller.signal.aborted) {
    // A stream nobody will read: let its producer clean up.
    if (answer.kind === 'stream')
      answer.body[Symbol.asyncIterator]()
        .return?.()
        ?.catch(() => undefined);
    return;
  }
  await writeResponse(res, answer, () => {
    intentional = true;
  });
}

function internalError(res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  const body = jsonBuffer({ error: { message: `Simulator failure: ${message}`, type: 'server_error', param: null, code: null } });
  res.writeHead(500, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}

/** Listens on host:port (0 = ephemeral), then builds the simulator knowing its own origin. */
export async function startSimulatorServer<H extends SimHandler>(
  makeSimulator: (origin: string) => H,
  { host = '127.0.0.1', port = 0 }: { host?: string | undefined; port?: number | undefined } = {},
): Promise<RunningServer<H>> {
  let sim: H | undefined;
  let closing = false;
  const server = createServer({ keepAlive: true }, (req, res) => {
    // The simulator exists before the listen callback returns, so `sim` is always set here.
    if (sim === undefined) return internalError(res, new Error('simulator not ready'));
    serve(sim, req, res, () => closing).catch((err: unknown) => internalError(res, err));
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('simulator: expected a TCP address');
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  sim = makeSimulator(origin);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing = true;
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // also ends hanging requests so tests finish fast
    });
    return closed;
  };
  return { sim, port: address.port, origin, close };
}
