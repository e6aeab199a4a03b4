/** Spend from the request log: rows, totals, and sums per day, model and key, filtered. */
import { sql, type SelectQueryBuilder } from 'kysely';
import type { Db } from '../db/database.js';
import type { Tables } from '../db/schema.js';

export interface UsageFilter {
  keyId?: string;
  model?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface UsageTotals {
  requests: number;
  succeeded: number;
  images: number;
  priceMicros: number;
  costMicros: number;
}

export interface UsageGroup extends UsageTotals {
  group: string;
}

const DAY_MS = 86_400_000;

export class UsageReport {
  constructor(private readonly db: Db) {}

  /** Newest first, `offset` rows skipped. */
  async rows(filter: UsageFilter, limit: number, offset = 0) {
    return this.filtered(filter).selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).offset(offset).execute();
  }

  async totals(filter: UsageFilter): Promise<UsageTotals> {
    const row = await this.filtered(filter).select(aggregates()).executeTakeFirst();
    return toTotals(row);
  }

  /** Per UTC day (YYYY-MM-DD), model or key. */
  async by(filter: UsageFilter, dimension: 'day' | 'model' | 'key'): Promise<UsageGroup[]> {
    const column = dimension === 'day' ? sql<string>`(created_at / ${sql.lit(DAY_MS)})` : dimension === 'model' ? sql<string>`model` : sql<string>`key_id`;
    const rows = await this.filtered(filter)
      .select([column.as('group'), ...aggregates()])
      .groupBy(column)
      .orderBy(column)
      .execute();
    return rows.map((row) => ({ group: dimension === 'day' ? dayOf(Number(row.group)) : String(row.group ?? ''), ...toTotals(row) }));
  }

  private filtered(filter: UsageFilter): SelectQueryBuilder<Tables, 'request_log', object> {
    let query = this.db.selectFrom('request_log');
    if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
    if (filter.model !== undefined) query = query.where('model', '=', filter.model);
    if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('created_at', '<', filter.to);
    return query;
  }
}

function aggregates() {
  return [
    sql<number>`count(*)`.as('requests'),
    sql<number>`coalesce(sum(case when status = 200 then 1 else 0 end), 0)`.as('succeeded'),
    sql<number>`coalesce(sum(delivered), 0)`.as('images'),
    sql<number>`coalesce(sum(price_micros), 0)`.as('price'),
    sql<number>`coalesce(sum(cost_micros), 0)`.as('cost'),
  ] as const;
}

/** PostgreSQL sums bigints as numeric (a string); both fit a double here. */
function toTotals(row: { requests?: unknown; succeeded?: unknown; images?: unknown; price?: unknown; cost?: unknown } | undefined): UsageTotals {
  return {
    requests: Number(row?.requests ?? 0),
    succeeded: Number(row?.succeeded ?? 0),
    images: Number(row?.images ?? 0),
    priceMicros: Number(row?.price ?? 0),
    costMicros: Number(row?.cost ?? 0),
  };
}

function dayOf(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}
