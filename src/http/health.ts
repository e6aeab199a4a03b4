import type { FastifyInstance } from 'fastify';

/** GET /healthz: 200 while the database answers, 503 otherwise. No auth: for load balancers. */
export function registerHealthRoute(app: FastifyInstance, checkDatabase: () => Promise<void>): void {
  app.get('/healthz', async (_request, reply) => {
    try {
      await checkDatabase();
      return { status: 'ok' };
    } catch {
      return reply.status(503).send({ status: 'unavailable', reason: 'database' });
    }
  });
}
