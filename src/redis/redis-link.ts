/**
 * The instance's connection to Redis for short commands (rate limits, channel health), and the
 * one place that knows whether Redis is reachable. Users ask isUp() before sending and fall back
 * to per-instance state when it is not, so no request waits on a dead Redis; a command sent just
 * as Redis goes fails within commandTimeoutMs. Reachability follows the connection (closed: down;
 * ready: up) and a PING every second (a Redis that fails two in a row on an open connection is
 * down too: one slow answer on a busy machine is not an outage). Each change is logged once; quietDuringOutage() keeps the errors an outage causes
 * elsewhere (every reconnection attempt, every refused command) out of the log.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isRedisUnreachable, redisOptionsFromUrl } from './redis-options.js';

export interface RedisLinkOptions {
  /** Longest wait for one command; past it the command fails and its caller falls back. */
  commandTimeoutMs: number;
  logger: Logger;
  /** How often an idle connection is checked with a PING (default 1 s). */
  heartbeatMs?: number;
}

export type RedisListener = (up: boolean) => void;

export class RedisLink {
  readonly client: Redis;
  private up = false;
  /** When the last line logged said Redis is unreachable (so the next "up" is worth a line); null: it did not. */
  private saidDownAt: number | null = null;
  private closing = false;
  private pinging = false;
  private failedPings = 0;
  private lastError: unknown;
  private readonly listeners = new Set<RedisListener>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly reportFailure: (err: unknown) => void;

  constructor(
    redisUrl: string,
    private readonly options: RedisLinkOptions,
  ) {
    this.client = new Redis({
      ...redisOptionsFromUrl(redisUrl),
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: 5_000,
      // Commands go out only while Redis is up: none waits in a queue for it to come back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    this.client.on('error', (err: unknown) => {
      this.lastError = err;
    });
    this.client.on('ready', () => this.markUp());
    this.client.on('close', () => this.markDown(this.lastError));
    this.heartbeat = setInterval(() => void this.ping(), options.heartbeatMs ?? 1_000);
    this.heartbeat.unref();
    this.reportFailure = this.quietDuringOutage((err) => options.logger.error({ err }, 'Redis command failed: went on without Redis'));
  }

  isUp(): boolean {
    return this.up;
  }

  /** `listener(up)` at every change; returns its removal. */
  onChange(listener: RedisListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True once Redis answers, false after `timeoutMs` (a start with Redis away goes on without it). */
  async waitUntilUp(timeoutMs: number): Promise<boolean> {
    if (this.up) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        stop();
        resolve(false);
      }, timeoutMs);
      const stop = this.onChange((up) => {
        if (!up) return;
        clearTimeout(timer);
        stop();
        resolve(true);
      });
    });
  }

  /** For the readiness probe: resolves when Redis answers a PING now, throws (saying why) otherwise. */
  async check(): Promise<void> {
    const { status } = this.client;
    if (status !== 'ready') {
      const last = this.lastError instanceof Error ? `; last error: ${this.lastError.message}` : '';
      throw new Error(`not connected to Redis (connection state: ${status}${last})`);
    }
    await this.client.ping();
  }

  /**
   * `fromRedis()`'s answer while Redis is up, else `fallback()`'s: when it is down, or when the
   * command fails (logged, unless the failure is the outage itself).
   */
  async orLocal<T>(fromRedis: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> {
    if (!this.up) return fallback();
    try {
      return await fromRedis();
    } catch (err) {
      this.reportFailure(err);
      return fallback();
    }
  }

  /**
   * `onError` for what uses Redis, without the errors an outage causes: the link has said once
   * that Redis is unreachable, and says when it is back.
   */
  quietDuringOutage(onError: (err: unknown) => void): (err: unknown) => void {
    return (err) => {
      if (!this.up || isRedisUnreachable(err)) return;
      onError(err);
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.up = false;
    clearInterval(this.heartbeat);
    this.listeners.clear();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private async ping(): Promise<void> {
    if (this.closing || this.pinging || this.client.status !== 'ready') return;
    this.pinging = true;
    try {
      await this.client.ping();
      this.markUp();
    } catch (err) {
      if (++this.failedPings >= 2) this.markDown(err);
    } finally {
      this.pinging = false;
    }
  }

  private markUp(): void {
    this.failedPings = 0;
    if (this.closing || this.up) return;
    this.up = true;
    if (this.saidDownAt !== null) {
      const downMs = Date.now() - this.saidDownAt;
      this.saidDownAt = null;
      this.options.logger.info({ downMs }, 'Redis is reachable again: task dispatch, rate limits and channel health are shared again');
    }
    this.tell(true);
  }

  private markDown(err: unknown): void {
    if (this.closing) return;
    const wasUp = this.up;
    this.up = false;
    if (this.saidDownAt === null) {
      this.saidDownAt = Date.now();
      this.options.logger.warn({ err }, 'Redis is unreachable: running without it until it is back (tasks from the database, per-instance channel health)');
    }
    if (wasUp) this.tell(false);
  }

  private tell(up: boolean): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(up);
      } catch (err) {
        this.options.logger.error({ err }, 'Redis state listener failed');
      }
    }
  }
}
