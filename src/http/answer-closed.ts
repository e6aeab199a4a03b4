/**
 * Work that ends with a request's answer (sent, failed, or its client gone): the limiter's slot,
 * the memory hold, the spool files. They share one 'close' listener per response, so that the
 * listeners each request needs stay well under Node's leak warning.
 */
import type { ServerResponse } from 'node:http';

const pending = new WeakMap<ServerResponse, (() => void)[]>();

/** Runs `done` when the response closes; at once when it has closed already. */
export function whenAnswerCloses(raw: ServerResponse, done: () => void): void {
  if (raw.closed) {
    done();
    return;
  }
  const list = pending.get(raw);
  if (list) {
    list.push(done);
    return;
  }
  const first = [done];
  pending.set(raw, first);
  raw.once('close', () => {
    pending.delete(raw);
    for (const run of first) run();
  });
}
