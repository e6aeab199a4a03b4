/**
 * A request body's life outside the parsers: a sender that stalls mid-body is cut off, and a body
 * left unread by an early answer (401, 404, 413 ...) is drained, not parsed, then the connection
 * closed. Waiting for a generation after the body has arrived is never cut.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** True when the request announced a body (Content-Length above 0, or chunked). */
export function expectsBody(raw: IncomingMessage): boolean {
  return raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length'] ?? 0) > 0;
}

/**
 * While the body is arriving, a gap of `idleMs` without a byte closes the connection. The socket
 * timer is Node's own (reset by every byte); Node emits 'timeout' on the request only while its
 * body is incomplete, and on the response otherwise, where it is only switched off.
 */
export function watchBodyIdle(request: FastifyRequest, reply: FastifyReply, idleMs: number): void {
  const raw = request.raw;
  if (idleMs <= 0 || !expectsBody(raw) || raw.complete) return;
  const socket = raw.socket;
  socket.setTimeout(idleMs);
  const stopWatching = () => {
    // After the answer, Node owns the timer again (keep-alive).
    if (!reply.raw.writableEnded) socket.setTimeout(0);
  };
  raw.once('timeout', () => socket.destroy());
  raw.once('end', stopWatching);
  reply.raw.once('timeout', stopWatching);
}

/**
 * An answer sent as a stream (an image passing through as it arrives, a stored image) or a
 * buffer (a stored image read whole): a client that stops taking its bytes for `idleMs` is cut
 * off. Otherwise it would hold what the answer holds (the upstream connection and the channel's
 * slot, an open file, a lent buffer) for as long as it liked.
 * Only the client's stall counts: when the socket has sat idle with nothing waiting to go out,
 * the wait is ours (the upstream, the disk, a busy process), and the answer goes on.
 */
export function watchAnswerIdle(reply: FastifyReply, payload: unknown, idleMs: number): void {
  if (idleMs <= 0 || !(payload instanceof Readable || Buffer.isBuffer(payload))) return;
  const socket = reply.raw.socket;
  if (!socket) return;
  // Node's socket timer is re-armed by every write and every write the kernel completes, so a
  // 'timeout' with bytes still pending means the client took none of them for idleMs.
  const cut = () => {
    if (socket.writableLength > 0 || reply.raw.writableLength > 0) socket.destroy();
  };
  socket.setTimeout(idleMs);
  socket.once('timeout', cut);
  reply.raw.once('close', () => {
    // After the answer, Node owns the timer again (keep-alive).
    socket.removeListener('timeout', cut);
    if (!socket.destroyed) socket.setTimeout(0);
  });
}

/** How long a refused upload may keep sending before its socket is cut. */
const DISCARD_GRACE_MS = 10_000;

/**
 * An answer sent before the body was read (a refusal by a hook, a 404, an upload stopped at a
 * limit): the rest is read and dropped, so the client gets to read the answer instead of a reset;
 * the connection is closed after it, and a client that keeps sending for long is cut off.
 */
export function discardUnreadBody(request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw;
  if (!expectsBody(raw) || raw.readableEnded) return;
  if (!reply.raw.headersSent) void reply.header('connection', 'close');
  raw.unpipe();
  raw.resume();
  const timer = setTimeout(() => raw.destroy(), DISCARD_GRACE_MS);
  timer.unref();
  raw.once('end', () => clearTimeout(timer));
  raw.once('close', () => clearTimeout(timer));
  closeAfterBody(raw);
}

/**
 * When the answer is out, Node closes the connection at once (destroySoon); bytes of the body
 * still arriving then make the kernel reset it, and a client loses what it had not yet read of a
 * large answer. Instead the answer is ended (FIN) and the rest of the body read and dropped; the
 * connection closes when the body has ended, or when discardUnreadBody's grace runs out.
 */
function closeAfterBody(raw: IncomingMessage): void {
  const socket = raw.socket;
  socket.destroySoon = () => {
    let bodyDone = raw.readableEnded || raw.destroyed;
    let sent = socket.writableFinished;
    const settle = () => {
      if (bodyDone && sent) socket.destroy();
    };
    const ended = () => {
      bodyDone = true;
      settle();
    };
    if (!bodyDone) raw.once('end', ended).once('close', ended);
    if (!sent)
      socket.once('finish', () => {
        sent = true;
        settle();
      });
    if (socket.writable) socket.end();
    settle();
  };
}
