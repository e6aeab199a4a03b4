/**
 * The floor for any relay: a bare streaming reverse proxy in plain node:http. No parsing, no
 * buffering: request body piped up, response body piped down, upstream sockets kept alive.
 */
import { Agent, createServer, request } from 'node:http';
import { announceReady, closeOnShutdown, upstreamArg } from './child.js';

const upstream = upstreamArg();
// No socket cap: a floor adds no queue (1000 requests held open must all reach the upstream).
const agent = new Agent({ keepAlive: true });

const server = createServer({ keepAlive: true }, (req, res) => {
  const options = { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, agent };
  const up = request(options, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('pipe: expected a TCP address');
  closeOnShutdown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // idle keep-alive sockets would hold close() open
      }),
  );
  announceReady({ url: `http://127.0.0.1:${address.port}` });
});
