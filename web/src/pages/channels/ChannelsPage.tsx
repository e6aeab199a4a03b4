/**
 * Channels (admin): every upstream account with its routing (priority, weight), status and live health,
 * polled; add, edit, enable or disable, test and delete them (GET/POST/PATCH/DELETE /admin/api/channels).
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';
import { ChannelForm } from './ChannelForm';
import { ChannelRow } from './ChannelRow';
import type { ChannelView } from './types';

/** How often the list (and so the health) is read again. */
const POLL_MS = 2_000;

type Editing = { mode: 'closed' } | { mode: 'create' } | { mode: 'edit'; channel: ChannelView };

export function ChannelsPage() {
  const { api } = useSession();
  const [editing, setEditing] = useState<Editing>({ mode: 'closed' });
  const channels = useQuery({
    queryKey: ['admin', 'channels', { limit: 100 }],
    queryFn: ({ signal }) => api.get<{ data: ChannelView[] }>('/admin/api/channels', { limit: 100 }, signal),
    refetchInterval: POLL_MS,
  });
  const close = () => setEditing({ mode: 'closed' });
  const list = channels.data?.data ?? [];
  return (
    <Page
      title="Channels"
      actions={
        <button type="button" className="primary" onClick={() => setEditing({ mode: 'create' })}>
          Add a channel
        </button>
      }
    >
      {editing.mode === 'create' ? <ChannelForm onDone={close} /> : null}
      {editing.mode === 'edit' ? <ChannelForm key={editing.channel.id} channel={editing.channel} onDone={close} /> : null}
      {channels.isError ? <ErrorNotice error={channels.error} /> : null}
      {channels.isPending ? <p className="muted">Loading…</p> : null}
      {channels.isSuccess && list.length === 0 && editing.mode === 'closed' ? (
        <EmptyState title="No channels yet">
          <p>The demo channel serves while none is set; add your first channel to send requests upstream.</p>
          <button type="button" className="primary" onClick={() => setEditing({ mode: 'create' })}>
            Add your first channel
          </button>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <div className="table-wrap wide">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Priority
                </th>
                <th scope="col" className="num">
                  Weight
                </th>
                <th scope="col">Health</th>
                <th scope="col" className="num">
                  In flight
                </th>
                <th scope="col">Keys</th>
                <th scope="col">Last test</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((channel) => (
                <ChannelRow key={channel.id} channel={channel} onEdit={() => setEditing({ mode: 'edit', channel })} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <p className="muted small">Health is read every {POLL_MS / 1000} s. In flight counts this instance's requests against the channel's cap.</p>
    </Page>
  );
}
