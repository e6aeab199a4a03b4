/** What a key may reach: enabled and unexpired (401), from its allowed addresses and for its allowed models (403). */
import { BlockList, isIP } from 'node:net';
import { GatewayError } from '../core/errors.js';
import { addException } from '../net/address-policy.js';
import type { KeyPolicy } from './api-keys.js';

export function checkKeyUsable(policy: KeyPolicy, now: number): void {
  if (!policy.enabled) throw new GatewayError(401, 'invalid_request_error', 'api_key_disabled', null, 'This API key is disabled.');
  if (policy.expiresAt !== null && policy.expiresAt <= now) {
    throw new GatewayError(401, 'invalid_request_error', 'api_key_expired', null, `This API key expired at ${new Date(policy.expiresAt).toISOString()}.`);
  }
}

export function checkClientAddress(policy: KeyPolicy, ip: string): void {
  if (policy.allowedIps === null) return;
  const allowed = new BlockList();
  for (const entry of policy.allowedIps) addException(allowed, entry);
  const address = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(address);
  if (family === 0 || !allowed.check(address, family === 4 ? 'ipv4' : 'ipv6')) {
    throw new GatewayError(403, 'permission_error', 'ip_not_allowed', null, `This API key may not be used from ${ip}.`);
  }
}

export function checkModelAllowed(policy: KeyPolicy, modelId: string): void {
  if (policy.allowedModels === null || policy.allowedModels.includes(modelId)) return;
  throw new GatewayError(403, 'permission_error', 'model_not_allowed', 'model', `This API key may not use the model '${modelId}'.`);
}
