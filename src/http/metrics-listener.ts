/**
 * IMAGEGATE_METRICS_PORT: a second, bare listener that serves only GET /metrics, without auth,
 * for a scraper on a monitoring network. The trade-off (docs/metrics.md): no admin key on the
 * scraper, but whoever reaches this port reads channel names, models, traffic and spend; bind it
 * where only the monitoring network reaches. node:http, not Fastify: one route, no body, no hooks.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsExposition } from '../core/metrics-sink.js';

export interface MetricsListener {
  /** Where it listens: http://host:port. */
  address: string;
  close(): Promise<void>;
}

export async function listenForMetrics(host: string, port: number, metrics: MetricsExposition): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: this port serves only GET /metrics.\n');
      return;
    }
    metrics.render().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('The metrics could not be read.\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    address: `http://${shown.includes(':') ? `[${shown}]` : shown}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
