/** A key's credit ledger, newest first: grants with their notes, and each request's reserve, release or refund. */
import { useQuery } from '@tanstack/react-query';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession } from '../../session/session';
import { formatSignedUsd, formatTime } from './format';
import type { LedgerEntry } from './types';

export function KeyLedger({ keyId, pollMs }: { keyId: string; pollMs: number }) {
  const { api } = useSession();
  const ledger = useQuery({
    queryKey: ['admin', 'keys', keyId, 'ledger', { limit: 50 }],
    queryFn: ({ signal }) => api.get<{ data: LedgerEntry[] }>(`/admin/api/keys/${encodeURIComponent(keyId)}/ledger`, { limit: 50 }, signal),
    refetchInterval: pollMs,
  });
  if (ledger.isError) return <ErrorNotice error={ledger.error} />;
  if (ledger.isPending) return <p className="muted">Loading…</p>;
  if (ledger.data.data.length === 0) return <EmptyState title="No ledger entries">Grants and each request's charge will show here.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="data-table" aria-label="Ledger">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Kind</th>
            <th scope="col" className="num">
              Amount
            </th>
            <th scope="col">Request or note</th>
          </tr>
        </thead>
        <tbody>
          {ledger.data.data.map((entry) => (
            <tr key={entry.id}>
              <td>{formatTime(entry.created_at)}</td>
              <td>{entry.kind}</td>
              <td className="num">{formatSignedUsd(entry.amount)}</td>
              <td className="break">{entry.note ?? (entry.request_id ? <code>{entry.request_id}</code> : '—')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
