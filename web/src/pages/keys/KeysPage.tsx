/**
 * Keys (admin): every client key with its balance, limits and status; create one (its secret shown once),
 * open one to change its limits, grant credits, read its ledger, handle its webhook secret or revoke it.
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';
import { formatBalance, formatLimits, formatTime } from './format';
import { KeyCreateForm } from './KeyCreateForm';
import { KeyDetail } from './KeyDetail';
import { NewSecret } from './NewSecret';
import type { CreatedKey, KeyView } from './types';

/** Balances move with every request: the list and an open ledger are read again this often. */
const POLL_MS = 5_000;

function statusOf(key: KeyView): { label: string; tone: string } {
  if (key.revoked_at) return { label: 'revoked', tone: 'muted' };
  if (!key.enabled) return { label: 'disabled', tone: 'muted' };
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return { label: 'expired', tone: 'bad' };
  return { label: 'active', tone: 'ok' };
}

export function KeysPage() {
  const { api } = useSession();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedKey | undefined>();
  const [openId, setOpenId] = useState<string | undefined>();
  const keys = useQuery({
    queryKey: ['admin', 'keys', { limit: 100 }],
    queryFn: ({ signal }) => api.get<{ data: KeyView[] }>('/admin/api/keys', { limit: 100 }, signal),
    refetchInterval: POLL_MS,
  });
  const list = keys.data?.data ?? [];
  const open = list.find((key) => key.id === openId);
  const startCreating = () => {
    setCreated(undefined);
    setCreating(true);
  };
  return (
    <Page
      title="Keys"
      actions={
        <button type="button" className="primary" onClick={startCreating}>
          Create a key
        </button>
      }
    >
      {creating ? (
        <KeyCreateForm
          onCancel={() => setCreating(false)}
          onCreated={(key) => {
            setCreating(false);
            setCreated(key);
          }}
        />
      ) : null}
      {created ? <NewSecret name={created.name} secret={created.key} onDismiss={() => setCreated(undefined)} /> : null}
      {keys.isError ? <ErrorNotice error={keys.error} /> : null}
      {keys.isPending ? <p className="muted">Loading…</p> : null}
      {keys.isSuccess && list.length === 0 && !creating ? (
        <EmptyState title="No keys yet">
          <p>Client keys call the gateway's image API, each with its own credits and limits.</p>
          <button type="button" className="primary" onClick={startCreating}>
            Create your first key
          </button>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <div className="table-wrap wide">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col" className="num">
                  Balance
                </th>
                <th scope="col">Limits</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((key) => {
                const status = statusOf(key);
                return (
                  <tr key={key.id} aria-label={key.name}>
                    <th scope="row">{key.name}</th>
                    <td>
                      <code>{key.prefix}</code>
                    </td>
                    <td className="num" data-testid="balance">
                      {formatBalance(key.credits)}
                    </td>
                    <td className="small">{formatLimits(key)}</td>
                    <td>
                      <span className={`pill ${status.tone}`}>{status.label}</span>
                    </td>
                    <td className="small">{formatTime(key.created_at)}</td>
                    <td>
                      <button type="button" onClick={() => setOpenId(key.id === openId ? undefined : key.id)} aria-label={`Manage ${key.name}`}>
                        {key.id === openId ? 'Close' : 'Manage'}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {open ? <KeyDetail key={open.id} keyView={open} pollMs={POLL_MS} onClose={() => setOpenId(undefined)} /> : null}
    </Page>
  );
}
