/** What a key may reach: enabled and unexpired (401), from its allowed addresses and for its allowed models (403). */
import { BlockList, isIP } from 'node:net';
import { gatewayError } from '../core/errors.js';
import { addException } from '../net/address-policy.js';
import type { KeyPolicy } from './api-keys.js';

export function checkKeyUsable(policy: KeyPolicy, now: number): void {
  if (!policy.enabled) throw gatewayError('api_key_disabled', 'This API key is disabled.');
  if (policy.expiresAt !== null && policy.expiresAt <= now) {
    throw gatewayError('api_key_expired', `This API key expired at ${new Date(policy.expiresAt).toISOString()}.`);
  }
}

export function checkClientAddress(policy: KeyPolicy, ip: string): void {
  if (policy.allowedIps === null) return;
  const allowed = new BlockList();
  for (const entry of policy.allowedIps) addException(allowed, entry);
  const address = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(address);
  if (family === 0 || !allowed.check(address, family === 4 ? 'ipv4' : 'ipv6')) {
    throw gatewayError('ip_not_allowed', `This API key may not be used from ${ip}.`);
  }
}

export function checkModelAllowed(policy: KeyPolicy, modelId: string): void {
  if (policy.allowedModels === null || policy.allowedModels.includes(modelId)) return;
  throw gatewayError('model_not_allowed', `This API key may not use the model '${modelId}'.`, { param: 'model' });
}
