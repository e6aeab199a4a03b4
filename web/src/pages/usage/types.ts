/** GET /admin/api/usage/report (docs/accounts.md, "Usage analytics"): only the fields the console reads. */

export const USAGE_DIMENSIONS = ['day', 'model', 'key', 'channel'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

export interface UsageFigures {
  requests: number;
  succeeded: number;
  errors: number;
  error_rate: number;
  images: number;
  price: number;
  cost: number;
  margin: number;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null };
}

export interface UsageGroup extends UsageFigures {
  day?: string;
  model?: string | null;
  key_id?: string | null;
  key_name?: string | null;
  channel?: string | null;
}

export interface UsageReport {
  object: 'usage_report';
  from: string | null;
  to: string | null;
  group_by: UsageDimension[];
  totals: UsageFigures;
  groups: UsageGroup[];
}
