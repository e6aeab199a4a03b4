/**
 * Which kind of key was pasted, asked of the gateway itself: the admin API takes only the admin key,
 * the client API only client keys. A key neither takes is refused with the client API's own message.
 */
import { ApiClient } from '../api/client';
import { ApiError } from '../api/errors';
import type { KeyKind } from './session';

export async function detectKeyKind(key: string): Promise<KeyKind> {
  const api = new ApiClient(key);
  try {
    await api.get('/admin/api/keys', { limit: 1 });
    return 'admin';
  } catch (err) {
    // 401/403: not the admin key (or the admin API is off); anything else is a real failure to show.
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
  }
  await api.get('/v1/models');
  return 'client';
}
