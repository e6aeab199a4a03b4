/** An S3-compatible server in process (s3rver) on 127.0.0.1 with a temp directory and one bucket. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';

/** The part of s3rver (untyped, CommonJS) these tests use. */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverServer;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

/** s3rver accepts only its built-in key pair (and does not check SigV4 signatures, only their expiry). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface TestS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  /** IMAGEGATE_S3_* for a gateway storing into this bucket (add IMAGEGATE_S3_LINKS etc. as needed). */
  env: Record<string, string>;
  /** An SDK client for looking into the bucket. */
  client: S3Client;
  close(): Promise<void>;
}

export async function startS3(bucket = 'imagegate-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'imagegate-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  return {
    endpoint,
    bucket,
    client,
    env: {
      IMAGEGATE_S3_BUCKET: bucket,
      IMAGEGATE_S3_ENDPOINT: endpoint,
      IMAGEGATE_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      IMAGEGATE_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      IMAGEGATE_S3_FORCE_PATH_STYLE: 'true',
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
