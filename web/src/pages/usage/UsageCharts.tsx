/**
 * The usage charts (Recharts, SVG): requests and images (stacked by model when grouped by day and model),
 * price against cost with the margin, the error rate, and latency p50/p95/p99, along the report's groups.
 */
import type { ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { dimensionValue, groupLabel } from './figures';
import type { UsageReport } from './types';

/** Series colours that read on the light and the dark theme alike. */
const PALETTE = ['#4f7cff', '#f08c2e', '#2fb37a', '#c757d6', '#e0525f', '#3fb6c9', '#a98b2d', '#8a8fa3'];
const HEIGHT = 240;
/** Bars stay bars, not slabs, when a range has one or two groups. */
const MAX_BAR = 56;
const colour = (index: number): string => PALETTE[index % PALETTE.length] ?? '#888888';

/** The tooltip in the theme's colours (set through the DOM, as the CSP allows). */
const TOOLTIP_STYLE = { background: 'var(--surface)', borderColor: 'var(--border)', color: 'var(--text)' };

type Row = Record<string, string | number | null>;

/** `report`: as asked (one or two dimensions); `summary`: one row per group of the first dimension, for the figures that do not stack. */
export function UsageCharts({ report, summary }: { report: UsageReport; summary: UsageReport }) {
  const dimension = summary.group_by[0] ?? 'day';
  const rows: Row[] = summary.groups.map((group) => ({
    label: groupLabel(group, summary.group_by),
    requests: group.requests,
    images: group.images,
    price: group.price,
    cost: group.cost,
    margin: group.margin,
    error_rate: Math.round(group.error_rate * 1000) / 10,
    p50: group.latency_ms.p50,
    p95: group.latency_ms.p95,
    p99: group.latency_ms.p99,
  }));
  const stacked = report.group_by.length === 2 ? stackBy(report) : undefined;
  const by = dimension === 'day' ? 'by day' : `by ${dimension}`;
  return (
    <div className="charts">
      {stacked ? (
        <>
          <Chart title={`Requests ${by}, stacked by ${report.group_by[1]}`}>
            <BarChart data={stacked.requests}>
              <Axes />
              {stacked.series.map((name, index) => (
                <Bar key={name} dataKey={name} stackId="requests" fill={colour(index)} isAnimationActive={false} maxBarSize={MAX_BAR} />
              ))}
            </BarChart>
          </Chart>
          <Chart title={`Images ${by}, stacked by ${report.group_by[1]}`}>
            <BarChart data={stacked.images}>
              <Axes />
              {stacked.series.map((name, index) => (
                <Bar key={name} dataKey={name} stackId="images" fill={colour(index)} isAnimationActive={false} maxBarSize={MAX_BAR} />
              ))}
            </BarChart>
          </Chart>
        </>
      ) : (
        <Chart title={`Requests and images ${by}`}>
          <BarChart data={rows}>
            <Axes />
            <Bar dataKey="requests" name="Requests" fill={colour(0)} isAnimationActive={false} maxBarSize={MAX_BAR} />
            <Bar dataKey="images" name="Images" fill={colour(1)} isAnimationActive={false} maxBarSize={MAX_BAR} />
          </BarChart>
        </Chart>
      )}
      <Chart title={`Price, cost and margin ${by} (USD)`}>
        <ComposedChart data={rows}>
          <Axes />
          <Bar dataKey="price" name="Price" fill={colour(0)} isAnimationActive={false} maxBarSize={MAX_BAR} />
          <Bar dataKey="cost" name="Cost" fill={colour(1)} isAnimationActive={false} maxBarSize={MAX_BAR} />
          <Line dataKey="margin" name="Margin" stroke={colour(2)} strokeWidth={2} isAnimationActive={false} />
        </ComposedChart>
      </Chart>
      <Chart title={`Error rate ${by} (%)`}>
        <BarChart data={rows}>
          <Axes />
          <Bar dataKey="error_rate" name="Error rate (%)" fill={colour(4)} isAnimationActive={false} maxBarSize={MAX_BAR} />
        </BarChart>
      </Chart>
      <Chart title={`Latency ${by} (ms)`}>
        <LineChart data={rows}>
          <Axes />
          <Line dataKey="p50" name="p50" stroke={colour(2)} strokeWidth={2} isAnimationActive={false} connectNulls />
          <Line dataKey="p95" name="p95" stroke={colour(1)} strokeWidth={2} isAnimationActive={false} connectNulls />
          <Line dataKey="p99" name="p99" stroke={colour(4)} strokeWidth={2} isAnimationActive={false} connectNulls />
        </LineChart>
      </Chart>
    </div>
  );
}

function Chart({ title, children }: { title: string; children: ReactNode }) {
  return (
    <figure className="card chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={HEIGHT}>
        {children}
      </ResponsiveContainer>
    </figure>
  );
}

/** The grid, axes, tooltip and legend every chart has (Recharts reads its children's types, so they are listed inline). */
function Axes() {
  return (
    <>
      <CartesianGrid strokeDasharray="3 3" />
      <XAxis dataKey="label" />
      <YAxis width={56} />
      <Tooltip contentStyle={TOOLTIP_STYLE} />
      <Legend />
    </>
  );
}

/** Rows of the first dimension with one column per value of the second (for stacked bars). */
function stackBy(report: UsageReport): { series: string[]; requests: Row[]; images: Row[] } {
  const [first = 'day', second = 'model'] = report.group_by;
  const series = [...new Set(report.groups.map((g) => dimensionValue(g, second)))];
  const requests = new Map<string, Row>();
  const images = new Map<string, Row>();
  for (const group of report.groups) {
    const label = dimensionValue(group, first);
    const name = dimensionValue(group, second);
    const requestRow = requests.get(label) ?? { label };
    const imageRow = images.get(label) ?? { label };
    requestRow[name] = group.requests;
    imageRow[name] = group.images;
    requests.set(label, requestRow);
    images.set(label, imageRow);
  }
  return { series, requests: [...requests.values()], images: [...images.values()] };
}
