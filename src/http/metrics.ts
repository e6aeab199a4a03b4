/**
 * Metrics over HTTP: every answer counted by its route's pattern (never the raw URL, so the
 * label stays bounded), and the /metrics route that renders them (admin; http/access.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { HttpMetricsSink, MetricsExposition } from '../core/metrics-sink.js';
import { MetricsSchema } from './schemas/metrics.js';

/** Counts every answer once it is sent. Add it on the root instance, before the route groups. */
export function installHttpMetrics(app: FastifyInstance, sink: HttpMetricsSink): void {
  app.addHook('onResponse', async (request, reply) => {
    // An unrouted path has no pattern: one label for all of them.
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    sink.httpAnswered(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
}

export function registerMetricsRoute(scope: FastifyInstance, metrics: MetricsExposition): void {
  scope.get('/metrics', { schema: MetricsSchema }, async (_request, reply) => {
    const body = await metrics.render();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(body);
  });
}
