/**
 * Spend from the request log: rows, totals, and sums per day, model and key, filtered; and the
 * analytics the console charts (`analytics`): per one or two of day, model, key and channel,
 * counts, money, errors and latency percentiles, computed in SQL that SQLite and PostgreSQL
 * both run.
 */
import type { RawBuilder, SelectQueryBuilder } from 'kysely';
import { sql } from '../db/kysely.js';
import type { Db } from '../db/database.js';
import { newestFirst, type ListWindow } from '../db/row-cursor.js';
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

export const USAGE_DIMENSIONS = ['day', 'model', 'key', 'channel'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

export interface AnalyticsFilter extends UsageFilter {
  /** Only requests whose last upstream attempt went to this channel (by name). */
  channel?: string;
}

/** One group's figures (or the whole range's). Latencies are the request's, in ms; null without requests. */
export interface UsageAnalytics extends UsageTotals {
  /** Requests answered with an error (HTTP status 400 or more). */
  errors: number;
  latencyP50: number | null;
  latencyP95: number | null;
  latencyP99: number | null;
}

export interface UsageAnalyticsGroup extends UsageAnalytics {
  /** The group's value for each dimension asked, in order: a UTC day (YYYY-MM-DD), model, key id or channel name; null when the request had none. */
  keys: (string | null)[];
}

/**
 * The channel a request ended on: the last of the `channel` column's `name:outcome` list. Neither
 * dialect splits strings alike, but both have replace and rtrim(text, characters): trimming every
 * character but ',' from the right leaves the list up to its last comma, which replace removes;
 * the same on ':' leaves `name:`. Channel names hold neither ',' nor ':'.
 */
const LAST_CHANNEL = sql<
  string | null
>`rtrim(rtrim(replace(channel, rtrim(channel, replace(channel, ',', '')), ''), replace(replace(channel, rtrim(channel, replace(channel, ',', '')), ''), ':', '')), ':')`;

const DIMENSION_SQL: Record<UsageDimension, RawBuilder<unknown>> = {
  day: sql`(created_at / ${sql.lit(86_400_000)})`,
  model: sql`model`,
  key: sql`key_id`,
  channel: LAST_CHANNEL,
};

/** Nearest-rank percentiles: the smallest latency whose rank reaches p% of the group's rows. */
const PERCENTILES = [50, 95, 99] as const;

const DAY_MS = 86_400_000;

export class UsageReport {
  constructor(private readonly db: Db) {}

  /** Newest first, past `after` and `offset` rows skipped. */
  async rows(filter: UsageFilter, page: ListWindow) {
    return newestFirst(this.filtered(filter).selectAll(), page).execute();
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

  /**
   * Figures per group of `groupBy` (none: the whole range, one row), ordered by the groups.
   * One statement, one sort: the innermost select computes each row's groups once, a window
   * gives each row its cumulative share of its group by latency (cume_dist), and the outer one
   * sums each group and reads its percentiles off those shares. request_log's created_at index
   * bounds the range. 100k rows take about 0.25 s of CPU on SQLite (a percentile needs its group
   * sorted; sums alone take 0.1 s).
   */
  async analytics(filter: AnalyticsFilter, groupBy: readonly UsageDimension[]): Promise<UsageAnalyticsGroup[]> {
    const groupRefs = groupBy.map((_, i) => sql.ref(`g${i}`));
    const partition = groupRefs.length > 0 ? sql`partition by ${sql.join(groupRefs)}` : sql``;
    const where = this.conditions(filter);
    // cume_dist is k/N for the k-th smallest (ties share the largest k); rounding keeps k/N >= p/100 exact.
    const percentiles = PERCENTILES.map((p) => sql`min(case when share >= ${sql.lit(p / 100)} then latency_ms end) as ${sql.ref(`p${p}`)}`);
    const grouped = groupRefs.length > 0 ? sql`group by ${sql.join(groupRefs)} order by ${sql.join(groupRefs)}` : sql``;
    const query = sql<Record<string, unknown>>`
      select ${sql.join([
        ...groupRefs,
        sql`count(*) as requests`,
        sql`coalesce(sum(case when status = 200 then 1 else 0 end), 0) as succeeded`,
        sql`coalesce(sum(case when status >= 400 then 1 else 0 end), 0) as errors`,
        sql`coalesce(sum(delivered), 0) as images`,
        sql`coalesce(sum(price_micros), 0) as price`,
        sql`coalesce(sum(cost_micros), 0) as cost`,
        ...percentiles,
      ])}
      from (
        select *, cume_dist() over (${partition} order by latency_ms) as share
        from (
          select ${sql.join([...groupBy.map((d, i) => sql`${DIMENSION_SQL[d]} as ${sql.ref(`g${i}`)}`), sql`status, delivered, price_micros, cost_micros, latency_ms`])}
          from request_log
          ${where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``}
        ) picked
      ) ranked
      ${grouped}`;
    const { rows } = await query.execute(this.db);
    // Without groups an empty range still has its one row of totals (count 0).
    return rows.map((row) => ({
      keys: groupBy.map((d, i) => groupValue(d, row[`g${i}`])),
      ...toTotals(row),
      errors: Number(row.errors ?? 0),
      latencyP50: nullableNumber(row.p50),
      latencyP95: nullableNumber(row.p95),
      latencyP99: nullableNumber(row.p99),
    }));
  }

  private conditions(filter: AnalyticsFilter): RawBuilder<unknown>[] {
    const where: RawBuilder<unknown>[] = [];
    if (filter.keyId !== undefined) where.push(sql`key_id = ${filter.keyId}`);
    if (filter.model !== undefined) where.push(sql`model = ${filter.model}`);
    if (filter.channel !== undefined) where.push(sql`${LAST_CHANNEL} = ${filter.channel}`);
    if (filter.from !== undefined) where.push(sql`created_at >= ${filter.from}`);
    if (filter.to !== undefined) where.push(sql`created_at < ${filter.to}`);
    return where;
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

function groupValue(dimension: UsageDimension, value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  return dimension === 'day' ? dayOf(Number(value)) : String(value);
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function dayOf(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}
