/**
 * Probes, without auth. /livez: the process serves (restart it when this fails). /readyz: every
 * required readiness check passes (send it traffic); `degraded` when an optional one (Redis) is
 * down. /healthz: the load balancers' check, readiness in its original shape. Each answers
 * within about a second, whatever a dependency does.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ReadinessChecks } from './readiness.js';
import { HealthSchemas } from './schemas/public.js';

export function registerHealthRoutes(scope: FastifyInstance, readiness: ReadinessChecks): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/livez', { schema: HealthSchemas.livez }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: HealthSchemas.readyz }, async (_request, reply) => {
    const { ready, degraded, checks } = await readiness.run();
    return reply.status(ready ? 200 : 503).send({ status: ready ? (degraded ? 'degraded' : 'ok') : 'unavailable', checks });
  });

  app.get('/healthz', { schema: HealthSchemas.healthz }, async (_request, reply) => {
    const { ready, failing } = await readiness.run();
    if (ready) return { status: 'ok' as const };
    const reason = failing[0];
    return reply.status(503).send({ status: 'unavailable', reason });
  });
}
