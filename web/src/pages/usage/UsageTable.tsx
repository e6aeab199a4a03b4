/** The report's groups as a table, with the range's totals at the foot. */
import { dimensionValue, millis, money, percent } from './figures';
import type { UsageDimension, UsageFigures, UsageReport } from './types';

const DIMENSION_HEADINGS: Record<UsageDimension, string> = { day: 'Day', model: 'Model', key: 'Key', channel: 'Channel' };

export function UsageTable({ report }: { report: UsageReport }) {
  return (
    <div className="table-wrap">
      <table className="data-table numbers" aria-label="Usage by group">
        <thead>
          <tr>
            {report.group_by.map((d) => (
              <th key={d} scope="col">
                {DIMENSION_HEADINGS[d]}
              </th>
            ))}
            <th scope="col">Requests</th>
            <th scope="col">Succeeded</th>
            <th scope="col">Errors</th>
            <th scope="col">Error rate</th>
            <th scope="col">Images</th>
            <th scope="col">Price</th>
            <th scope="col">Cost</th>
            <th scope="col">Margin</th>
            <th scope="col">p50 ms</th>
            <th scope="col">p95 ms</th>
            <th scope="col">p99 ms</th>
          </tr>
        </thead>
        <tbody>
          {report.groups.map((group) => {
            const names = report.group_by.map((d) => dimensionValue(group, d));
            return (
              <tr key={names.join('\u0000')}>
                {names.map((name, index) => (
                  <th key={report.group_by[index]} scope="row">
                    {name}
                  </th>
                ))}
                <FigureCells figures={group} />
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={report.group_by.length}>
              Total
            </th>
            <FigureCells figures={report.totals} />
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

function FigureCells({ figures }: { figures: UsageFigures }) {
  return (
    <>
      <td className="num">{figures.requests}</td>
      <td className="num">{figures.succeeded}</td>
      <td className="num">{figures.errors}</td>
      <td className="num">{percent(figures.error_rate)}</td>
      <td className="num">{figures.images}</td>
      <td className="num">{money(figures.price)}</td>
      <td className="num">{money(figures.cost)}</td>
      <td className="num">{money(figures.margin)}</td>
      <td className="num">{millis(figures.latency_ms.p50)}</td>
      <td className="num">{millis(figures.latency_ms.p95)}</td>
      <td className="num">{millis(figures.latency_ms.p99)}</td>
    </>
  );
}
