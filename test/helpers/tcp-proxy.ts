/**
 * A TCP endpoint that a test can make hang: a dependency that accepts connections and never
 * answers (neither refuses nor closes), the worst case for a probe. Forwards to `target` until
 * hang() (or from the start, without a target); while hanging, new connections are held open and
 * bytes on the old ones are dropped both ways. resume() forwards again, cutting the connections
 * held meanwhile so that their owners reconnect.
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  hang(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target?: { host: string; port: number }): Promise<TcpProxy> {
  let hanging = target === undefined;
  const sockets = new Set<Socket>();
  const held = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      sockets.delete(socket);
      held.delete(socket);
    });
  };
  const server = createServer((client) => {
    track(client);
    if (hanging || !target) {
      held.add(client);
      client.on('data', () => undefined); // read and dropped: the peer sees a server that never answers
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.on('data', (chunk: Buffer) => void (hanging || upstream.write(chunk)));
    upstream.on('data', (chunk: Buffer) => void (hanging || client.write(chunk)));
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return {
    port: address.port,
    hang() {
      hanging = true;
      for (const socket of sockets) held.add(socket);
    },
    resume() {
      hanging = false;
      for (const socket of held) socket.destroy();
      held.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
