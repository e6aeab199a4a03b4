/**
 * Task callbacks (as the task API dialect documents them): when a task ends, one delivery row is committed with the JSON body
 * exactly as it will be sent (in the transaction that ends the task, see ending-webhooks.ts; its
 * id comes from the task's, so a task never gets two), and an outbox POSTs it until the receiver
 * answers 2xx: quick retries after 1 s, 2 s and 4 s, then with backoff until 30 minutes after the
 * first attempt, 10 s per attempt. Rows are the queue, so deliveries survive restarts, and several
 * instances can share them: an attempt is claimed with a lease (a conditional UPDATE), so only one
 * instance sends it.
 *
 * Every request carries `content-type: application/json`, `webhook-id` (the delivery id, the same
 * on every retry, for the receiver to drop duplicates), `webhook-timestamp`, and a Standard
 * Webhooks `webhook-signature` over `id.timestamp.body`, made fresh for each attempt with the
 * secret of the task's key (see WebhookSecrets: env keys share the gateway-wide one). The key is
 * found through the task row at send time, so a rotated secret applies from the next attempt.
 *
 * URLs go through the SSRF guard (SafeFetcher): a refused scheme or address fails the delivery at
 * once, without a request, and says why in `last_error`.
 *
 * Each recorded attempt is also a `webhook_attempts` row (when, outcome, HTTP status or error,
 * latency), written with the delivery's update; the latest WEBHOOK_ATTEMPTS_KEPT per delivery are
 * kept. An operator may resend a finished delivery: a new delivery row of the same body, with a
 * webhook id of its own (`resend`).
 */
import { createHash } from 'node:crypto';
import { sql } from '../db/kysely.js';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../db/database.js';
import type { DeliveryRow, WebhookAttemptRow } from '../db/schema.js';
import type { WebhookAttemptOutcome, WebhookMetricsSink } from '../core/metrics-sink.js';
import { NO_SPANS, type SpanAttributes, type Spans } from '../core/spans.js';
import { UnsafeUrlError, type PostOptions } from '../net/safe-fetch.js';
import type { WebhookSecrets } from './webhook-secrets.js';

/** What the outbox needs of SafeFetcher. */
export interface WebhookPoster {
  post(url: string, body: string, headers: Readonly<Record<string, string>>, options?: PostOptions): Promise<{ status: number }>;
}

/**
 * When to try again. `delaysMs[k - 1]` is the wait after the k-th failed attempt; past the end of
 * the list the last delay repeats. No attempt starts later than `windowMs` after the first: a
 * delivery whose next attempt would is marked failed.
 */
export interface RetrySchedule {
  delaysMs: readonly number[];
  windowMs: number;
}

/** The task API's schedule: 1 s, 2 s, 4 s, then backoff up to 10 minutes apart, for 30 minutes. */
export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = {
  delaysMs: [1_000, 2_000, 4_000, 30_000, 60_000, 120_000, 300_000, 600_000],
  windowMs: 30 * 60_000,
};

/**
 * The id of a task's delivery (`msg_` and 32 hex digits): derived from the task id, so whoever
 * writes it (the ending, a repair sweep, another instance) writes the same row once.
 */
export function deliveryIdFor(taskId: string): string {
  return `msg_${createHash('sha256').update(taskId).digest('hex').slice(0, 32)}`;
}

/** The wait after the `attempt`-th failed attempt (1-based). */
export function retryDelay(schedule: RetrySchedule, attempt: number): number {
  const { delaysMs } = schedule;
  if (delaysMs.length === 0) return 0;
  return delaysMs[Math.min(Math.max(attempt, 1), delaysMs.length) - 1] ?? 0;
}

