/** What every image route does before its work: the key's rate limits, and the Idempotency-Key header. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KeyIdentity } from '../billing/api-keys.js';
import type { RateLimiter } from '../billing/rate-limits.js';
import { invalidRequest } from '../core/errors.js';
import { whenAnswerCloses } from './answer-closed.js';

/** The key's RPM and concurrency limits (429 when over); the slot is freed when the answer is done. */
export async function admitKey(key: KeyIdentity | null, reply: FastifyReply, limiter: RateLimiter): Promise<void> {
  if (!key) return;
  const admission = await limiter.admit(key.id, { rpm: key.policy.rpm, maxConcurrent: key.policy.maxConcurrent });
  void reply.headers(admission.headers);
  whenAnswerCloses(reply.raw, () => admission.release());
}

const MAX_IDEMPOTENCY_KEY_CHARS = 255;

/** The Idempotency-Key header: absent is null; present, one value of 1 to 255 characters. */
export function readIdempotencyKey(request: FastifyRequest): string | null {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return null;
  const value = Array.isArray(header) ? null : header.trim();
  if (value === null || value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY_CHARS) {
    throw invalidRequest('Idempotency-Key', 'invalid_value', `Send one Idempotency-Key header of 1 to ${MAX_IDEMPOTENCY_KEY_CHARS} characters.`);
  }
  return value;
}
