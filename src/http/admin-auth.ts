/** `Authorization: Bearer $IMAGEGATE_ADMIN_KEY` for every /admin route (and the readiness probe's details). */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { gatewayError, invalidApiKey } from '../core/errors.js';
import { bearerToken } from './auth.js';

export function createAdminAuthHook(adminKey: string | undefined) {
  const expected = adminKey ? digest(adminKey) : undefined;
  return async (request: FastifyRequest): Promise<void> => {
    if (!expected) {
      throw gatewayError('admin_disabled', 'The admin API is off: set IMAGEGATE_ADMIN_KEY to use it.');
    }
    const token = bearerToken(request);
    if (!token) throw invalidApiKey("You didn't provide the admin key. Send it as 'Authorization: Bearer IMAGEGATE_ADMIN_KEY'.");
    if (!timingSafeEqual(digest(token), expected)) throw invalidApiKey('Incorrect admin key provided.');
  };
}

/**
 * Whether the request carries the admin key, never refusing it: for public routes that show
 * more to the admin (the readiness probe's details). False when the admin API is off.
 */
export function createAdminKeyTest(adminKey: string | undefined): (request: FastifyRequest) => boolean {
  const expected = adminKey ? digest(adminKey) : undefined;
  return (request) => {
    const token = expected ? bearerToken(request) : null;
    return expected !== undefined && token !== null && timingSafeEqual(digest(token), expected);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
