/**
 * Each multipart request's spool (spool/request-spool.ts): its uploads are written to disk as
 * they are read (image-form.ts), and deleted when the answer is done or the client is gone.
 */
import type { FastifyInstance } from 'fastify';
import type { RequestSpool } from '../spool/request-spool.js';
import type { SpoolDir } from '../spool/spool-dir.js';
import { whenAnswerCloses } from './answer-closed.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Where this request's uploads are written; null for a request that is not multipart. */
    spool: RequestSpool | null;
  }
}

export function installUploadSpool(app: FastifyInstance, dir: SpoolDir): void {
  app.decorateRequest('spool', null);
  app.addHook('preParsing', async (request, reply, payload) => {
    if (!/^multipart\//i.test(request.headers['content-type'] ?? '')) return payload;
    const spool = dir.forRequest();
    request.spool = spool;
    whenAnswerCloses(reply.raw, () => {
      spool.end().catch((err: unknown) => request.log.error({ err }, 'could not delete an upload spool file'));
    });
    return payload;
  });
}
