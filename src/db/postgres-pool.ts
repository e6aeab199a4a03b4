/**
 * The PostgreSQL pool Kysely uses, made to outlive the server: bounded connects and statements,
 * listeners on every client so a dropped connection is an error to handle (not an 'error' event
 * that ends the process), broken clients thrown away instead of pooled again, and a statement
 * that met a dead connection sent once more on a fresh one when that cannot apply it twice.
 */
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';
import { withDeadline } from '../core/deadline.js';
import type { ConnectionWatch } from './connection-watch.js';
import { asDatabaseError, CommitOutcomeUnknownError, databaseFault, isDatabaseUnavailable, isStuckConnection } from './unavailable.js';

export interface PostgresTimeouts {
  /** Opening a connection (or waiting for a free one in the pool); 0: no bound. */
  connectMs: number;
  /** One statement, on the server; the client gives up a little later; 0: no bound. */
  statementMs: number;
}

const POOL_SIZE = 10;
/** A stalled server never sends its statement_timeout error: the client stops waiting this much later. */
const CLIENT_GRACE_MS = 5_000;
/** Dead peers (a failed-over host, a cut network) are found by TCP keepalive after about this. */
const KEEPALIVE_MS = 10_000;
/** Before sending a statement again on a fresh connection (see replaceClient). */
const RESEND_PAUSE_MS = 50;

// int8 columns (our epoch-ms times) come back as strings by default; they fit a double.
const INT8_OID = 20;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => Number(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  },
};

export function createPostgresPool(url: string, timeouts: PostgresTimeouts, watch: ConnectionWatch): SturdyPool {
  const { connectMs, statementMs } = timeouts;
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    types: pgTypes,
    application_name: 'imagegate',
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_MS,
    ...(connectMs > 0 ? { connectionTimeoutMillis: connectMs } : {}),
    // The gateway never idles inside a transaction; one idle that long belongs to a stalled
    // client, and the server ends it so its locks are freed.
    ...(statementMs > 0
      ? { statement_timeout: statementMs, idle_in_transaction_session_timeout: statementMs, query_timeout: statementMs + CLIENT_GRACE_MS }
      : {}),
  });
  // An idle client that loses its connection is dropped by the pool, which then emits 'error':
  // without this listener that would end the process.
  pool.on('error', (err) => watch.failed(asDatabaseError(err)));
  pool.on('connect', (client) => {
    watch.answered();
    // A checked-out client has no pool listener; its connection dropping must not end the process either.
    client.on('error', (err) => watch.failed(asDatabaseError(err)));
  });
  return new SturdyPool(pool, watch);
}

export class SturdyPool implements PostgresPool {
  private probe: Promise<void> | null = null;

  constructor(
    private readonly pool: pg.Pool,
    readonly watch: ConnectionWatch,
  ) {}

  async connect(): Promise<PostgresPoolClient> {
    return new SturdyClient(await this.acquire(), this);
  }

  /** A client from the pool; a connection lost while being made is tried once more (nothing was sent yet). */
  async acquire(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (raw) {
      const err = asDatabaseError(raw);
      this.watch.failed(err);
      if (databaseFault(err) !== 'lost') throw err;
      try {
        return await this.pool.connect();
      } catch (again) {
        const last = asDatabaseError(again);
        this.watch.failed(last);
        throw last;
      }
    }
  }

