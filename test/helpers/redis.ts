/**
 * Redis for the suites that need one. Under CI=true Redis must be there (the suite fails
 * otherwise); on a developer machine without it, the suite is skipped with a message. Each test
 * file works under its own key prefix, so files running side by side (and reruns) never share
 * keys, and deletes what it wrote with deleteKeys().
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function reachable(): Promise<boolean> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // the answer is the boolean
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** True when the Redis suites should run; throws under CI when the server is missing. */
export async function redisAvailable(): Promise<boolean> {
  if (await reachable()) return true;
  if (process.env.CI === 'true') throw new Error(`Redis is required under CI=true but ${REDIS_URL} is not reachable`);
  console.warn(`[imagegate tests] skipping Redis suites: ${REDIS_URL} is not reachable (set TEST_REDIS_URL)`);
  return false;
}

/** A key prefix no other test file (or earlier run) uses, e.g. `imagegate-test:rate-limits:3f9a0c1b2d4e:`. */
export function testKeyPrefix(name: string): string {
  return `imagegate-test:${name}:${randomBytes(6).toString('hex')}:`;
}

/** A client of the test server (close it with quit() or disconnect()). */
export function createTestRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Every key under `prefix`. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
}

/** `text` as a SCAN/KEYS glob that matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
