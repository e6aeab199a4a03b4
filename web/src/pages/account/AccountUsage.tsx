/** The key's own usage (GET /v1/account/usage): totals, then per model. */
import { useQuery } from '@tanstack/react-query';
import { ErrorNotice } from '../../components/ErrorNotice';
import type { ApiClient } from '../../api/client';
import { formatUsd } from '../keys/format';
import type { AccountUsage as Usage } from './types';

export function AccountUsage({ client }: { client: ApiClient }) {
  const usage = useQuery({ queryKey: ['v1', 'account', 'usage'], queryFn: ({ signal }) => client.get<Usage>('/v1/account/usage', {}, signal) });
  if (usage.isError) return <ErrorNotice error={usage.error} />;
  if (usage.isPending) return <p className="muted">Loading…</p>;
  const rows = [{ label: 'All models', figures: usage.data.totals }, ...usage.data.by_model.map((m) => ({ label: m.model, figures: m }))];
  return (
    <div className="table-wrap">
      <table className="data-table" aria-label="Usage">
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col" className="num">
              Requests
            </th>
            <th scope="col" className="num">
              Succeeded
            </th>
            <th scope="col" className="num">
              Errors
            </th>
            <th scope="col" className="num">
              Images
            </th>
            <th scope="col" className="num">
              Spend
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ label, figures }) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td className="num">{figures.requests}</td>
              <td className="num">{figures.succeeded}</td>
              <td className="num">{figures.errors}</td>
              <td className="num">{figures.images}</td>
              <td className="num">{formatUsd(figures.spend)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
