/** Tasks: a placeholder until the page is built (web/README.md, "Adding a page"). */
import { EmptyState } from '../../components/EmptyState';
import { Page } from '../../components/Page';

export function TasksPage() {
  return (
    <Page title="Tasks">
      <EmptyState title="Nothing here yet">Async tasks will show here with their live states and timelines.</EmptyState>
    </Page>
  );
}
