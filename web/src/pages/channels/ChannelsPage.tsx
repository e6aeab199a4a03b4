/** Channels: a placeholder until the page is built (web/README.md, "Adding a page"). */
import { EmptyState } from '../../components/EmptyState';
import { Page } from '../../components/Page';

export function ChannelsPage() {
  return (
    <Page title="Channels">
      <EmptyState title="Nothing here yet">Upstream channels will show here: their health, priority and weight, and a test button.</EmptyState>
    </Page>
  );
}
