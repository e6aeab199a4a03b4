/** Input images for tests (made with sharp, so they are real files) and tiny URL servers to fetch them from. */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import sharp from 'sharp';

export interface MakeImage {
  width: number;
  height: number;
  /** Four channels with this alpha (0-1); without it, three channels (no alpha at all). */
  alpha?: number;
}

function canvas({ width, height, alpha }: MakeImage) {
  const channels = alpha === undefined ? 3 : 4;
  return sharp({ create: { width, height, channels, background: { r: 40, g: 120, b: 200, alpha: alpha ?? 1 } } });
}

export function makePng(image: MakeImage, options: { palette?: boolean } = {}): Promise<Buffer> {
  return canvas(image)
    .png({ palette: options.palette ?? false })
    .toBuffer();
}

export function makeJpeg(image: MakeImage): Promise<Buffer> {
  return canvas(image).jpeg().toBuffer();
}

export function makeWebp(image: MakeImage, options: { lossless?: boolean } = {}): Promise<Buffer> {
  return canvas(image)
    .webp({ lossless: options.lossless ?? false })
    .toBuffer();
}

export function makeGif(image: MakeImage): Promise<Buffer> {
  return canvas(image).gif().toBuffer();
}

/** Deterministic pseudo-random bytes (a xorshift), so "random" inputs are the same every run. */
export function noiseBytes(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A complete, valid PNG of noise: barely compressible, so its size is about width*height*channels. */
export function makeNoisePng(width: number, height: number, channels: 3 | 4 = 4): Promise<Buffer> {
  return sharp(noiseBytes(width * height * channels), { raw: { width, height, channels } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

/** Exactly `totalBytes` bytes: a real PNG's signature and IHDR chunk, then zero padding (not a whole PNG). */
export function pngHeaded(totalBytes: number, width = 64, height = 64): Buffer {
  const out = Buffer.alloc(totalBytes);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(out, 0);
  out.writeUInt32BE(13, 8);
  out.write('IHDR', 12, 'latin1');
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out[24] = 8; // bit depth
  out[25] = 6; // RGBA
  return out;
}

export interface TestServer {
  origin: string;
  port: number;
  /** Request paths received, oldest first. */
  readonly hits: string[];
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 answering with `handler`. */
export async function startHttpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const hits: string[] = [];
  const server = createHttpServer((req, res) => {
    hits.push(req.url ?? '/');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    hits,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers. `hits` counts connections. */
export async function startSilentServer(): Promise<TestServer> {
  const hits: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    hits.push('connection');
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // read and ignore whatever arrives
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    hits,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
