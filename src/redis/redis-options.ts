/**
 * How an instance's Redis connections are made: from a redis:// or rediss:// URL, reconnecting
 * quickly after an outage. ioredis and BullMQ back off to 2 s and 20 s between attempts by
 * default, so a Redis that came back could go unused for that long.
 */

/** The longest wait between reconnection attempts, and so the longest a Redis that is back goes unused. */
export const MAX_RECONNECT_DELAY_MS = 1_000;

/** Wait before reconnection attempt `attempt` (1, 2, ...): 100 ms more each time, at most a second. */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS);
}

/** What a redis:// URL sets: options that both ioredis and BullMQ take as they are. */
export interface RedisUrlOptions {
  host: string;
  port: number;
  password?: string;
  username?: string;
  db?: number;
  tls?: Record<string, never>;
  retryStrategy: (attempt: number) => number;
}

/** Connection options from a redis:// URL, with the quick reconnection above. */
export function redisOptionsFromUrl(redisUrl: string): RedisUrlOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    retryStrategy: reconnectDelay,
  };
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const UNREACHABLE_MESSAGES = /Connection is closed|Stream isn't writeable|Command timed out|max retries per request|Redis is unreachable/i;

/** Whether an error only says that Redis cannot be reached right now (as opposed to a fault of ours or its). */
export function isRedisUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
  return err.name === 'MaxRetriesPerRequestError' || UNREACHABLE_MESSAGES.test(err.message);
}
