/** Usage: a placeholder until the page is built (web/README.md, "Adding a page"). */
import { EmptyState } from '../../components/EmptyState';
import { Page } from '../../components/Page';

export function UsagePage() {
  return (
    <Page title="Usage">
      <EmptyState title="Nothing here yet">Charts of requests, images, price, cost and latency by day, model, key and channel will show here.</EmptyState>
    </Page>
  );
}
