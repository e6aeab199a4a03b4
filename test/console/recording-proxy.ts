/**
 * An HTTP proxy that keeps each request body it forwards: put between the gateway and a simulator, it shows the
 * bytes the gateway sent upstream (the simulators keep a file's size and hash, not its bytes).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export interface ForwardedRequest {
  path: string;
  contentType: string;
  body: Buffer;
}

export interface RecordingProxy {
  /** http://127.0.0.1:port/v1, for a channel's base_url. */
  baseURL: string;
  requests: ForwardedRequest[];
  close(): Promise<void>;
}

/** Hop-by-hop and framing headers: the forwarding fetch sets its own. */
const DROPPED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'content-encoding']);

export async function startRecordingProxy(upstreamOrigin: string): Promise<RecordingProxy> {
  const requests: ForwardedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body });
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name, value]) => !DROPPED.has(name) && typeof value === 'string')) as Record<
      string,
      string
    >;
    try {
      const answer = await fetch(`${upstreamOrigin}${req.url ?? ''}`, { method: req.method ?? 'GET', headers, ...(body.length > 0 ? { body } : {}) });
      res.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([name]) => !DROPPED.has(name))));
      if (answer.body) Readable.fromWeb(answer.body).pipe(res);
      else res.end();
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