export interface WebhookOutboxDeps {
  db: Db;
  fetcher: WebhookPoster;
  secrets: WebhookSecrets;
  now?: () => number;
  schedule?: RetrySchedule;
  /** Failures of the outbox itself (a database error), never a receiver's failure. */
  onError?: (err: unknown) => void;
  /** A receiver's failure: an attempt refused by the guard, unanswered or answered non-2xx, as recorded. */
  onAttemptFailed?: (failure: DeliveryFailure) => void;
  /** Hears each recorded attempt, by outcome (src/metrics/). */
  metrics?: WebhookMetricsSink;
  /** A client span per attempt (src/tracing/). */
  spans?: Spans;
  /** Per attempt; 10 s. */
  timeoutMs?: number;
  /** How long a claimed attempt is ours; another instance takes it over after that. Must exceed timeoutMs. */
  leaseMs?: number;
  /** Attempts claimed (and sent concurrently) per pass. */
  batchSize?: number;
  /**
   * Told when a delivery falls due at `dueAt` (enqueued, or a retry scheduled), so a shared
   * scheduler (BullMQ with REDIS_URL) can wake whichever instance is free at that moment.
   */
  onDue?: (dueAt: number) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_BATCH = 20;
/** Shortest wait between timer passes, so a row due "now" cannot spin the loop. */
const MIN_TIMER_MS = 5;
/** Longest `last_error` kept. */
const ERROR_CHARS = 500;
/** Attempt rows kept per delivery (the latest): a receiver down for the whole window makes about a dozen. */
export const WEBHOOK_ATTEMPTS_KEPT = 50;

/** One failed attempt of a delivery, as its row now says. */
export interface DeliveryFailure {
  deliveryId: string;
  taskId: string;
  /** The receiver's host (never the whole URL: a callback's query may carry its token). */
  host: string;
  /** 1-based. */
  attempt: number;
  /** The receiver's HTTP status; null when it was not reached. */
  status: number | null;
  /** Why, in words (`last_error`). */
  error: string;
  /** The guard refused the URL (scheme or address): it will refuse it again. */
  refused: boolean;
  /** No attempt follows: the delivery is failed. */
  final: boolean;
  /** When the next attempt is due; null when final. */
  nextAttemptAt: number | null;
}

type Outcome = (
  | { kind: 'answered'; status: number }
  | { kind: 'refused'; error: string } // the guard said no: it will say no again
  | { kind: 'unreachable'; error: string }
) & { sentAt: number; latencyMs: number };

/** Why a resend was refused. */
export type ResendRefusal = 'no_delivery' | 'pending';

export class WebhookOutbox {
  private readonly db: Db;
  private readonly fetcher: WebhookPoster;
  private readonly secrets: WebhookSecrets;
  private readonly now: () => number;
  private readonly schedule: RetrySchedule;
  private readonly onError: (err: unknown) => void;
  private readonly onAttemptFailed: (failure: DeliveryFailure) => void;
  private readonly metrics: WebhookMetricsSink | undefined;
  private readonly spans: Spans;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly onDue: (dueAt: number) => void;

  private pollMs = 0;
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private again = false;

  constructor(deps: WebhookOutboxDeps) {
    this.db = deps.db;
    this.fetcher = deps.fetcher;
    this.secrets = deps.secrets;
    this.now = deps.now ?? Date.now;
    this.schedule = deps.schedule ?? DEFAULT_RETRY_SCHEDULE;
    this.onError = deps.onError ?? (() => undefined);
    this.onAttemptFailed = deps.onAttemptFailed ?? (() => undefined);
    this.metrics = deps.metrics;
    this.spans = deps.spans ?? NO_SPANS;
    this.timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.leaseMs = Math.max(deps.leaseMs ?? DEFAULT_LEASE_MS, this.timeoutMs + 1_000);
    this.batchSize = deps.batchSize ?? DEFAULT_BATCH;
    this.onDue = deps.onDue ?? (() => undefined);
  }

  /**
   * Stores a pending delivery of `payload` and delivers it soon. `keyId` is the task's key: its
   * secret is made now when it has none. See `add`.
   */
  async enqueue(taskId: string, keyId: string | null, url: string, payload: unknown): Promise<void> {
    await this.secrets.secretFor(keyId);
    await this.add(this.db, taskId, url, payload);
    this.announce();
  }

