/** Keys: a placeholder until the page is built (web/README.md, "Adding a page"). */
import { EmptyState } from '../../components/EmptyState';
import { Page } from '../../components/Page';

export function KeysPage() {
  return (
    <Page title="Keys">
      <EmptyState title="Nothing here yet">Client keys will show here: create one, grant credits, see its ledger.</EmptyState>
    </Page>
  );
}
