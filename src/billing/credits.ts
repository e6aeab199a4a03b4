/**
 * Credits: reserve on accept, settle what was delivered, refund failures. Every step is one
 * transaction of a conditional balance update plus an append-only ledger row, so concurrent
 * requests can never overspend (the update only happens while the balance covers it) and a
 * request is settled at most once (its ledger entry key is unique). Amounts are micro-dollars.
 * A settlement that meets a killed connection is sent once more at once (it is idempotent); with
 * a SettlementRetry, one the database cannot take now is retried until it lands, and a
 * reservation whose outcome the database did not confirm is released if it was made.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { sql } from '../db/kysely.js';
import { gatewayError, type GatewayError } from '../core/errors.js';
import type { Db } from '../db/database.js';
import type { LedgerRow, Tables } from '../db/schema.js';
import { databaseFault, isCommitOutcomeUnknown, isDatabaseUnavailable } from '../db/unavailable.js';
import type { SettlementRetry } from './settlement-retry.js';

/** Before sending a settlement again after a killed connection: long enough for the pool to drop its other dead connections. */
const RESEND_PAUSE_MS = 50;

/** What a request holds until it settles; null reservation: the key is unlimited. */
export interface Reservation {
  keyId: string;
  requestId: string;
  amountMicros: number;
}

