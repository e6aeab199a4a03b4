/** Images in an S3 bucket (s3rver in process): the store, its links, its config, and the gateway on it. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type S3Config } from '../src/config.js';
import { S3ImageStore } from '../src/storage/s3-store.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import { S3RVER_CREDENTIALS, startS3, type TestS3 } from './helpers/s3.js';

closeAfterEach();

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4c40000000049454e44ae426082',
  'hex',
);

function storeConfig(s3: TestS3, over: Partial<S3Config> = {}): S3Config {
  return {
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    prefix: 'images/',
    links: 'gateway',
    publicBaseUrl: undefined,
    ...over,
  };
}

function openStore(config: S3Config, now?: () => number): S3ImageStore {
  return later(new S3ImageStore(config, now ? { now } : {}));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function objectKeys(s3: TestS3): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '');
}

async function exists(s3: TestS3, key: string): Promise<boolean> {
  try {
    await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as Error).name === 'NotFound') return false;
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('S3ImageStore', () => {
  it('put / open / delete round trip, with the content type from the name', async () => {
    const s3 = later(await startS3());
    const store = openStore(storeConfig(s3));
    await store.put('roundtrip.png', PNG);
    await store.put('photo.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    expect((await objectKeys(s3)).sort()).toEqual(['images/photo.jpg', 'images/roundtrip.png']);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'images/roundtrip.png' }));
    expect(head.ContentType).toBe('image/png');
    expect((await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'images/photo.jpg' }))).ContentType).toBe('image/jpeg');

    const file = await store.open('roundtrip.png');
    expect(file?.size).toBe(PNG.length);
    expect((await readAll(file!.stream)).equals(PNG)).toBe(true);

    await store.delete('roundtrip.png');
    expect(await store.open('roundtrip.png')).toBeNull();
    await store.delete('roundtrip.png'); // missing is fine
    expect(await objectKeys(s3)).toEqual(['images/photo.jpg']);
  });

  it('open of a missing or unsafe name is null', async () => {
    const s3 = later(await startS3());
    const store = openStore(storeConfig(s3));
    expect(await store.open('never-stored.png')).toBeNull();
    expect(await store.open('../images/x.png')).toBeNull();
    expect(store.linkFor('never-stored.png', 60)).toBeNull(); // gateway links
  });

  it('a prefix is put before every key, as given', async () => {
    const s3 = later(await startS3());
    const store = openStore(storeConfig(s3, { prefix: 'tenant-a/img/' }));
    await store.put('p.png', PNG);
    expect(await objectKeys(s3)).toEqual(['tenant-a/img/p.png']);
    expect((await store.open('p.png'))?.size).toBe(PNG.length);
  });

  it('presigned links download with fetch, and stop working after their TTL', async () => {
    const s3 = later(await startS3());
    const store = openStore(storeConfig(s3, { links: 'presigned' }));
    await store.put('signed.png', PNG);
    const url = store.linkFor('signed.png', 1);
    expect(url?.startsWith(`${s3.endpoint}/${s3.bucket}/images/signed.png?`)).toBe(true);
    expect(new URL(url!).searchParams.get('X-Amz-Expires')).toBe('1');
    const res = await fetch(url!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
    await sleep(2100);
    const late = await fetch(url!);
    expect(late.status).toBe(403);
    expect(await late.text()).toContain('Request has expired');
    // TTLs are whole seconds, at most 7 days.
    expect(new URL(store.linkFor('signed.png', 1e9)!).searchParams.get('X-Amz-Expires')).toBe('604800');
    expect(new URL(store.linkFor('signed.png', 0.2)!).searchParams.get('X-Amz-Expires')).toBe('1');
  });

  it('public links are <base>/<prefix><name>, unsigned', async () => {
    const s3 = later(await startS3());
    // s3rver serves anonymous reads, like a public-read bucket.
    const store = openStore(storeConfig(s3, { links: 'public', publicBaseUrl: `${s3.endpoint}/${s3.bucket}` }));
    await store.put('open.png', PNG);
    const url = store.linkFor('open.png', 60);
    expect(url).toBe(`${s3.endpoint}/${s3.bucket}/images/open.png`);
    expect(Buffer.from(await (await fetch(url!)).arrayBuffer()).equals(PNG)).toBe(true);
  });

  describe('presigning matches @aws-sdk/s3-request-presigner exactly', () => {
    const at = Date.UTC(2025, 2, 4, 5, 6, 7);
    const keys = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const cases: [string, Partial<S3Config>][] = [
      ['AWS, us-east-1, virtual-hosted', { endpoint: undefined, forcePathStyle: false }],
      ['AWS, eu-west-1, path style', { endpoint: undefined, region: 'eu-west-1', forcePathStyle: true }],
      ['AWS, a bucket with dots over https', { endpoint: undefined, bucket: 'my.images.bucket', region: 'ap-southeast-2', forcePathStyle: false }],
      ['AWS China', { endpoint: undefined, region: 'cn-north-1', forcePathStyle: false }],
      ['R2 (region auto, virtual-hosted)', { endpoint: 'https://0123abcd.r2.cloudflarestorage.com', region: 'auto', forcePathStyle: false }],
      ['MinIO on a port, path style', { endpoint: 'http://minio.internal:9000', forcePathStyle: true }],
      ['MinIO on a port, virtual-hosted', { endpoint: 'http://minio.internal:9000', forcePathStyle: false }],
      ['an IP endpoint is always path style', { endpoint: 'http://10.1.2.3:9000', forcePathStyle: false }],
      ['an endpoint with a base path', { endpoint: 'https://storage.example.com/s3', forcePathStyle: true }],
      ['a prefix that needs encoding', { endpoint: 'https://storage.example.com', prefix: "odd(1)!/it's*/", forcePathStyle: true }],
    ];
    for (const [title, over] of cases) {
      it(title, async () => {
        const config: S3Config = {
          bucket: 'imagegate-images',
          endpoint: undefined,
          region: 'us-east-1',
          credentials: keys,
          forcePathStyle: false,
          prefix: 'images/',
          links: 'presigned',
          publicBaseUrl: undefined,
          ...over,
        };
        const store = openStore(config, () => at);
        const ours = store.linkFor('AbC_12-x.webp', 3600);
        const sdk = await getSignedUrl(store.client, new GetObjectCommand({ Bucket: config.bucket, Key: store.keyOf('AbC_12-x.webp') }), {
          expiresIn: 3600,
          signingDate: new Date(at),
        });
        expect(normalized(ours!)).toEqual(normalized(sdk));
      });
    }

    it('temporary credentials from the default chain: a gateway link until they resolve, then presigned with the token', async () => {
      const session = { ...keys, sessionToken: 'FQoGZXIvYXdzE//token+with/odd=chars', expiration: new Date(at + 3_600_000) };
      const config: S3Config = {
        bucket: 'imagegate-images',
        endpoint: undefined,
        region: 'eu-central-1',
        credentials: undefined,
        forcePathStyle: false,
        prefix: 'images/',
        links: 'presigned',
        publicBaseUrl: undefined,
      };
      const store = later(new S3ImageStore(config, { now: () => at, client: { credentials: async () => session } }));
      const first = store.linkFor('t.png', 600);
      await sleep(10);
      const ours = store.linkFor('t.png', 600);
      expect(first === null || first === ours).toBe(true);
      expect(new URL(ours!).searchParams.get('X-Amz-Security-Token')).toBe(session.sessionToken);
      const sdk = await getSignedUrl(store.client, new GetObjectCommand({ Bucket: config.bucket, Key: 'images/t.png' }), {
        expiresIn: 600,
        signingDate: new Date(at),
      });
      expect(normalized(ours!)).toEqual(normalized(sdk));
    });
  });
});

