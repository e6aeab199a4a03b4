/** Usage (admin): requests, images, price, cost, errors and latency over a range, grouped, charted, tabled and exported as CSV. */
import { useMutation, useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import type { QueryValue } from '../../api/client';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';
import { downloadUsageCsv } from './csv';
import { PRESETS, presetRange, type RangeChoice, rangeQuery } from './range';
import type { UsageReport } from './types';
import { UsageTable } from './UsageTable';

/** The chart library is loaded with this page only (its own chunk), not with the console's first load. */
const UsageCharts = lazy(() => import('./UsageCharts').then((module) => ({ default: module.UsageCharts })));

const GROUPINGS: readonly { value: string; label: string }[] = [
  { value: 'day', label: 'day' },
  { value: 'day,model', label: 'day, stacked by model' },
  { value: 'model', label: 'model' },
  { value: 'key', label: 'key' },
  { value: 'channel', label: 'channel' },
];

export function UsagePage() {
  const { api } = useSession();
  const [range, setRange] = useState<RangeChoice>(() => presetRange('7d'));
  const [groupBy, setGroupBy] = useState('day');
  const query: Record<string, QueryValue> = { ...rangeQuery(range), group_by: groupBy };
  const report = useQuery({
    queryKey: ['admin', 'usage', 'report', query],
    queryFn: ({ signal }) => api.get<UsageReport>('/admin/api/usage/report', query, signal),
  });
  // Grouped by two dimensions, the figures that do not stack (price, errors, latency) are charted by the first alone.
  const firstOnly = groupBy.split(',')[0] ?? 'day';
  const summaryQuery = { ...query, group_by: firstOnly };
  const summary = useQuery({
    queryKey: ['admin', 'usage', 'report', summaryQuery],
    queryFn: ({ signal }) => api.get<UsageReport>('/admin/api/usage/report', summaryQuery, signal),
    enabled: firstOnly !== groupBy,
  });
  const csv = useMutation({
    mutationFn: () => downloadUsageCsv(api, query, `imagegate-usage-${groupBy.replace(',', '-')}.csv`),
  });
  const summaryReport = firstOnly === groupBy ? report.data : summary.data;

  return (
    <Page
      title="Usage"
      actions={
        <button type="button" onClick={() => csv.mutate()} disabled={csv.isPending}>
          {csv.isPending ? 'Exporting…' : 'Export CSV'}
        </button>
      }
    >
      <RangeBar range={range} onRange={setRange} groupBy={groupBy} onGroupBy={setGroupBy} />
      {csv.isError ? <ErrorNotice error={csv.error} title="CSV not exported" /> : null}
      {report.isError ? <ErrorNotice error={report.error} /> : null}
      {summary.isError ? <ErrorNotice error={summary.error} /> : null}
      {report.isPending ? <p className="muted">Loading the report…</p> : null}
      {report.data && report.data.groups.length === 0 ? (
        <EmptyState title="No requests in this range">
          Requests through the gateway (the Playground's too) are counted here: pick a longer range, or generate something.
        </EmptyState>
      ) : null}
      {report.data && report.data.groups.length > 0 ? (
        <>
          {summaryReport ? (
            <Suspense fallback={<p className="muted">Loading the charts…</p>}>
              <UsageCharts report={report.data} summary={summaryReport} />
            </Suspense>
          ) : null}
          <UsageTable report={report.data} />
        </>
      ) : null}
    </Page>
  );
}

interface RangeBarProps {
  range: RangeChoice;
  onRange: (next: RangeChoice) => void;
  groupBy: string;
  onGroupBy: (next: string) => void;
}

function RangeBar({ range, onRange, groupBy, onGroupBy }: RangeBarProps) {
  const today = new Date().toISOString().slice(0, 10);
  const custom = range.preset === 'custom' ? range : undefined;
  return (
    <form className="inline-form filters" aria-label="Range" onSubmit={(event) => event.preventDefault()}>
      <fieldset className="tabs">
        <legend>Range</legend>
        {PRESETS.map((preset) => (
          <button
            key={preset.id}
            type="button"
            className={range.preset === preset.id ? 'tab active' : 'tab'}
            aria-pressed={range.preset === preset.id}
            onClick={() => onRange(presetRange(preset.id))}
          >
            {preset.label}
          </button>
        ))}
        <button
          type="button"
          className={custom ? 'tab active' : 'tab'}
          aria-pressed={Boolean(custom)}
          onClick={() => onRange({ preset: 'custom', fromDay: custom?.fromDay ?? today, toDay: custom?.toDay ?? today })}
        >
          Custom
        </button>
      </fieldset>
      {custom ? (
        <>
          <label className="field">
            <span>From</span>
            <input type="date" value={custom.fromDay} onChange={(event) => onRange({ ...custom, fromDay: event.target.value })} />
          </label>
          <label className="field">
            <span>To</span>
            <input type="date" value={custom.toDay} onChange={(event) => onRange({ ...custom, toDay: event.target.value })} />
          </label>
        </>
      ) : null}
      <label className="field">
        <span>Group by</span>
        <select value={groupBy} onChange={(event) => onGroupBy(event.target.value)}>
          {GROUPINGS.map((grouping) => (
            <option key={grouping.value} value={grouping.value}>
              {grouping.label}
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}