export class Credits {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
    private readonly retry?: SettlementRetry,
  ) {}

  /** Takes `amount` from the key's balance for this request; 402 when the balance cannot cover it. */
  async reserve(keyId: string, requestId: string, amountMicros: number): Promise<Reservation | null> {
    try {
      return await this.reserveOnce(keyId, requestId, amountMicros);
    } catch (err) {
      // The connection died during the commit: the caller hears a failure, so a reservation
      // that was made all the same must be given back.
      if (this.retry && isCommitOutcomeUnknown(err)) this.retry.schedule(requestId, () => this.releaseIfReserved(requestId));
      throw err;
    }
  }

  private async reserveOnce(keyId: string, requestId: string, amountMicros: number): Promise<Reservation | null> {
    return this.db.transaction().execute(async (trx) => {
      const taken = await trx
        .updateTable('api_keys')
        .set({ balance_micros: sql<number>`balance_micros - ${amountMicros}` })
        .where('id', '=', keyId)
        .where('balance_micros', '>=', amountMicros)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 0) {
        const key = await trx.selectFrom('api_keys').select('balance_micros').where('id', '=', keyId).executeTakeFirst();
        if (!key || key.balance_micros === null) return null; // unlimited (or an env key)
        throw insufficientQuota(amountMicros, key.balance_micros);
      }
      await trx
        .insertInto('credit_ledger')
        .values(this.entry(keyId, 'reserve', -amountMicros, requestId, 'reserve'))
        .execute();
      return { keyId, requestId, amountMicros };
    });
  }

  /** Charges `chargedMicros` (at most the reservation) and gives the rest back. Idempotent. */
  async settle(reservation: Reservation, chargedMicros: number): Promise<void> {
    const charged = Math.max(0, Math.min(chargedMicros, reservation.amountMicros));
    await this.land(reservation, () => this.close(reservation, 'release', reservation.amountMicros - charged, `charged ${charged}`));
  }

  /** Gives the whole reservation back (nothing was delivered). Idempotent. */
  async refund(reservation: Reservation, reason: string): Promise<void> {
    await this.land(reservation, () => this.close(reservation, 'refund', reservation.amountMicros, reason));
  }

  /** Refunds the request's reservation if there is one and it is not settled yet. */
  async releaseIfReserved(requestId: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const reserved = await trx
        .selectFrom('credit_ledger')
        .select(['key_id', 'amount_micros'])
        .where('entry_key', '=', `${requestId}:reserve`)
        .executeTakeFirst();
      if (!reserved) return;
      const reservation = { keyId: reserved.key_id, requestId, amountMicros: -reserved.amount_micros };
      await this.closeIn(trx, reservation, 'refund', reservation.amountMicros, 'outcome unknown after a database fault');
    });
  }

  /** Runs a settlement; after a killed connection once more at once; still unavailable, hands it to the retry. */
  private async land(reservation: Reservation, settle: () => Promise<void>): Promise<void> {
    try {
      return await settle();
    } catch (first) {
      if (databaseFault(first) !== 'lost') return this.later(reservation, settle, first);
    }
    // A killed connection is often just that one (or a few pooled ones killed with it): once the
    // pool has seen them go, a fresh one may work.
    await new Promise((resolve) => setTimeout(resolve, RESEND_PAUSE_MS));
    try {
      return await settle();
    } catch (err) {
      return this.later(reservation, settle, err);
    }
  }

  private later(reservation: Reservation, settle: () => Promise<void>, err: unknown): void {
    if (!this.retry || !isDatabaseUnavailable(err)) throw err;
    this.retry.schedule(reservation.requestId, settle);
  }

  /** The reservation a request made (tasks settle it later, maybe after a restart); null if none. */
  async reservationOf(requestId: string): Promise<Reservation | null> {
    const row = await this.db
      .selectFrom('credit_ledger')
      .select(['key_id', 'amount_micros'])
      .where('entry_key', '=', `${requestId}:reserve`)
      .executeTakeFirst();
    return row ? { keyId: row.key_id, requestId, amountMicros: -row.amount_micros } : null;
  }

  /** Adds (or with a negative amount, removes) credits, as the operator says. */
  async grant(keyId: string, amountMicros: number, note: string | null): Promise<number | null> {
    return this.db.transaction().execute(async (trx) => {
      const key = await trx
        .updateTable('api_keys')
        .set({ balance_micros: sql<number>`coalesce(balance_micros, 0) + ${amountMicros}` })
        .where('id', '=', keyId)
        .returning('balance_micros')
        .executeTakeFirst();
      if (!key) return null;
      await trx
        .insertInto('credit_ledger')
        .values({ ...this.entry(keyId, 'grant', amountMicros, null, null), note })
        .execute();
      return key.balance_micros;
    });
  }

  async ledger(keyId: string, limit = 1000): Promise<LedgerRow[]> {
    return this.db.selectFrom('credit_ledger').selectAll().where('key_id', '=', keyId).orderBy('created_at').orderBy('id').limit(limit).execute();
  }

  /** The settlement row goes in first: a second settlement of the same request inserts nothing and changes nothing. */
  private async close(reservation: Reservation, kind: 'release' | 'refund', amountMicros: number, note: string): Promise<void> {
    await this.db.transaction().execute((trx) => this.closeIn(trx, reservation, kind, amountMicros, note));
  }

  private async closeIn(trx: Transaction<Tables>, reservation: Reservation, kind: 'release' | 'refund', amountMicros: number, note: string): Promise<void> {
    const inserted = await trx
      .insertInto('credit_ledger')
      .values({ ...this.entry(reservation.keyId, kind, amountMicros, reservation.requestId, 'settle'), note })
      .onConflict((oc) => oc.column('entry_key').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0 || amountMicros === 0) return;
    await trx
      .updateTable('api_keys')
      .set({ balance_micros: sql<number>`balance_micros + ${amountMicros}` })
      .where('id', '=', reservation.keyId)
      .execute();
  }

  private entry(keyId: string, kind: LedgerRow['kind'], amountMicros: number, requestId: string | null, phase: 'reserve' | 'settle' | null) {
    return {
      id: randomUUID(),
      key_id: keyId,
      kind,
      amount_micros: amountMicros,
      request_id: requestId,
      entry_key: requestId && phase ? `${requestId}:${phase}` : null,
      note: null,
      created_at: this.now(),
    };
  }
}

function insufficientQuota(neededMicros: number, balanceMicros: number): GatewayError {
  return gatewayError(
    'insufficient_quota',
    `You exceeded your current quota: this request needs up to ${usd(neededMicros)} and the key has ${usd(balanceMicros)} left.`,
  );
}

/** `$2.50`, `$0.016`, `$0.01089`: cents always, further digits only when they are not 0. */
export function usd(micros: number): string {
  return `$${(micros / 1_000_000).toFixed(6).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
}