/** A URL as origin + path + sorted query, so parameter order does not matter. */
function normalized(url: string): { base: string; query: [string, string][] } {
  const u = new URL(url);
  return { base: `${u.origin}${u.pathname}`, query: [...u.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : 1)) };
}

describe('S3 config (IMAGEGATE_S3_*)', () => {
  const base = { IMAGEGATE_DATA_DIR: '/tmp/imagegate-s3-config' };
  const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });
  const refusal = (env: Record<string, string>) => {
    try {
      load(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('is off without a bucket, with defaults otherwise', () => {
    expect(load({}).s3).toBeUndefined();
    expect(load({ IMAGEGATE_S3_BUCKET: 'my-images' }).s3).toEqual({
      bucket: 'my-images',
      endpoint: undefined,
      region: 'us-east-1',
      credentials: undefined,
      forcePathStyle: false,
      prefix: 'images/',
      links: 'gateway',
      publicBaseUrl: undefined,
    });
    expect(
      load({
        IMAGEGATE_S3_BUCKET: 'my-images',
        IMAGEGATE_S3_ENDPOINT: 'http://127.0.0.1:9000/',
        IMAGEGATE_S3_REGION: 'auto',
        IMAGEGATE_S3_ACCESS_KEY_ID: 'id',
        IMAGEGATE_S3_SECRET_ACCESS_KEY: 'secret',
        IMAGEGATE_S3_FORCE_PATH_STYLE: 'true',
        IMAGEGATE_S3_PREFIX: 'gw/',
        IMAGEGATE_S3_LINKS: 'presigned',
        IMAGEGATE_URL_TTL: '7d',
      }).s3,
    ).toEqual({
      bucket: 'my-images',
      endpoint: 'http://127.0.0.1:9000',
      region: 'auto',
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
      forcePathStyle: true,
      prefix: 'gw/',
      links: 'presigned',
      publicBaseUrl: undefined,
    });
    expect(load({ IMAGEGATE_S3_BUCKET: 'b-1', IMAGEGATE_S3_PUBLIC_BASE_URL: 'https://cdn.example.com/' }).s3).toMatchObject({
      links: 'public',
      publicBaseUrl: 'https://cdn.example.com',
    });
  });

  it('reads the config file keys too', async () => {
    const file = await writeConfigFile({
      s3_bucket: 'from-file',
      s3_endpoint: 'https://s3.example.com',
      s3_force_path_style: true,
      s3_links: 'presigned',
      s3_prefix: '',
    });
    expect(load({ IMAGEGATE_CONFIG: file }).s3).toMatchObject({
      bucket: 'from-file',
      endpoint: 'https://s3.example.com',
      forcePathStyle: true,
      links: 'presigned',
      prefix: '',
    });
  });

  it('refuses bad values, naming the variable', () => {
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'My_Bucket' })).toMatch(/^IMAGEGATE_S3_BUCKET: 'My_Bucket' is not a bucket name/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ab' })).toMatch(/^IMAGEGATE_S3_BUCKET:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: '192.168.1.1' })).toMatch(/^IMAGEGATE_S3_BUCKET:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'a..b' })).toMatch(/^IMAGEGATE_S3_BUCKET:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_ENDPOINT: 'minio:9000' })).toMatch(/^IMAGEGATE_S3_ENDPOINT:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_ENDPOINT: 'ftp://minio' })).toMatch(/^IMAGEGATE_S3_ENDPOINT: .* must be an http\(s\) URL/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_LINKS: 'cdn' })).toBe("IMAGEGATE_S3_LINKS: 'cdn' is not one of gateway, presigned");
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_LINKS: 'presigned', IMAGEGATE_URL_TTL: '8d' })).toMatch(/^IMAGEGATE_URL_TTL: .*7d/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_LINKS: 'presigned', IMAGEGATE_S3_PUBLIC_BASE_URL: 'https://cdn.example.com' })).toMatch(
      /^IMAGEGATE_S3_LINKS:/,
    );
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_PUBLIC_BASE_URL: 'cdn.example.com' })).toMatch(/^IMAGEGATE_S3_PUBLIC_BASE_URL:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_ACCESS_KEY_ID: 'id' })).toMatch(/^IMAGEGATE_S3_SECRET_ACCESS_KEY:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_SECRET_ACCESS_KEY: 's' })).toMatch(/^IMAGEGATE_S3_ACCESS_KEY_ID:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_FORCE_PATH_STYLE: 'maybe' })).toMatch(/^IMAGEGATE_S3_FORCE_PATH_STYLE:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_PREFIX: '/abs/' })).toMatch(/^IMAGEGATE_S3_PREFIX:/);
    expect(refusal({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_S3_REGION: 'US East' })).toMatch(/^IMAGEGATE_S3_REGION:/);
    expect(refusal({ IMAGEGATE_S3_ENDPOINT: 'http://127.0.0.1:9000' })).toMatch(/^IMAGEGATE_S3_ENDPOINT: set IMAGEGATE_S3_BUCKET too/);
  });

  it('a long TTL is fine with gateway links', () => {
    expect(load({ IMAGEGATE_S3_BUCKET: 'ok-bucket', IMAGEGATE_URL_TTL: '30d' }).urlTtlSeconds).toBe(30 * 86400);
  });
});