  /**
   * Writes the task's pending delivery of `payload` (serialized once with JSON.stringify; that text
   * is what is signed and sent every time), due now, through `db`: the caller's transaction, so it
   * commits with whatever else that writes. Call `announce` after the commit. The delivery id
   * (`deliveryIdFor`) is the `webhook-id` of every attempt; a task that has one already keeps
   * it (false).
   */
  async add(db: Db, taskId: string, url: string, payload: unknown): Promise<boolean> {
    const body = JSON.stringify(payload);
    if (body === undefined) throw new TypeError('a webhook payload must be JSON');
    const now = this.now();
    const inserted = await db
      .insertInto('webhook_deliveries')
      .values(newDelivery(deliveryIdFor(taskId), taskId, url, body, now))
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** New deliveries were committed: deliver them soon (here, or on whichever instance BullMQ wakes). */
  announce(): void {
    this.wake();
    this.onDue(this.now());
  }

  /** Claims the due attempts (up to a batch), sends them, records each outcome; returns how many it tried. */
  async deliverDue(): Promise<number> {
    const now = this.now();
    const due = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .orderBy('next_attempt_at')
      .limit(this.batchSize)
      .execute();
    const claimed: { row: DeliveryRow; lease: number }[] = [];
    for (const row of due) {
      const lease = now + this.leaseMs;
      // Only while nobody else holds it and it is still this attempt: of two instances, one wins.
      const taken = await this.db
        .updateTable('webhook_deliveries')
        .set({ lease_until: lease, first_attempt_at: sql<number>`coalesce(first_attempt_at, ${now})` })
        .where('id', '=', row.id)
        .where('status', '=', 'pending')
        .where('attempts', '=', row.attempts)
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 1) claimed.push({ row: { ...row, first_attempt_at: row.first_attempt_at ?? now, lease_until: lease }, lease });
    }
    await Promise.all(claimed.map(({ row, lease }) => this.attempt(row, lease).catch((err: unknown) => this.onError(err))));
    return claimed.length;
  }

  /** A task's deliveries, oldest first, as stored (for the admin API). */
  async deliveries(taskId: string): Promise<DeliveryRow[]> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('task_id', '=', taskId).orderBy('created_at').orderBy('id').execute();
  }

  /** A task's recorded attempts (the latest WEBHOOK_ATTEMPTS_KEPT of each delivery), oldest first. */
  async attempts(taskId: string): Promise<WebhookAttemptRow[]> {
    return this.db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where('task_id', '=', taskId)
      .orderBy('attempted_at')
      .orderBy('delivery_id')
      .orderBy('attempt')
      .execute();
  }

  /**
   * Delivers a task's webhook body again, as a new delivery due now (its own webhook id, so a
   * receiver that drops repeated ids still takes it), to the URL given (the task's callback).
   * Refused while one of the task's deliveries is still pending, and when the task has none to
   * copy. Resends are numbered, so two asked at once make one delivery.
   */
  async resend(taskId: string, url: string): Promise<{ delivery: DeliveryRow } | { refused: ResendRefusal }> {
    const existing = await this.deliveries(taskId);
    const original = existing.find((d) => d.id === deliveryIdFor(taskId)) ?? existing[0];
    if (!original) return { refused: 'no_delivery' };
    if (existing.some((d) => d.status === 'pending')) return { refused: 'pending' };
    const now = this.now();
    const id = deliveryIdFor(`${taskId}#resend-${existing.length}`);
    await this.db
      .insertInto('webhook_deliveries')
      .values(newDelivery(id, taskId, url, original.payload, now))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    this.announce();
    const delivery = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    return { delivery };
  }

  /**
   * Runs `deliverDue` every `pollMs`, sooner when a retry falls due earlier or a delivery is
   * enqueued here. The timer does not keep the process alive; errors go to onError.
   */
  start(pollMs: number): void {
    if (this.started) return;
    this.started = true;
    this.pollMs = pollMs;
    this.arm(0);
  }

  /** No more passes; one in progress finishes (see drain). */
  stop(): void {
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** For shutdown: stops, then waits for the pass in progress. Undelivered rows stay for the next start. */
  async drain(): Promise<void> {
    this.stop();
    while (this.pass) await this.pass;
  }

  /** A pass soon (after enqueue), without overlapping one in progress. */
  private wake(): void {
    if (!this.started) return;
    if (this.pass) this.again = true;
    else this.arm(0);
  }

  private arm(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.runPass(), delayMs);
    this.timer.unref();
  }

