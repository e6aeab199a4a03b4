/**
 * A Redis server of a test's own, for outages: on a free port, persisting nothing, in a temp dir;
 * stopped with SIGTERM and started again on the same port. Under CI=true redis-server must be
 * installed (the suite fails otherwise); on a developer machine without it, the suite is skipped
 * with a message (as test/helpers/redis.ts does for the shared server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

const BINARY = process.env.TEST_REDIS_SERVER ?? 'redis-server';

/** True when the outage suites should run; throws under CI when redis-server is missing. */
export function redisServerAvailable(): boolean {
  if (spawnSync(BINARY, ['--version'], { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI === 'true') throw new Error(`redis-server is required under CI=true but '${BINARY}' does not run (set TEST_REDIS_SERVER)`);
  console.warn(`[imagegate tests] skipping Redis outage suites: '${BINARY}' does not run (set TEST_REDIS_SERVER)`);
  return false;
}

export interface TestRedisServer {
  readonly url: string;
  /** Stops the server (SIGTERM; nothing is saved) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again, on the same port, empty; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

export async function startRedisServer(): Promise<TestRedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'imagegate-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    await untilAnswers(port, child);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function untilAnswers(port: number, child: ChildProcess): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < 10_000) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (port ${port} taken?)`);
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    client.on('error', () => undefined); // the answer is whether PING works
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not yet
    } finally {
      client.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer within 10 s`);
}
