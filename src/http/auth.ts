/** `Authorization: Bearer <key>` for every /v1 route. */
import type { FastifyRequest } from 'fastify';
import type { ApiKeyService, KeyIdentity } from '../billing/api-keys.js';
import { invalidApiKey } from '../core/errors.js';

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
    if (!identity) throw invalidApiKey(`Incorrect API key provided: ${maskKey(token)}.`);
    request.apiKey = identity;
  };
}

/** As OpenAI does: show only the ends of a rejected key. */
function maskKey(token: string): string {
  return token.length <= 8 ? '***' : `${token.slice(0, 3)}***${token.slice(-4)}`;
}
