/**
 * A client key's own account (self-service, /v1/account...): its balance and limits, its usage, its tasks
 * and its images. Only this key's things: the gateway answers these for the calling key alone.
 */
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import type { ApiClient } from '../../api/client';
import type { ListAnswer } from '../../api/types';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';
import { ImageGrid, type ImageSource } from '../gallery/ImageGrid';
import type { GalleryImage } from '../gallery/types';
import { formatBalance, formatTime } from '../keys/format';
import { AccountTasks } from './AccountTasks';
import { AccountUsage } from './AccountUsage';
import type { AccountView } from './types';

/** The key's own gallery, through the Gallery page's grid (its detail panel and delete included). */
function OwnImages({ client }: { client: ApiClient }) {
  const source = useMemo<ImageSource>(
    () => ({
      queryKey: ['v1', 'account', 'images'],
      list: (page, signal) => client.get<ListAnswer<GalleryImage>>('/v1/account/images', page, signal),
      remove: (id) => client.delete(`/v1/account/images/${encodeURIComponent(id)}`),
    }),
    [client],
  );
  return <ImageGrid source={source} />;
}

export function AccountPage() {
  const { clientApi } = useSession();
  const account = useQuery({
    queryKey: ['v1', 'account'],
    queryFn: ({ signal }) =>
      clientApi ? clientApi.get<AccountView>('/v1/account', {}, signal) : Promise.reject(new Error('Sign in with a client key to see its account.')),
  });
  const me = account.data;
  return (
    <Page title="Account">
      {account.isPending ? <p className="muted">Loading…</p> : null}
      {account.isError ? <ErrorNotice error={account.error} /> : null}
      {me ? (
        <dl className="facts card" data-testid="account-facts">
          <dt>Key</dt>
          <dd>
            {me.name} <code>{me.prefix}</code>
          </dd>
          <dt>Balance</dt>
          <dd data-testid="account-balance">{formatBalance(me.credits)}</dd>
          <dt>Requests per minute</dt>
          <dd>{me.rpm ?? 'no limit'}</dd>
          <dt>At once</dt>
          <dd>{me.max_concurrent ?? 'no limit'}</dd>
          <dt>Models</dt>
          <dd>{me.allowed_models ? me.allowed_models.join(', ') : 'every model'}</dd>
          <dt>Expires</dt>
          <dd>{formatTime(me.expires_at, 'never')}</dd>
          <dt>Created</dt>
          <dd>{formatTime(me.created_at)}</dd>
        </dl>
      ) : null}
      {clientApi ? (
        <>
          <h2>Usage</h2>
          <AccountUsage client={clientApi} />
          <h2>Tasks</h2>
          <AccountTasks client={clientApi} />
          <h2>Images</h2>
          <OwnImages client={clientApi} />
        </>
      ) : null}
    </Page>
  );
}
