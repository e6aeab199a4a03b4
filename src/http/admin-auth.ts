/** `Authorization: Bearer $IMAGEGATE_ADMIN_KEY` for every /admin route. */
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

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
