// What every answer of the OpenAI simulator is made of: JSON bodies with OpenAI's headers
// (x-request-id), its error envelope, and the request body read as JSON.
import { randomBytes } from 'node:crypto';
import type { SimResponse } from '../http-server.js';
import type { SimApiError } from './params.js';

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function requestId(): string {
  return `req_${randomBytes(16).toString('hex')}`;
}

/** A body read as JSON: `ok: false` when it is empty or not JSON (the simulator words the 400). */
export type ParsedJson = { ok: true; value: unknown } | { ok: false };

export function parseJson(body: Buffer): ParsedJson {
  if (body.length === 0) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

export function jsonBuffer(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', 'x-request-id': requestId(), ...extra };
}

export function jsonResponse(status: number, value: unknown, extra: Record<string, string> = {}): SimResponse {
  return { kind: 'full', status, headers: jsonHeaders(extra), body: jsonBuffer(value) };
}

export function errorResponse(err: SimApiError): SimResponse {
  const envelope = { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
  return jsonResponse(err.status, envelope, err.headers);
}
