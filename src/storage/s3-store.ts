/**
 * Images in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, s3rver), so any number of
 * gateway instances write and serve the same images. Keys are `<prefix><name>`.
 *
 * Links (S3Config.links): `gateway` keeps the gateway's signed /files links and streams the bytes
 * from the bucket; `presigned` hands out S3 presigned GET URLs; `public` hands out unsigned
 * `<publicBaseUrl>/<prefix><name>` URLs, which only work when the bucket (or the CDN in front of
 * it) allows public reads. Presigning is synchronous (SigV4 query signing with node:crypto) so the
 * many callers of ImageOutput.signedUrl stay synchronous; the SDK only moves bytes.
 */
import { createHash, createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Config } from '../config.js';
import type { ImageSink, ImageStore } from './image-store.js';

const SAFE_NAME = /^[A-Za-z0-9_-]+\.[a-z0-9]+$/;
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  svg: 'image/svg+xml',
};
/**
 * Kinds never linked to directly: the bucket would serve an SVG (a document that can carry
 * scripts) without the gateway's Content-Security-Policy, so its link is the gateway's /files one.
 */
const GATEWAY_LINK_ONLY = /\.svg$/;
/** SigV4: a presigned URL is valid for at most 7 days. */
export const MAX_PRESIGNED_TTL_SECONDS = 7 * 86400;
/** Fetch fresh credentials this long before the cached ones expire. */
const CREDENTIALS_REFRESH_MS = 5 * 60_000;

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
}

export interface S3ImageStoreOptions {
  /** Clock for presigning (tests). */
  now?: () => number;
  /** Extra S3 client settings (tests). */
  client?: Partial<S3ClientConfig>;
}

export class S3ImageStore implements ImageStore {
  readonly client: S3Client;
  private readonly now: () => number;
  /** Where an object's URL starts: `<protocol>//<host>` and the path before the (encoded) key. */
  private readonly origin: { protocol: string; host: string; pathPrefix: string };
  /** For presigning: static keys at once, the default chain's after they resolve (then refreshed). */
  private credentials: Credentials | undefined;
  private refreshing: Promise<void> | undefined;
  private signingKeyCache: { scope: string; secret: string; key: Buffer } | undefined;

  constructor(
    private readonly config: S3Config,
    options: S3ImageStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.client = new S3Client({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.forcePathStyle,
      ...(config.credentials ? { credentials: config.credentials } : {}),
      // Checksums only when an operation requires them: S3-compatible services (older MinIO, R2,
      // s3rver) refuse or ignore the SDK's default CRC32 headers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Every image being served holds a socket until the client has it all: more than the default 50.
      requestHandler: { connectionTimeout: 10_000, httpAgent: { keepAlive: true, maxSockets: 256 }, httpsAgent: { keepAlive: true, maxSockets: 256 } },
      ...options.client,
    });
    this.origin = objectOrigin(config);
    this.credentials = config.credentials;
    if (config.links === 'presigned' && !config.credentials) void this.refreshCredentials();
  }

