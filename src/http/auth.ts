/** `Authorization: Bearer <key>` for every /v1 route. */
import type { FastifyRequest } from 'fastify';
import type { ApiKeyService, KeyIdentity } from '../billing/api-keys.js';
import { checkClientAddress, checkKeyUsable } from '../billing/access.js';
import { invalidApiKey } from '../core/errors.js';
import { maskSecret } from './redact.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: KeyIdentity | null;
  }
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export function createAuthHook(keys: ApiKeyService) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    if (!token) {
      throw invalidApiKey("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.");
    }
    const identity = await keys.authenticate(token);
    if (!identity) throw invalidApiKey(`Incorrect API key provided: ${maskSecret(token)}.`);
    checkKeyUsable(identity.policy, Date.now());
    checkClientAddress(identity.policy, request.ip);
    request.apiKey = identity;
  };
}
