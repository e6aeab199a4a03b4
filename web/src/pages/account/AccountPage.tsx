/** A client key's own account: its credit (GET /v1/dashboard/billing/subscription). */
import { useQuery } from '@tanstack/react-query';
import type { Subscription } from '../../api/types';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';

/** The subscription's stand-in for "no limit". */
const UNLIMITED_USD = 100_000_000;

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 });

export function AccountPage() {
  const { clientApi } = useSession();
  const subscription = useQuery({
    queryKey: ['v1', 'subscription'],
    queryFn: () => (clientApi ? clientApi.get<Subscription>('/v1/dashboard/billing/subscription') : Promise.reject(new Error('no client key'))),
  });
  return (
    <Page title="Account">
      {subscription.isPending ? <p className="muted">Loading…</p> : null}
      {subscription.isError ? <ErrorNotice error={subscription.error} /> : null}
      {subscription.data ? (
        <dl className="facts" data-testid="account-facts">
          <dt>Balance</dt>
          <dd>
            {subscription.data.hard_limit_usd >= UNLIMITED_USD ? 'unlimited' : usd.format(subscription.data.balance_usd ?? subscription.data.hard_limit_usd)}
          </dd>
          <dt>Credit limit</dt>
          <dd>{subscription.data.hard_limit_usd >= UNLIMITED_USD ? 'none' : usd.format(subscription.data.hard_limit_usd)}</dd>
          <dt>Expires</dt>
          <dd>{subscription.data.access_until ? new Date(subscription.data.access_until * 1000).toLocaleString() : 'never'}</dd>
        </dl>
      ) : null}
      <EmptyState title="Your tasks and images">They will be listed here once the gateway's self-service endpoints serve them.</EmptyState>
    </Page>
  );
}