describe('the gateway on a bucket', () => {
  async function gatewayOn(s3: TestS3, env: Record<string, string> = {}): Promise<TestGateway> {
    return later(await startGateway({ ...s3.env, ...env }));
  }

  async function generateUrl(gw: TestGateway): Promise<string> {
    const res = await gw.client.images.generate({ prompt: 'a bucket of paint', size: '1024x1024', response_format: 'url' });
    return res.data![0]!.url!;
  }

  it('gateway links: the image is written to the bucket (not the data dir) and streamed back through /files', async () => {
    const s3 = later(await startS3());
    const gw = await gatewayOn(s3);
    const url = await generateUrl(gw);
    expect(url.startsWith(`${gw.origin}/files/`)).toBe(true);
    const name = new URL(url).pathname.slice('/files/'.length);
    expect(await objectKeys(s3)).toEqual([`images/${name}`]);
    expect(existsSync(join(gw.app.config.dataDir, 'images'))).toBe(false);

    const stored = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `images/${name}` }));
    expect(stored.ContentType).toBe('image/png');
    const inBucket = Buffer.from(await stored.Body!.transformToByteArray());
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Number(res.headers.get('content-length'))).toBe(inBucket.length);
    const served = Buffer.from(await res.arrayBuffer());
    expect(served.equals(inBucket)).toBe(true);
    expect(await describeImage(served)).toEqual({ format: 'png', width: 1024, height: 1024 });
    // The gateway's signature is still checked.
    expect((await fetch(url.replace(/sig=[^&]+/, 'sig=forged'))).status).toBe(403);
  });

  it('presigned links: the answer links straight to the bucket, for responses and tasks alike', async () => {
    const s3 = later(await startS3());
    const gw = await gatewayOn(s3, { IMAGEGATE_S3_LINKS: 'presigned', IMAGEGATE_URL_TTL: '10m', IMAGEGATE_TASK_POLL: '50ms' });
    const url = await generateUrl(gw);
    expect(url.startsWith(`${s3.endpoint}/${s3.bucket}/images/`)).toBe(true);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('600');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'png', width: 1024, height: 1024 });

    // Tasks sign their links through the same ImageOutput.signedUrl.
    const submitted = await postJson(gw, '/v1/images/generations', { prompt: 'later', size: '1024x1024' }, { 'x-new-api-async-task': 'true' });
    expect(submitted.status).toBe(200);
    const id = String((submitted.json?.data as { task_id: string }).task_id);
    let task: { status: string; result_url: string } | undefined;
    for (let i = 0; i < 400 && task?.status !== 'succeeded'; i++) {
      if (i > 0) await sleep(25);
      const view = await fetch(`${gw.baseURL}/images/tasks/${id}`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
      task = ((await view.json()) as { data: { status: string; result_url: string } }).data;
    }
    expect(task?.status).toBe('succeeded');
    expect(task!.result_url.startsWith(`${s3.endpoint}/${s3.bucket}/images/`)).toBe(true);
    expect((await fetch(task!.result_url)).status).toBe(200);
  });

  it('public links: <base>/<prefix><name>', async () => {
    const s3 = later(await startS3());
    const gw = await gatewayOn(s3, { IMAGEGATE_S3_PUBLIC_BASE_URL: `${s3.endpoint}/${s3.bucket}/`, IMAGEGATE_S3_PREFIX: 'pub/' });
    const url = await generateUrl(gw);
    expect(url).toMatch(new RegExp(`^${s3.endpoint}/${s3.bucket}/pub/[A-Za-z0-9_-]+\\.png$`));
    // Read to its end: an answer left unread holds its connection, and the server's close waits for it.
    const image = await fetch(url);
    await image.arrayBuffer();
    expect(image.status).toBe(200);
  });

  it('the retention sweeper deletes from the bucket; the link then answers 404', async () => {
    const s3 = later(await startS3());
    const gw = await gatewayOn(s3, { IMAGEGATE_RETENTION: '1s' });
    const url = await generateUrl(gw);
    const key = `images/${new URL(url).pathname.slice('/files/'.length)}`;
    expect(await exists(s3, key)).toBe(true);
    await sleep(1100);
    expect(await gw.app.sweeper.sweep()).toBe(1);
    expect(await exists(s3, key)).toBe(false);
    expect(await objectKeys(s3)).toEqual([]);
    const res = await fetch(url);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('image_not_found');
  });

  it('written by one instance, served by another (same bucket, same IMAGEGATE_URL_SECRET)', async () => {
    const s3 = later(await startS3());
    const secret = { IMAGEGATE_URL_SECRET: 'shared-url-secret-for-both-instances' };
    const a = await gatewayOn(s3, secret);
    const b = await gatewayOn(s3, secret);
    expect(a.app.config.dataDir).not.toBe(b.app.config.dataDir);
    const url = await generateUrl(a);
    const viaB = url.replace(a.origin, b.origin);
    expect(viaB).not.toBe(url);
    const res = await fetch(viaB);
    expect(res.status).toBe(200);
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'png', width: 1024, height: 1024 });
    // An instance with another secret refuses the link, though it reads the same bucket.
    const c = await gatewayOn(s3, { IMAGEGATE_URL_SECRET: 'some-other-secret' });
    expect((await fetch(url.replace(a.origin, c.origin))).status).toBe(403);
  });
});