  private runPass(): void {
    this.timer = undefined;
    if (!this.started || this.pass) return;
    this.again = false;
    this.pass = (async () => {
      let wait = this.pollMs;
      try {
        const tried = await this.deliverDue();
        wait = tried >= this.batchSize || this.again ? 0 : await this.untilNextDue();
      } catch (err) {
        this.onError(err);
      } finally {
        this.pass = undefined;
        if (this.started) this.arm(Math.max(MIN_TIMER_MS, Math.min(wait, this.pollMs)));
      }
    })();
  }

  /** Milliseconds until the earliest unleased pending attempt, or pollMs when there is none. */
  private async untilNextDue(): Promise<number> {
    const now = this.now();
    const next = await this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.min('next_attempt_at').as('at'))
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .executeTakeFirst();
    const at = next?.at;
    return at === null || at === undefined ? this.pollMs : Math.max(0, Number(at) - now);
  }

  private async attempt(row: DeliveryRow, lease: number): Promise<void> {
    const headers = await this.headers(row);
    const outcome = await this.spans.run('imagegate.webhook', 'client', attemptAttributes(row), async (span) => {
      const sent = await this.send(row, headers);
      if (sent.kind === 'answered') span.set({ 'http.response.status_code': sent.status });
      if (sent.kind !== 'answered' || sent.status < 200 || sent.status >= 300)
        span.fail(sent.kind === 'answered' ? `http_${sent.status}` : sent.kind, 'not delivered');
      return sent;
    });
    await this.record(row, lease, outcome);
  }

  private async headers(row: DeliveryRow): Promise<Record<string, string>> {
    const sentAt = new Date(this.now());
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'webhook-id': row.id,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
    };
    const task = await this.db.selectFrom('tasks').select('key_id').where('id', '=', row.task_id).executeTakeFirst();
    const secret = await this.secrets.secretFor(task?.key_id ?? null);
    if (secret) headers['webhook-signature'] = new Webhook(secret).sign(row.id, sentAt, row.payload);
    return headers;
  }

  private async send(row: DeliveryRow, headers: Record<string, string>): Promise<Outcome> {
    const sentAt = this.now();
    const timing = () => ({ sentAt, latencyMs: Math.max(0, this.now() - sentAt) });
    try {
      const { status } = await this.fetcher.post(row.url, row.payload, headers, { timeoutMs: this.timeoutMs });
      return { kind: 'answered', status, ...timing() };
    } catch (err) {
      if (err instanceof UnsafeUrlError) {
        const error = `${err.reason}: ${err.message}`;
        return err.reason === 'scheme' || err.reason === 'address' ? { kind: 'refused', error, ...timing() } : { kind: 'unreachable', error, ...timing() };
      }
      return { kind: 'unreachable', error: err instanceof Error ? err.message : String(err), ...timing() };
    }
  }

  /** Through `trx`, with the delivery's update: the attempt's row, and the oldest dropped past WEBHOOK_ATTEMPTS_KEPT. */
  private async recordAttempt(trx: Db, row: DeliveryRow, attempt: number, outcome: Outcome, kind: WebhookAttemptOutcome, error: string | null) {
    await trx
      .insertInto('webhook_attempts')
      .values({
        delivery_id: row.id,
        attempt,
        task_id: row.task_id,
        attempted_at: outcome.sentAt,
        latency_ms: outcome.latencyMs,
        outcome: kind,
        http_status: outcome.kind === 'answered' ? outcome.status : null,
        error,
      })
      .onConflict((oc) => oc.columns(['delivery_id', 'attempt']).doNothing())
      .execute();
    if (attempt > WEBHOOK_ATTEMPTS_KEPT) {
      await trx
        .deleteFrom('webhook_attempts')
        .where('delivery_id', '=', row.id)
        .where('attempt', '<=', attempt - WEBHOOK_ATTEMPTS_KEPT)
        .execute();
    }
  }

  private async record(row: DeliveryRow, lease: number, outcome: Outcome): Promise<void> {
    const now = this.now();
    const attempts = row.attempts + 1;
    if (outcome.kind === 'answered' && outcome.status >= 200 && outcome.status < 300) {
      // Delivered is final whoever holds the lease now: a late success still counts.
      const delivered = await this.db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('webhook_deliveries')
          .set({ status: 'delivered', attempts, last_status: outcome.status, last_error: null, lease_until: null, delivered_at: now })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        const recorded = Number(updated.numUpdatedRows) === 1;
        if (recorded) await this.recordAttempt(trx, row, attempts, outcome, 'delivered', null);
        return recorded;
      });
      if (delivered) this.metrics?.webhookAttempt('delivered', true);
      return;
    }
    const lastStatus = outcome.kind === 'answered' ? outcome.status : null;
    const lastError = (outcome.kind === 'answered' ? `answered HTTP ${outcome.status}` : outcome.error).slice(0, ERROR_CHARS);
    const nextAt = now + retryDelay(this.schedule, attempts);
    const firstAt = row.first_attempt_at ?? now;
    const giveUp = outcome.kind === 'refused' || nextAt > firstAt + this.schedule.windowMs;
    const kind = outcome.kind === 'answered' ? 'http_error' : outcome.kind;
    const recorded = await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('webhook_deliveries')
        .set(
          giveUp
            ? { status: 'failed', attempts, last_status: lastStatus, last_error: lastError, lease_until: null }
            : { attempts, last_status: lastStatus, last_error: lastError, lease_until: null, next_attempt_at: nextAt },
        )
        .where('id', '=', row.id)
        .where('status', '=', 'pending')
        .where('lease_until', '=', lease)
        .executeTakeFirst();
      const ours = Number(updated.numUpdatedRows) === 1;
      if (ours) await this.recordAttempt(trx, row, attempts, outcome, kind, lastError);
      return ours;
    });
    if (!giveUp) this.onDue(nextAt);
    // Said once per recorded attempt (an attempt whose lease another instance took over is theirs to say).
    if (recorded) {
      this.metrics?.webhookAttempt(kind, giveUp);
      this.onAttemptFailed({
        deliveryId: row.id,
        taskId: row.task_id,
        host: hostOf(row.url),
        attempt: attempts,
        status: lastStatus,
        error: lastError,
        refused: outcome.kind === 'refused',
        final: giveUp,
        nextAttemptAt: giveUp ? null : nextAt,
      });
    }
  }
}

