/**
 * Which database errors mean "the database is not there right now" (a restart, a failover, a
 * killed connection, a stall) rather than "this statement is wrong". Those become 503 with
 * Retry-After for clients, are waited out at start-up, and are retried where that is safe.
 */

/**
 * lost: the connection is gone or could not be made; a fresh connection may work at once.
 * timeout: the database did not answer in time; trying again at once would wait again.
 * busy: the database refused for load (SQLite's lock, PostgreSQL out of connections).
 */
export type DatabaseFault = 'lost' | 'timeout' | 'busy';

/** SQLSTATEs of a server that is going away, starting up, or cutting the session. */
const LOST_STATES = new Set(['57P01', '57P02', '57P03', '57P05', '25P03']);
const TIMEOUT_STATES = new Set(['57014', '55P03']);

/** node-postgres says these in words only; they are matched by message. */
const LOST_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'driver has already been destroyed',
];
const TIMEOUT_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Connection terminated due to connection timeout',
  'the database did not answer within',
];

/**
 * A socket error (ECONNREFUSED, ECONNRESET, ...) met on a database connection. Wrapped where the
 * pool meets it, so the same code from an upstream or a bucket is never taken for the database's.
 */
export class DatabaseConnectionError extends Error {
  override name = 'DatabaseConnectionError';
  readonly fault: DatabaseFault;

  constructor(cause: Error & { code?: unknown }) {
    super(`database connection failed: ${cause.message}`, { cause });
    this.fault = cause.code === 'ETIMEDOUT' ? 'timeout' : 'lost';
  }
}

/**
 * The connection was lost (or timed out) while a COMMIT was under way: the transaction may have
 * been applied or not, and the caller cannot tell. It still counts as the fault it wraps.
 */
export class CommitOutcomeUnknownError extends Error {
  override name = 'CommitOutcomeUnknownError';

  constructor(cause: unknown) {
    super(`the database did not confirm a commit: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export function isCommitOutcomeUnknown(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof CommitOutcomeUnknownError) return true;
  }
  return false;
}

/** `err` as the pool should rethrow it: socket errors wrapped, anything else as it is. */
export function asDatabaseError(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof DatabaseConnectionError) return err;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) ? new DatabaseConnectionError(err) : err;
}

/** The kind of database fault `err` (or an error it wraps) is; null for any other error. */
export function databaseFault(err: unknown): DatabaseFault | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const fault = faultOf(e);
    if (fault) return fault;
  }
  return null;
}

export function isDatabaseUnavailable(err: unknown): boolean {
  return databaseFault(err) !== null;
}

/** The client-side bound on a statement fired: the connection is stuck behind it and must go. */
export function isStuckConnection(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}

function faultOf(err: Error): DatabaseFault | null {
  if (err instanceof DatabaseConnectionError) return err.fault;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // SQLite: another writer held the file past busy_timeout.
    if (code.startsWith('SQLITE_BUSY')) return 'busy';
    if (LOST_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return 'lost';
    if (TIMEOUT_STATES.has(code)) return 'timeout';
    // Class 53: insufficient resources (too many connections, out of memory, disk full).
    if (/^53[0-9A-Z]{3}$/.test(code)) return 'busy';
  }
  if (TIMEOUT_MESSAGES.some((m) => err.message.startsWith(m))) return 'timeout';
  if (LOST_MESSAGES.some((m) => err.message.startsWith(m))) return 'lost';
  return null;
}
