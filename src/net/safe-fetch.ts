/**
 * Fetching a URL a caller gave us (reference images now, webhooks later) without letting the
 * caller reach our own network: http(s) only; every address the name resolves to must be public
 * (checked at connect time, so DNS rebinding cannot slip in a second answer), again after every
 * redirect; a size cap and a timeout. `allowPrivate` lifts the address check, for development.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { createAddressFilter, type AddressFilter } from './address-policy.js';
import { LazyAgent } from '../core/undici-loader.js';

export type UnsafeUrlReason = 'scheme' | 'address' | 'redirects' | 'status' | 'too_large' | 'timeout' | 'network';

export class UnsafeUrlError extends Error {
  constructor(
    readonly reason: UnsafeUrlReason,
    message: string,
  ) {
    super(message);
    this.name = 'UnsafeUrlError';
  }
}

export interface SafeFetchOptions {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  /** Development and tests only: allow loopback and private addresses. */
  allowPrivate: boolean;
  /** Private addresses or CIDRs allowed all the same (an internal asset host). */
  allowAddresses?: readonly string[];
}

export interface FetchedBody {
  bytes: Buffer;
  contentType: string | undefined;
  /** Where the bytes came from after redirects. */
  url: string;
}

export interface PostOptions {
  signal?: AbortSignal;
  /** This call's deadline for connecting, sending and the answer; the fetcher's `timeoutMs` otherwise. */
  timeoutMs?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** How much of a POST's answer is read (and thrown away) before the connection is dropped. */
const POST_RESPONSE_CAP = 64 * 1024;

export class SafeFetcher {
  private readonly agent: LazyAgent;
  private readonly allowed: AddressFilter;

  constructor(private readonly opts: SafeFetchOptions) {
    this.allowed = createAddressFilter(opts.allowPrivate, opts.allowAddresses);
    this.agent = new LazyAgent({ connect: { lookup: guardedLookup(this.allowed) }, keepAliveTimeout: 10_000 });
  }

  async fetch(url: string, signal?: AbortSignal): Promise<FetchedBody> {
    const deadline = AbortSignal.timeout(this.opts.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let current = this.checkUrl(url);
    for (let hops = 0; ; hops++) {
      const res = await this.request(current, combined, deadline);
      if (REDIRECTS.has(res.statusCode)) {
        await res.body.dump();
        const location = res.headers.location;
        if (typeof location !== 'string') throw new UnsafeUrlError('status', `redirect without a Location from ${current.host}`);
        if (hops >= this.opts.maxRedirects) throw new UnsafeUrlError('redirects', `more than ${this.opts.maxRedirects} redirects`);
        current = this.checkUrl(resolveLocation(location, current), current);
        continue;
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new UnsafeUrlError('status', `${current.host} answered ${res.statusCode}`);
      }
      const bytes = await this.readCapped(res.body, Number(res.headers['content-length'] ?? 0));
      const type = res.headers['content-type'];
      return { bytes, contentType: typeof type === 'string' ? type : undefined, url: current.toString() };
    }
  }

  /**
   * POSTs `body` (webhooks): the same address guard as `fetch`, but redirects are not followed
   * (a 3xx is just the status), and the answer's body is read up to a small cap and discarded.
   * Only a failure to get any status throws, as an UnsafeUrlError.
   */
  async post(url: string, body: string, headers: Readonly<Record<string, string>>, options: PostOptions = {}): Promise<{ status: number }> {
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    const target = this.checkUrl(url);
    const res = await this.request(target, combined, deadline, { method: 'POST', headers: { ...headers }, body }, timeoutMs);
    await discardCapped(res.body, POST_RESPONSE_CAP);
    return { status: res.statusCode };
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** `via` is the URL that redirected here, when the caller did not give this one. */
  private checkUrl(raw: string, via?: URL): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UnsafeUrlError('scheme', 'not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnsafeUrlError('scheme', `${url.protocol} URLs are not fetched; use http(s)`);
    // An address literal is never looked up, so the connect-time guard would not see it.
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !this.allowed(host)) {
      // A literal the caller typed may be named; one a server redirected to is not theirs to learn.
      const message = via ? `${via.host} redirected to an address that is not public` : `${host} is not a public address`;
      throw new UnsafeUrlError('address', message);
    }
    return url;
  }

  private async request(url: URL, signal: AbortSignal, deadline: AbortSignal, send: OutgoingRequest = GET_IMAGE, timeoutMs = this.opts.timeoutMs) {
    try {
      return await (await this.agent.get()).request({ origin: url.origin, path: url.pathname + url.search, signal, ...send });
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw err;
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof UnsafeUrlError) throw cause;
      if (deadline.aborted) throw new UnsafeUrlError('timeout', `no answer from ${url.host} within ${timeoutMs} ms`);
      throw new UnsafeUrlError('network', `could not fetch from ${url.host}`);
    }
  }

  private async readCapped(body: AsyncIterable<Buffer>, declared: number): Promise<Buffer> {
    const tooLarge = () => new UnsafeUrlError('too_large', `larger than ${this.opts.maxBytes} bytes`);
    if (declared > this.opts.maxBytes) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > this.opts.maxBytes) throw tooLarge();
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw err;
      throw new UnsafeUrlError('timeout', 'the body did not arrive in time');
    }
    return Buffer.concat(chunks, size);
  }
}

interface OutgoingRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

const GET_IMAGE: OutgoingRequest = { method: 'GET', headers: { accept: 'image/*' } };

/** Reads and drops up to `cap` bytes of an answer nobody needs, then lets the connection go. */
async function discardCapped(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, cap: number): Promise<void> {
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > cap) break; // leaving the loop destroys the stream
    }
  } catch {
    body.destroy(); // a stalled or broken answer body: the status is all we wanted
  }
}

/**
 * A DNS lookup for net.connect that fails unless every resolved address is public. The refusal
 * names only the host asked for: what it resolved to is our network's business, not the caller's.
 */
function guardedLookup(allowed: AddressFilter): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      if (!addresses.every((a) => allowed(a.address)))
        return callback(new UnsafeUrlError('address', `${hostname} resolves to an address that is not public`), '', 4);
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`no address for ${hostname}`), '', 4);
      return callback(null, first.address, first.family);
    });
  };
}

/** A redirect target relative to where it came from; a malformed one is the caller's bad URL. */
function resolveLocation(location: string, from: URL): string {
  try {
    return new URL(location, from).toString();
  } catch {
    throw new UnsafeUrlError('scheme', `${from.host} redirected to a malformed URL`);
  }
}