  async put(name: string, bytes: Buffer): Promise<void> {
    const ext = name.slice(name.lastIndexOf('.') + 1);
    const upload = this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: this.keyOf(name),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      }),
    );
    // A url-mode answer presigns right after this returns: have credentials by then.
    await Promise.all([upload, this.needsCredentials() ? this.refreshCredentials() : undefined]);
  }

  /**
   * The pieces are gathered and put whole when the image ends: a PutObject needs the length
   * first, and an image is smaller than a multipart upload's 5 MiB minimum part anyway.
   */
  openWrite(name: string): ImageSink {
    const pieces: Buffer[] = [];
    return {
      write: async (more) => void pieces.push(Buffer.concat(more)),
      close: () => this.put(name, Buffer.concat(pieces)),
      abort: async () => void pieces.splice(0),
    };
  }

  async open(name: string): Promise<{ stream: Readable; size: number } | null> {
    if (!SAFE_NAME.test(name)) return null;
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(name) })).catch((err: unknown) => {
      if (isMissing(err)) return null;
      throw err;
    });
    if (!res) return null;
    const body = res.Body;
    if (!(body instanceof Readable)) throw new Error(`S3 GetObject ${this.keyOf(name)}: the body is not a Node stream`);
    if (res.ContentLength === undefined) {
      body.destroy();
      throw new Error(`S3 GetObject ${this.keyOf(name)}: no Content-Length`);
    }
    return { stream: body, size: res.ContentLength };
  }

  async delete(name: string): Promise<void> {
    if (!SAFE_NAME.test(name)) return;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(name) }));
    } catch (err) {
      // S3 answers 204 for a missing key; some compatible services answer 404.
      if (!isMissing(err)) throw err;
    }
  }

  /**
   * Puts an empty object at `<prefix>.ready` (the same key every time, so nothing piles up): the
   * bucket is reachable and these credentials may write to it, what storing an image needs.
   */
  async checkWritable(timeoutMs: number): Promise<void> {
    const key = `${this.config.prefix}.ready`;
    const probe = new PutObjectCommand({ Bucket: this.config.bucket, Key: key, Body: Buffer.alloc(0), ContentLength: 0, ContentType: 'text/plain' });
    await this.client.send(probe, { abortSignal: AbortSignal.timeout(timeoutMs) });
  }

  /**
   * A direct link to the image: presigned (valid ttlSeconds, at most 7 days) or public, per
   * S3Config.links. null: use the gateway's signed link (links: gateway, or the default chain's
   * credentials not resolved yet). With temporary credentials (an instance or task role), S3
   * refuses a presigned link once the credentials that signed it expire, even within ttlSeconds.
   */
  linkFor(name: string, ttlSeconds: number): string | null {
    if (!SAFE_NAME.test(name) || GATEWAY_LINK_ONLY.test(name)) return null;
    if (this.config.links === 'public') return `${this.config.publicBaseUrl}/${encodeKey(this.keyOf(name))}`;
    if (this.config.links !== 'presigned') return null;
    if (this.needsCredentials()) void this.refreshCredentials();
    const credentials = this.credentials;
    if (!credentials || (credentials.expiration && credentials.expiration.getTime() <= this.now())) return null;
    return this.presign(this.keyOf(name), ttlSeconds, credentials);
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    this.client.destroy();
  }

  keyOf(name: string): string {
    return `${this.config.prefix}${name}`;
  }

  /** SigV4 query-string presigning of a GET, as @aws-sdk/s3-request-presigner does it, but synchronous. */
  private presign(key: string, ttlSeconds: number, credentials: Credentials): string {
    const { protocol, host, pathPrefix } = this.origin;
    const path = `${pathPrefix}${encodeKey(key)}`;
    const amzDate = new Date(this.now()).toISOString().replace(/[-:]|\.\d{3}/g, ''); // 20240102T030405Z
    const scope = `${amzDate.slice(0, 8)}/${this.config.region}/s3/aws4_request`;
    const expires = Math.min(MAX_PRESIGNED_TTL_SECONDS, Math.max(1, Math.ceil(ttlSeconds)));
    const params: [string, string][] = [
      ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
      ['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD'],
      ['X-Amz-Credential', `${credentials.accessKeyId}/${scope}`],
      ['X-Amz-Date', amzDate],
      ['X-Amz-Expires', String(expires)],
      ...(credentials.sessionToken ? ([['X-Amz-Security-Token', credentials.sessionToken]] as [string, string][]) : []),
      ['X-Amz-SignedHeaders', 'host'],
      ['x-id', 'GetObject'],
    ];
    const query = params
      .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalRequest = ['GET', path, query, `host:${host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
    const signature = createHmac('sha256', this.signingKey(scope, credentials.secretAccessKey)).update(stringToSign).digest('hex');
    return `${protocol}//${host}${path}?${query}&X-Amz-Signature=${signature}`;
  }

  /** The derived SigV4 key: one per day, region and secret. */
  private signingKey(scope: string, secret: string): Buffer {
    const cached = this.signingKeyCache;
    if (cached && cached.scope === scope && cached.secret === secret) return cached.key;
    const [date = '', region = '', service = '', terminator = ''] = scope.split('/');
    let key = createHmac('sha256', `AWS4${secret}`).update(date).digest();
    for (const part of [region, service, terminator]) key = createHmac('sha256', key).update(part).digest();
    this.signingKeyCache = { scope, secret, key };
    return key;
  }

  private needsCredentials(): boolean {
    if (this.config.links !== 'presigned' || this.config.credentials) return false;
    const expiration = this.credentials?.expiration;
    return !this.credentials || (expiration !== undefined && expiration.getTime() - this.now() < CREDENTIALS_REFRESH_MS);
  }

  /** The default chain's credentials (memoized and refreshed by the SDK), kept for presigning. */
  private refreshCredentials(): Promise<void> {
    this.refreshing ??= this.client.config
      .credentials()
      .then((c) => {
        this.credentials = c;
      })
      // No credentials: links fall back to the gateway's; puts fail with the SDK's own error.
      .catch(() => {})
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}

/**
 * Where object URLs start, following the SDK's endpoint rules: virtual-hosted
 * (`<bucket>.<host>`) unless path style is forced, the endpoint is an IP address, or the bucket
 * has dots and the scheme is https (its certificate would not match).
 */
function objectOrigin(config: S3Config): { protocol: string; host: string; pathPrefix: string } {
  const endpoint = new URL(config.endpoint ?? `https://s3.${config.region}.${config.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`);
  const basePath = endpoint.pathname.replace(/\/+$/, '');
  const hostname = endpoint.hostname.replace(/^\[|\]$/g, '');
  const pathStyle = config.forcePathStyle || isIP(hostname) !== 0 || (config.bucket.includes('.') && endpoint.protocol === 'https:');
  return pathStyle
    ? { protocol: endpoint.protocol, host: endpoint.host, pathPrefix: `${basePath}/${encodeRfc3986(config.bucket)}/` }
    : { protocol: endpoint.protocol, host: `${config.bucket}.${endpoint.host}`, pathPrefix: `${basePath}/` };
}

function isMissing(err: unknown): boolean {
  const name = err instanceof Error ? err.name : undefined;
  return name === 'NoSuchKey' || name === 'NotFound';
}

/** RFC 3986 percent-encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An object key in a URL path: each segment encoded, the slashes kept. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeRfc3986).join('/');
}
