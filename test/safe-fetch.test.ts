/** The guard every caller-given URL goes through: addresses, schemes, redirects, size, time. */
import { lookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress } from '../src/net/address-policy.js';
import { SafeFetcher, UnsafeUrlError, type UnsafeUrlReason } from '../src/net/safe-fetch.js';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['172.32.0.1', true],
    ['100.128.0.1', true],
    ['2606:4700::1111', true],
    ['::ffff:8.8.8.8', true],
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fd00::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['64:ff9b::a00:1', false],
    ['not-an-ip', false],
  ])('%s -> %s', (ip, expected) => expect(isPublicAddress(ip)).toBe(expected));
});

let server: Server;
let origin: string;
beforeAll(async () => {
  const png = Buffer.alloc(2_000, 1);
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/image') return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    if (path === '/hop') return res.writeHead(302, { location: '/image' }).end();
    if (path === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (path === '/to-file') return res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    if (path === '/to-private') return res.writeHead(302, { location: 'http://10.1.2.3/image' }).end();
    if (path === '/to-garbage') return res.writeHead(302, { location: 'http://[::1' }).end();
    if (path === '/big') return res.writeHead(200, { 'content-length': '10000000' }).end();
    if (path === '/stream-big') {
      res.writeHead(200);
      res.write(Buffer.alloc(3_000));
      return res.end(Buffer.alloc(3_000));
    }
    if (path === '/slow') return setTimeout(() => res.end('late'), 2_000);
    return res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function reason(promise: Promise<unknown>): Promise<UnsafeUrlReason | 'resolved'> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    if (err instanceof UnsafeUrlError) return err.reason;
    throw err;
  }
}

/** The refusal a call ends in; anything else fails the test. */
async function refusal(promise: Promise<unknown>): Promise<UnsafeUrlError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (err instanceof UnsafeUrlError) return err;
  throw new Error(`expected an UnsafeUrlError, got ${String(err)}`);
}

const options = { maxBytes: 5_000, timeoutMs: 500, maxRedirects: 3 };

describe('SafeFetcher', () => {
  it('refuses loopback by address and by name (checked when connecting)', async () => {
    const strict = new SafeFetcher({ ...options, allowPrivate: false });
    const port = new URL(origin).port;
    expect(await reason(strict.fetch(`${origin}/image`))).toBe('address');
    expect(await reason(strict.fetch(`http://localhost:${port}/image`))).toBe('address');
    expect(await reason(strict.fetch(`http://[::1]:${port}/image`))).toBe('address');
    expect(await reason(strict.fetch('http://169.254.169.254/latest/meta-data/'))).toBe('address');
    await strict.close();
  });

  it('names the host a refused name was given as, never what it resolved to', async () => {
    const strict = new SafeFetcher({ ...options, allowPrivate: false });
    const port = new URL(origin).port;
    const resolved = (await lookup('localhost', { all: true })).map((a) => a.address);
    expect(resolved.length).toBeGreaterThan(0);
    for (const call of [() => strict.fetch(`http://localhost:${port}/image`), () => strict.post(`http://localhost:${port}/image`, '{}', {})]) {
      const err = await refusal(call());
      expect(err.reason).toBe('address');
      expect(err.message).toContain('localhost');
      for (const address of resolved) expect(err.message).not.toContain(address);
    }
    await strict.close();
  });

  it('does not name a private address a server redirected to', async () => {
    const trusting = new SafeFetcher({ ...options, allowPrivate: false, allowAddresses: ['127.0.0.1'] });
    const err = await refusal(trusting.fetch(`${origin}/to-private`));
    expect(err.reason).toBe('address');
    expect(err.message).not.toContain('10.1.2.3');
    await trusting.close();
  });

  it('refuses other schemes, also after a redirect, and redirect loops', async () => {
    const dev = new SafeFetcher({ ...options, allowPrivate: true });
    expect(await reason(dev.fetch('file:///etc/passwd'))).toBe('scheme');
    expect(await reason(dev.fetch('ftp://example.com/x.png'))).toBe('scheme');
    expect(await reason(dev.fetch(`${origin}/to-file`))).toBe('scheme');
    expect(await reason(dev.fetch(`${origin}/to-garbage`))).toBe('scheme');
    expect(await reason(dev.fetch(`${origin}/loop`))).toBe('redirects');
    await dev.close();
  });

  it('caps the size (declared or streamed), the time, and wants a 200', async () => {
    const dev = new SafeFetcher({ ...options, allowPrivate: true });
    expect(await reason(dev.fetch(`${origin}/big`))).toBe('too_large');
    expect(await reason(dev.fetch(`${origin}/stream-big`))).toBe('too_large');
    expect(await reason(dev.fetch(`${origin}/slow`))).toBe('timeout');
    expect(await reason(dev.fetch(`${origin}/missing`))).toBe('status');
    await dev.close();
  });

  it('with allowPrivate (development) fetches, following redirects', async () => {
    const dev = new SafeFetcher({ ...options, allowPrivate: true });
    const got = await dev.fetch(`${origin}/hop`);
    expect(got.bytes.length).toBe(2_000);
    expect(got.contentType).toBe('image/png');
    expect(got.url).toBe(`${origin}/image`);
    await dev.close();
  });
});