/** A failed attempt as one log line: its fields and its message. */
export function deliveryFailureLine(failure: DeliveryFailure): { fields: Record<string, unknown>; message: string } {
  const { deliveryId, taskId, host, attempt, status, error, nextAttemptAt } = failure;
  const fields = {
    deliveryId,
    taskId,
    host,
    attempt,
    status,
    error,
    ...(nextAttemptAt !== null ? { nextAttemptAt: new Date(nextAttemptAt).toISOString() } : {}),
  };
  const message = failure.refused
    ? 'webhook delivery refused: its URL may not be called, no more attempts'
    : failure.final
      ? 'webhook delivery failed: no more attempts'
      : 'webhook delivery attempt failed: will try again';
  return { fields, message };
}

/** A callback's host, for logs and the timeline (never the whole URL: a callback's query may carry its token). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(not a URL)';
  }
}

/** What a delivery attempt's span says: the task, the delivery, the attempt and the receiver's host, as the log line names it (never its URL: a callback's query may carry its token). */
function attemptAttributes(row: DeliveryRow): SpanAttributes {
  return {
    'imagegate.task.id': row.task_id,
    'imagegate.webhook.delivery_id': row.id,
    'imagegate.webhook.attempt': row.attempts + 1,
    'imagegate.webhook.host': hostOf(row.url),
  };
}

/** A delivery not yet attempted, due now. */
function newDelivery(id: string, taskId: string, url: string, payload: string, now: number) {
  return {
    id,
    task_id: taskId,
    url,
    payload,
    status: 'pending' as const,
    attempts: 0,
    next_attempt_at: now,
    first_attempt_at: null,
    last_status: null,
    last_error: null,
    lease_until: null,
    created_at: now,
    delivered_at: null,
  };
}
