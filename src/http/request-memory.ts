/**
 * Each request's share of the memory budget (core/memory-budget.ts). A body's declared length is
 * reserved before a byte of it is read, so a wave of uploads is split into requests that run
 * whole and requests refused (503 server_busy) holding nothing, not into many that each stall
 * half-read.
 * A chunked body is counted as it arrives: JSON here, multipart text parts as they stream
 * (form-part.ts). A multipart upload is written to disk as it arrives and holds only the
 * buffers on their way there. Everything a request held goes back when its answer is done.
 *
 * A request refused as busy is answered after its body has been read and dropped: a client
 * still sending when the answer came and the connection closed would see a broken pipe, not the
 * 503 that tells it to retry. Dropping holds nothing; the body-idle timeout bounds a slow sender.
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../core/errors.js';
import { MemoryHold, type MemoryBudget } from '../core/memory-budget.js';
import { whenAnswerCloses } from './answer-closed.js';
import { expectsBody } from './body-flow.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's hold on the memory budget; null for a request without a body. */
    memory: MemoryHold | null;
  }
}

export function installRequestMemory(app: FastifyInstance, budget: MemoryBudget): void {
  app.decorateRequest('memory', null);
  // preParsing: after the route's access check (onRequest), before any body parser reads.
  app.addHook('preParsing', async (request, reply, payload) => {
    const raw = reply.raw;
    if (!expectsBody(request.raw) || raw.closed) return payload;
    const hold = new MemoryHold(budget);
    request.memory = hold;
    whenAnswerCloses(raw, () => hold.end());
    const multipart = /^multipart\//i.test(request.headers['content-type'] ?? '');
    const declared = Number(request.headers['content-length']);
    // Multipart uploads go to disk as they are read (upload-spool.ts): only the buffers on their
    // way there are reserved; text parts kept in memory are counted as they arrive (form-part.ts).
    const reserved = multipart ? Math.min(declared > 0 ? declared : Infinity, MULTIPART_IN_FLIGHT_BYTES) : declared;
    if (reserved > 0) {
      try {
        hold.reserveBody(reserved);
      } catch (err) {
        if (declared <= DRAIN_MAX_BYTES && err instanceof GatewayError && err.status === 503) await dropped(request.raw);
        throw err;
      }
    }
    if (multipart || declared > 0) return payload;
    return counted(payload, hold);
  });
}

/** What a multipart body holds in memory while its parts stream to disk: socket, parser and write buffers. */
const MULTIPART_IN_FLIGHT_BYTES = 256 * 1024;

/** Past this, a refused body is not read to its end: the connection is closed instead. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;

/** Reads the body to its end (or until the connection goes), keeping none of it. */
function dropped(raw: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    raw.once('end', resolve);
    raw.once('close', resolve);
    raw.resume();
  });
}

/** The body as it arrives, each chunk counted first; past the budget the stream fails with the refusal. */
function counted(payload: Readable, hold: MemoryHold): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        hold.receivedBody(chunk.length);
        callback(null, chunk);
      } catch (err) {
        callback(err as Error);
      }
    },
  });
  payload.once('error', (err) => counter.destroy(err));
  return payload.pipe(counter);
}