  /** Resolves when the database answers within `timeoutMs`; one probe at a time, however many ask. */
  async ping(timeoutMs: number): Promise<void> {
    this.probe ??= this.selectOne().finally(() => (this.probe = null));
    const probe = this.probe;
    const late = (): never => {
      throw new Error(`the database did not answer within ${timeoutMs} ms`);
    };
    try {
      await withDeadline(probe, timeoutMs, late);
      this.watch.answered();
    } catch (err) {
      this.watch.failed(err);
      throw err;
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }

  private async selectOne(): Promise<void> {
    const client = await this.pool.connect().catch((err: unknown) => Promise.reject(asDatabaseError(err)));
    let fault: Error | undefined;
    try {
      await client.query('select 1');
    } catch (err) {
      fault = err instanceof Error ? err : new Error(String(err));
      throw asDatabaseError(err);
    } finally {
      client.release(fault);
    }
  }
}

type StatementKind = 'begin' | 'commit' | 'rollback' | 'read' | 'other';

/** What a statement is, as far as sending it again goes. */
function statementKind(sql: string): StatementKind {
  const head = sql.trimStart().slice(0, 20).toLowerCase();
  if (head === 'begin' || head.startsWith('start transaction')) return 'begin';
  if (head === 'commit' || head === 'rollback') return head;
  return /^select\b/.test(head) ? 'read' : 'other';
}

/** Errors of a statement that never left this process: sending it again cannot apply it twice. */
const NEVER_SENT = ['Client has encountered a connection error and is not queryable', 'Client was closed and is not queryable'];

class SturdyClient implements PostgresPoolClient {
  private client: pg.PoolClient | null;
  /** Why the connection is unusable; the pool then closes it instead of lending it again. */
  private broken: Error | undefined;
  private inTransaction = false;
  /** A COMMIT lost its answer: every error from here on (the rollback that follows) says so. */
  private commitUnknown = false;

  constructor(
    client: pg.PoolClient,
    private readonly pool: SturdyPool,
  ) {
    this.client = client;
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(statement: string | PostgresCursor<R>, parameters: ReadonlyArray<unknown> = []): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof statement !== 'string') throw new Error('cursors are not configured');
    return this.run<R>(statement, parameters);
  }

  release(): void {
    const client = this.client;
    this.client = null;
    client?.release(this.broken);
  }

  private async run<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    const kind = statementKind(sql);
    if (kind === 'begin') this.inTransaction = true;
    if (kind === 'commit' || kind === 'rollback') this.inTransaction = false;
    try {
      return await this.send<R>(sql, parameters);
    } catch (err) {
      if (kind === 'commit' && isDatabaseUnavailable(err)) this.commitUnknown = true;
      if (this.commitUnknown) throw new CommitOutcomeUnknownError(err);
      if (!this.mayResend(kind, err)) throw err;
      await this.replaceClient();
      return this.send<R>(sql, parameters);
    }
  }

  /**
   * A statement that met a dead connection (the server killed it while it sat in the pool) is
   * sent once more on a fresh one when that cannot apply anything twice: a transaction's begin;
   * outside a transaction, a read, or any statement that never left. A write the server may
   * have applied before the connection died is never sent twice, nor anything inside a
   * transaction (its earlier statements died with the connection).
   */
  private mayResend(kind: StatementKind, err: unknown): boolean {
    if (databaseFault(err) !== 'lost') return false;
    if (kind === 'begin') return true;
    if (this.inTransaction || kind === 'commit' || kind === 'rollback') return false;
    return kind === 'read' || (err instanceof Error && NEVER_SENT.includes(err.message));
  }

  private async send<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    if (!this.client) throw new Error('Client was closed and is not queryable');
    try {
      const result = await this.client.query<Record<string, unknown>>(sql, [...parameters]);
      this.pool.watch.answered();
      // Kysely reads rows as its own row type; pg hands them over untyped.
      return { command: result.command as PostgresQueryResult<R>['command'], rowCount: result.rowCount ?? 0, rows: result.rows as R[] };
    } catch (raw) {
      const err = asDatabaseError(raw);
      this.pool.watch.failed(err);
      if (databaseFault(err) === 'lost' || isStuckConnection(err)) this.broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  private async replaceClient(): Promise<void> {
    this.release();
    this.broken = undefined;
    // Sessions are often killed together (a restart, an operator's sweep): a short pause lets the
    // pool see its other dead idle connections go, so this one is not lent one of them.
    await new Promise((resolve) => setTimeout(resolve, RESEND_PAUSE_MS));
    this.client = await this.pool.acquire();
  }
}
