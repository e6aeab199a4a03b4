/**
 * Spend, for the operator (GET /admin/api/usage: any key, filters, totals per day, model and
 * key; GET /admin/api/usage/report: the console's analytics, grouped, as JSON or CSV) and for a
 * key itself (GET /v1/dashboard/billing/{subscription,usage}: the legacy OpenAI
 * dashboard shapes that relays such as new-api serve, over its own balance and spend).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../billing/api-keys.js';
import {
  USAGE_DIMENSIONS,
  type AnalyticsFilter,
  type UsageAnalytics,
  type UsageDimension,
  type UsageFilter,
  type UsageGroup,
  type UsageReport,
  type UsageTotals,
} from '../billing/usage-report.js';
import { invalidRequest } from '../core/errors.js';
import { pageOf, rowPageAnswer, timeBound } from './admin-list.js';
import { type CsvCell, toCsv } from './csv.js';
import { AdminUsageSchema, UsageReportSchema } from './schemas/admin.js';
import { BillingSubscriptionSchema, BillingUsageSchema } from './schemas/openai.js';

export interface UsageRoutesDeps {
  usage: UsageReport;
  keys: ApiKeyService;
}

const usd = (micros: number) => micros / 1_000_000;
/** What the legacy dashboard shows for a key without a credit limit. */
const UNLIMITED_USD = 100_000_000;

/** The operator's view (and the console's analytics): register in the admin group. */
export function registerAdminUsageRoutes(scope: FastifyInstance, { usage, keys }: UsageRoutesDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  registerUsageReportRoute(scope, { usage, keys });
  app.get('/admin/api/usage', { schema: AdminUsageSchema }, async (request) => {
    const q = request.query;
    const filter: UsageFilter = {
      ...time(q.from, 'from', 'from'),
      ...time(q.to, 'to', 'to'),
      ...(q.key ? { keyId: (await keys.get(q.key))?.id ?? q.key } : {}),
      ...(q.model ? { model: q.model } : {}),
    };
    const page = pageOf(q);
    const [rows, totals, byDay, byModel, byKey] = await Promise.all([
      usage.rows(filter, { ...page, limit: page.limit + 1 }),
      usage.totals(filter),
      usage.by(filter, 'day'),
      usage.by(filter, 'model'),
      usage.by(filter, 'key'),
    ]);
    const { data, ...more } = rowPageAnswer(rows, page);
    return {
      object: 'usage' as const,
      totals: renderTotals(totals),
      by_day: byDay.map(renderGroup('day')),
      by_model: byModel.map(renderGroup('model')),
      by_key: byKey.map(renderGroup('key_id')),
      data: data.map((r) => ({
        id: r.id,
        key_id: r.key_id,
        model: r.model,
        channel: r.channel,
        operation: r.operation,
        size: r.size,
        quality: r.quality,
        n: r.n,
        delivered: r.delivered,
        status: r.status,
        error_code: r.error_code,
        latency_ms: r.latency_ms,
        upstream_latency_ms: r.upstream_latency_ms,
        price: r.price_micros === null ? null : usd(r.price_micros),
        cost: r.cost_micros === null ? null : usd(r.cost_micros),
        created_at: new Date(r.created_at).toISOString(),
      })),
      ...more,
    };
  });
}

