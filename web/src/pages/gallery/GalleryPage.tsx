/** Gallery: a placeholder until the page is built (web/README.md, "Adding a page"). */
import { EmptyState } from '../../components/EmptyState';
import { Page } from '../../components/Page';

export function GalleryPage() {
  return (
    <Page title="Gallery">
      <EmptyState title="Nothing here yet">Hosted images will show here as thumbnails, with the prompt and parameters behind each.</EmptyState>
    </Page>
  );
}
