/**
 * Probes, without a key. Liveness and readiness are different questions, with different answers:
 *
 * - /healthz (and /livez, its older name): the process is alive and answers HTTP. No dependency
 *   is consulted, so an outage of the database, Redis or the bucket never fails it: an
 *   orchestrator that restarts on it restarts only a process that is really stuck.
 * - /readyz: the instance can serve now: every readiness check passes (the database answers,
 *   Redis answers when REDIS_URL is set, the image store takes a write, some channel can take
 *   requests). The checks run at once, each bounded, so it answers within about a second however
 *   a dependency hangs.
 *
 * Callers without the admin key see only the status (200 `{"status":"ok"}`, 503
 * `{"status":"unavailable"}`); with it, /readyz adds each check's outcome, latency and reason.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CheckResult, ReadinessChecks } from './readiness.js';
import { HealthSchemas } from './schemas/public.js';

export interface HealthRouteOptions {
  /** Whether the caller may see each check's details (the admin key); nobody, when absent. */
  showsDetails?: (request: FastifyRequest) => boolean;
}

export function registerHealthRoutes(scope: FastifyInstance, readiness: ReadinessChecks, options: HealthRouteOptions = {}): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const alive = async () => ({ status: 'ok' as const });
  app.get('/healthz', { schema: HealthSchemas.healthz }, alive);
  app.get('/livez', { schema: HealthSchemas.livez }, alive);

  app.get('/readyz', { schema: HealthSchemas.readyz }, async (request, reply) => {
    const { ready, checks } = await readiness.run();
    const details = options.showsDetails?.(request) ? { checks: renderChecks(checks) } : {};
    void reply.header('cache-control', 'no-store');
    if (ready) return reply.status(200).send({ status: 'ok', ...details });
    return reply.status(503).send({ status: 'unavailable', ...details });
  });
}

function renderChecks(checks: Record<string, CheckResult>) {
  return Object.fromEntries(
    Object.entries(checks).map(([name, c]) => [name, { status: c.status, latency_ms: c.latencyMs, ...(c.reason !== undefined ? { reason: c.reason } : {}) }]),
  );
}