/** GET /admin/api/usage/report: the console's usage analytics. */
function registerUsageReportRoute(scope: FastifyInstance, { usage, keys }: UsageRoutesDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/admin/api/usage/report', { schema: UsageReportSchema }, async (request, reply) => {
    const q = request.query;
    const groupBy = dimensionsOf(q.group_by ?? 'day');
    const filter: AnalyticsFilter = {
      ...time(q.from, 'from', 'from'),
      ...time(q.to, 'to', 'to'),
      ...(q.key ? { keyId: (await keys.get(q.key))?.id ?? q.key } : {}),
      ...(q.model ? { model: q.model } : {}),
      ...(q.channel ? { channel: q.channel } : {}),
    };
    const [[totals], groups] = await Promise.all([usage.analytics(filter, []), usage.analytics(filter, groupBy)]);
    const keyNames = groupBy.includes('key') ? new Map((await keys.list()).map((k) => [k.id, k.name])) : null;
    const rows = groups.map((g) => ({ group: groupFields(groupBy, g.keys, keyNames), figures: renderFigures(g) }));
    const csv = q.format === 'csv' || (q.format === undefined && /\btext\/csv\b/.test(request.headers.accept ?? ''));
    if (csv) {
      const columns = groupBy.flatMap((d): (keyof GroupFields)[] => (d === 'key' ? ['key_id', 'key_name'] : [d]));
      const lines = rows.map(({ group, figures }) => [...columns.map((c) => group[c] ?? null), ...figureCells(figures)]);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="usage-${groupBy.join('-')}.csv"`)
        .send(toCsv([...columns, ...FIGURE_COLUMNS], lines));
    }
    return {
      object: 'usage_report' as const,
      from: filter.from !== undefined ? new Date(filter.from).toISOString() : null,
      to: filter.to !== undefined ? new Date(filter.to).toISOString() : null,
      group_by: groupBy,
      totals: renderFigures(totals ?? EMPTY_FIGURES),
      groups: rows.map(({ group, figures }) => ({ ...group, ...figures })),
    };
  });
}

/** `group_by`: one or two dimensions, comma-separated, none twice. */
function dimensionsOf(value: string): UsageDimension[] {
  const parts = value.split(',').map((p) => p.trim());
  const known = (p: string): p is UsageDimension => (USAGE_DIMENSIONS as readonly string[]).includes(p);
  if (parts.length > 2 || !parts.every(known) || new Set(parts).size !== parts.length) {
    throw invalidRequest('group_by', 'invalid_value', `group_by must be one or two of ${USAGE_DIMENSIONS.join(', ')}, comma-separated (e.g. day,model).`);
  }
  return parts.filter(known);
}

/** A group's values, by field: those of the dimensions asked (a key's name beside its id). */
interface GroupFields {
  day?: string;
  model?: string | null;
  key_id?: string | null;
  key_name?: string | null;
  channel?: string | null;
}

function groupFields(groupBy: readonly UsageDimension[], values: readonly (string | null)[], keyNames: ReadonlyMap<string, string> | null): GroupFields {
  const fields: GroupFields = {};
  groupBy.forEach((d, i) => {
    const value = values[i] ?? null;
    if (d === 'day') fields.day = value ?? '';
    else if (d === 'model') fields.model = value;
    else if (d === 'channel') fields.channel = value;
    else {
      fields.key_id = value;
      fields.key_name = value === null ? null : (keyNames?.get(value) ?? null);
    }
  });
  return fields;
}

const EMPTY_FIGURES: UsageAnalytics = {
  requests: 0,
  succeeded: 0,
  images: 0,
  priceMicros: 0,
  costMicros: 0,
  errors: 0,
  latencyP50: null,
  latencyP95: null,
  latencyP99: null,
};

function renderFigures(f: UsageAnalytics) {
  return {
    ...renderTotals(f),
    errors: f.errors,
    error_rate: f.requests > 0 ? f.errors / f.requests : 0,
    latency_ms: { p50: f.latencyP50, p95: f.latencyP95, p99: f.latencyP99 },
  };
}

const FIGURE_COLUMNS = [
  'requests',
  'succeeded',
  'errors',
  'error_rate',
  'images',
  'price',
  'cost',
  'margin',
  'latency_p50_ms',
  'latency_p95_ms',
  'latency_p99_ms',
] as const;

function figureCells(f: ReturnType<typeof renderFigures>): CsvCell[] {
  return [f.requests, f.succeeded, f.errors, f.error_rate, f.images, f.price, f.cost, f.margin, f.latency_ms.p50, f.latency_ms.p95, f.latency_ms.p99];
}

/** A key's own view: register in the client-key group. */
export function registerClientUsageRoutes(scope: FastifyInstance, { usage, keys }: UsageRoutesDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/dashboard/billing/subscription', { schema: BillingSubscriptionSchema }, async (request) => {
    const key = request.apiKey ? await keys.get(request.apiKey.id) : null;
    const spent = request.apiKey ? (await usage.totals({ keyId: request.apiKey.id })).priceMicros : 0;
    const limit = key?.balanceMicros === null || key === null ? UNLIMITED_USD : usd(key.balanceMicros + spent);
    return {
      object: 'billing_subscription' as const,
      has_payment_method: true,
      hard_limit_usd: limit,
      soft_limit_usd: limit,
      system_hard_limit_usd: limit,
      access_until: key?.policy.expiresAt ? Math.floor(key.policy.expiresAt / 1000) : 0,
      balance_usd: key?.balanceMicros === null || key === null ? null : usd(key.balanceMicros),
    };
  });

  app.get('/v1/dashboard/billing/usage', { schema: BillingUsageSchema }, async (request) => {
    const keyId = request.apiKey?.id ?? '';
    const q = request.query;
    const filter: UsageFilter = { keyId, ...time(q.start_date, 'from', 'start_date'), ...time(q.end_date, 'to', 'end_date') };
    const [totals, byDay] = await Promise.all([usage.totals(filter), usage.by(filter, 'day')]);
    return {
      object: 'list' as const,
      // OpenAI's legacy dashboard counts in cents.
      total_usage: usd(totals.priceMicros) * 100,
      daily_costs: byDay.map((d) => ({ timestamp: Date.parse(d.group) / 1000, line_items: [{ name: 'Images', cost: usd(d.priceMicros) * 100 }] })),
      totals: renderTotals(totals),
    };
  });
}

/** `from`/`to` as ISO dates (YYYY-MM-DD or full) or epoch ms. */
function time(value: string | undefined, key: 'from' | 'to', param: string): Partial<UsageFilter> {
  const ms = timeBound(value, param);
  return ms === undefined ? {} : { [key]: ms };
}

function renderTotals(t: UsageTotals) {
  return {
    requests: t.requests,
    succeeded: t.succeeded,
    images: t.images,
    price: usd(t.priceMicros),
    cost: usd(t.costMicros),
    margin: usd(t.priceMicros - t.costMicros),
  };
}

function renderGroup<K extends 'day' | 'model' | 'key_id'>(name: K) {
  // A computed key's name is lost to the type: it is `name`.
  return (g: UsageGroup) => ({ [name]: g.group, ...renderTotals(g) }) as Record<K, string> & ReturnType<typeof renderTotals>;
}
