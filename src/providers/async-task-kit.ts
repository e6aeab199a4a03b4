/**
 * Pieces the providers share: the channel request (every vendor's call, its key and headers), and
 * for the submit-then-poll ones the JSON envelope check and url image lists. Each protocol's fields
 * and error shapes stay in its folder.
 */
import type { ChannelCall } from '../core/channel.js';
import type { UpstreamImage } from '../core/job.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import { channelPool, type Transport, type UpstreamBody, type UpstreamResponse } from './transport.js';

export type JsonObject = Record<string, unknown>;

export interface TaskRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  /** Protocol headers; the channel's key and its configured headers are added after them. */
  headers?: Record<string, string>;
  /** Sent as JSON (with its content-type). */
  json?: unknown;
  /** Sent as it is, e.g. a multipart form; `contentType` names it. */
  raw?: { body: UpstreamBody; contentType: string };
  /** The key's header when the protocol does not take a bearer token (fal: `Authorization: Key <key>`). */
  keyHeaders?: (apiKey: string) => Record<string, string>;
}

/** One request to a channel: its key as a bearer token, its own headers last (they win), its timeout. */
export function sendToChannel(transport: Transport, call: ChannelCall, request: TaskRequest, signal: AbortSignal): Promise<UpstreamResponse> {
  const { channel } = call;
  const body = request.raw ?? (request.json !== undefined ? { body: JSON.stringify(request.json), contentType: 'application/json' } : undefined);
  return transport.send({
    method: request.method,
    url: request.url,
    headers: { ...(body ? { 'content-type': body.contentType } : {}), ...request.headers, ...keyAuth(call, request), ...channel.headers },
    ...(body ? { body: body.body } : {}),
    timeoutMs: channel.timeoutMs,
    signal,
    pool: channelPool(channel),
  });
}

function keyAuth({ apiKey }: ChannelCall, { keyHeaders }: TaskRequest): Record<string, string> {
  if (!apiKey) return {};
  return keyHeaders ? keyHeaders(apiKey) : { authorization: `Bearer ${apiKey}` };
}

/**
 * `data` of a 2xx JSON envelope. Non-2xx answers become `failure(res)`; `checkCode` throws for
 * the protocol's in-body error codes.
 */
export function envelopeData(res: UpstreamResponse, failure: (res: UpstreamResponse) => UpstreamFailure, checkCode: (json: JsonObject) => void): JsonObject {
  if (res.status < 200 || res.status >= 300) throw failure(res);
  const json = parseJsonObject(res.body);
  if (!json) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  checkCode(json);
  if (!isJsonObject(json.data)) throw new UpstreamFailure('protocol', 'upstream answer has no data object');
  return json.data;
}

/** The body as a JSON object; null for anything else (not JSON, an array, a string...). */
export function parseJsonObject(body: Buffer): JsonObject | null {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return isJsonObject(value) ? value : null;
  } catch {
    return null;
  }
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The non-empty strings of a JSON array; nothing when it is not one. */
export function nonEmptyStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(nonEmpty).filter((u) => u !== undefined) : [];
}

export function urlImages(urls: readonly string[]): UpstreamImage[] {
  return urls.map((url) => ({ kind: 'url', url }));
}
