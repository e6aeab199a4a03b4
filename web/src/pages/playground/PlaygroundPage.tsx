/** The playground: placeholder in the scaffold. */
import { EmptyState } from '../../components/EmptyState';
import { Page } from '../../components/Page';

export function PlaygroundPage() {
  return (
    <Page title="Playground">
      <EmptyState title="Coming next">Generate and edit images here.</EmptyState>
    </Page>
  );
}
