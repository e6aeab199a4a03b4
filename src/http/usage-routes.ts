/**
 * Spend, for the operator (GET /admin/api/usage: any key, filters, totals per day, model and
 * key) and for a key itself (GET /v1/dashboard/billing/{subscription,usage}: the legacy OpenAI
 * dashboard shapes that relays such as new-api serve, over its own balance and spend).
 */
import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../billing/api-keys.js';
import type { UsageFilter, UsageGroup, UsageReport, UsageTotals } from '../billing/usage-report.js';
import { invalidRequest } from '../core/errors.js';
import { readQuery } from './query.js';

export interface UsageRoutesDeps {
  usage: UsageReport;
  keys: ApiKeyService;
}

const usd = (micros: number) => micros / 1_000_000;
/** What the legacy dashboard shows for a key without a credit limit. */
const UNLIMITED_USD = 100_000_000;

/** The operator's view: register in the admin group. */
export function registerAdminUsageRoutes(app: FastifyInstance, { usage, keys }: UsageRoutesDeps): void {
  app.get('/admin/api/usage', async (request) => {
    const q = readQuery(request, ['key', 'model', 'from', 'to', 'limit']);
    const filter: UsageFilter = {
      ...(q.key ? { keyId: (await keys.get(q.key))?.id ?? q.key } : {}),
      ...(q.model ? { model: q.model } : {}),
      ...time(q.from, 'from', 'from'),
      ...time(q.to, 'to', 'to'),
    };
    const limit = Math.min(1000, Math.max(0, Number(q.limit ?? 100) || 0));
    const [rows, totals, byDay, byModel, byKey] = await Promise.all([
      usage.rows(filter, limit),
      usage.totals(filter),
      usage.by(filter, 'day'),
      usage.by(filter, 'model'),
      usage.by(filter, 'key'),
    ]);
    return {
      object: 'usage',
      totals: renderTotals(totals),
      by_day: byDay.map(renderGroup('day')),
      by_model: byModel.map(renderGroup('model')),
      by_key: byKey.map(renderGroup('key_id')),
      data: rows.map((r) => ({
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
    };
  });
}

/** A key's own view: register in the client-key group. */
export function registerClientUsageRoutes(app: FastifyInstance, { usage, keys }: UsageRoutesDeps): void {
  app.get('/v1/dashboard/billing/subscription', async (request) => {
    const key = request.apiKey ? await keys.get(request.apiKey.id) : null;
    const spent = request.apiKey ? (await usage.totals({ keyId: request.apiKey.id })).priceMicros : 0;
    const limit = key?.balanceMicros === null || key === null ? UNLIMITED_USD : usd(key.balanceMicros + spent);
    return {
      object: 'billing_subscription',
      has_payment_method: true,
      hard_limit_usd: limit,
      soft_limit_usd: limit,
      system_hard_limit_usd: limit,
      access_until: key?.policy.expiresAt ? Math.floor(key.policy.expiresAt / 1000) : 0,
      balance_usd: key?.balanceMicros === null || key === null ? null : usd(key.balanceMicros),
    };
  });

  app.get('/v1/dashboard/billing/usage', async (request) => {
    const keyId = request.apiKey?.id ?? '';
    const q = readQuery(request, ['start_date', 'end_date']);
    const filter: UsageFilter = { keyId, ...time(q.start_date, 'from', 'start_date'), ...time(q.end_date, 'to', 'end_date') };
    const [totals, byDay] = await Promise.all([usage.totals(filter), usage.by(filter, 'day')]);
    return {
      object: 'list',
      // OpenAI's legacy dashboard counts in cents.
      total_usage: usd(totals.priceMicros) * 100,
      daily_costs: byDay.map((d) => ({ timestamp: Date.parse(d.group) / 1000, line_items: [{ name: 'Images', cost: usd(d.priceMicros) * 100 }] })),
      totals: renderTotals(totals),
    };
  });
}

/** `from`/`to` as ISO dates (YYYY-MM-DD or full) or epoch ms. */
function time(value: string | undefined, key: 'from' | 'to', param: string): Partial<UsageFilter> {
  if (value === undefined || value === '') return {};
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw invalidRequest(param, 'invalid_value', `${param} must be a date (YYYY-MM-DD or ISO 8601) or epoch milliseconds.`);
  return { [key]: ms };
}

function renderTotals(t: UsageTotals) {
  return { requests: t.requests, succeeded: t.succeeded, images: t.images, price: usd(t.priceMicros), cost: usd(t.costMicros), margin: usd(t.priceMicros - t.costMicros) };
}

function renderGroup(name: string) {
  return (g: UsageGroup) => ({ [name]: g.group, ...renderTotals(g) });
}
