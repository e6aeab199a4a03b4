/** The measured requests: one POST /v1/images/generations (plus the image GET in url mode). */
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { GATEWAY_API_KEY, UPSTREAM_API_KEY } from './keys.js';

export type Target = 'direct' | 'pipe' | 'imagegate';
export type Format = 'b64_json' | 'url';

export const TARGETS: readonly Target[] = ['direct', 'pipe', 'imagegate'];
export const FORMATS: readonly Format[] = ['b64_json', 'url'];

export interface Endpoint {
  target: Target;
  origin: string;
  pool: Pool;
  /** The `size` asked for: 'auto' where the simulator's image is not 1024 px (imagegate would resize it). */
  size: string;
}

/** One request of a cell: resolves with the bytes received, throws on anything but success. */
export type Send = () => Promise<number>;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Bytes kept from each body for checks and error messages. */
const HEAD_BYTES = 512;
/** The answer's size may drift a few bytes (e.g. timestamps); a missing image would not. */
const SIZE_SLACK = 64;
const TIMEOUT_MS = 60_000;

export function createEndpoint(target: Target, origin: string, connections: number, size = '1024x1024'): Endpoint {
  const pool = new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
  return { target, origin, pool, size };
}

/**
 * direct and pipe talk to the simulator, which answers GPT models in b64 and rejects
 * response_format; only imagegate is told which form to answer in.
 */
export function generationBody(ep: Endpoint, format: Format): string {
  const base = { model: 'gpt-image-2', prompt: 'bench', size: ep.size };
  return JSON.stringify(ep.target === 'imagegate' ? { ...base, response_format: format } : base);
}

export function apiKey(target: Target): string {
  return target === 'imagegate' ? GATEWAY_API_KEY : UPSTREAM_API_KEY;
}

async function post(ep: Endpoint, body: string) {
  return ep.pool.request({
    path: '/v1/images/generations',
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey(ep.target)}`, 'content-type': 'application/json' },
    body,
  });
}

interface Drained {
  bytes: number;
  head: Buffer;
}

/**
 * Each chunk as the parser hands it over ('data' events). An async iterator reads with
 * `Readable.read()`, which joins whatever is buffered with a copy: a chunked answer's framing cuts
 * most 64 KiB socket reads in two, so that reader paid ~1.2 ms more CPU per 2.9 MB answer for a
 * chunked answer (imagegate's) than for one with a content-length (the pipe's, the simulator's).
 */
function eachChunk(body: Readable, take: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    body.on('data', take);
    body.once('end', resolve);
    body.once('error', reject);
  });
}

/** Reads a body to its end, counting bytes but keeping only the first few. */
async function drain(body: Readable): Promise<Drained> {
  let bytes = 0;
  const head: Buffer[] = [];
  await eachChunk(body, (chunk) => {
    if (bytes < HEAD_BYTES) head.push(chunk.subarray(0, HEAD_BYTES - bytes));
    bytes += chunk.length;
  });
  return { bytes, head: Buffer.concat(head) };
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await eachChunk(body, (chunk) => chunks.push(chunk));
  return Buffer.concat(chunks);
}

function expectOk(status: number, head: Buffer): void {
  if (status !== 200) throw new Error(`HTTP ${status}: ${head.toString('utf8', 0, 200)}`);
}

/** The b64 answer, read in full but parsed only by its first bytes (the client's CPU is shared). */
export function b64Sender(ep: Endpoint, format: Format, expectedBytes: number): Send {
  const body = generationBody(ep, format);
  return async () => {
    const res = await post(ep, body);
    const { bytes, head } = await drain(res.body);
    expectOk(res.statusCode, head);
    if (!head.includes('"b64_json":"')) throw new Error(`answer has no b64_json: ${head.toString('utf8', 0, 120)}`);
    if (Math.abs(bytes - expectedBytes) > SIZE_SLACK) throw new Error(`answer has ${bytes} bytes, expected ~${expectedBytes}`);
    return bytes;
  };
}

/** url mode: the answer, then the image it links to, on the same keep-alive pool (full delivery). */
export function urlSender(ep: Endpoint, imageBytes: number): Send {
  const body = generationBody(ep, 'url');
  return async () => {
    const res = await post(ep, body);
    const answer = await collect(res.body);
    expectOk(res.statusCode, answer);
    const link = new URL(firstImage(answer, 'url'));
    if (link.origin !== ep.origin) throw new Error(`image URL ${link.origin} is not on ${ep.origin}`);
    const image = await ep.pool.request({ path: link.pathname + link.search, method: 'GET' });
    const { bytes, head } = await drain(image.body);
    expectOk(image.statusCode, head);
    checkPng(head, bytes, imageBytes);
    return answer.length + bytes;
  };
}

/** Fully checks one b64 answer (decoded image intact); returns its size for the quick checks. */
export async function probeB64(ep: Endpoint, format: Format, imageBytes: number): Promise<number> {
  return decodingSender(ep, format, imageBytes)();
}

/** What an SDK does with each answer: parse the JSON, decode the image (--client-parse). */
export function decodingSender(ep: Endpoint, format: Format, imageBytes: number): Send {
  const body = generationBody(ep, format);
  return async () => {
    const res = await post(ep, body);
    const answer = await collect(res.body);
    expectOk(res.statusCode, answer);
    const image = Buffer.from(firstImage(answer, 'b64_json'), 'base64');
    checkPng(image, image.length, imageBytes);
    return answer.length;
  };
}

function firstImage(answer: Buffer, field: 'url' | 'b64_json'): string {
  const json: unknown = JSON.parse(answer.toString('utf8'));
  const data = typeof json === 'object' && json !== null ? (json as { data?: unknown }).data : undefined;
  const first: unknown = Array.isArray(data) ? data[0] : undefined;
  const value = typeof first === 'object' && first !== null ? (first as Record<string, unknown>)[field] : undefined;
  if (typeof value !== 'string') throw new Error(`answer has no data[0].${field}`);
  return value;
}

function checkPng(head: Buffer, bytes: number, expected: number): void {
  if (!head.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('image is not a PNG');
  if (bytes !== expected) throw new Error(`image has ${bytes} bytes, expected ${expected}`);
}
