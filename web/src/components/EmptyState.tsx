/** What a page shows when it has nothing yet: what would be here, and how to get some. */
import type { ReactNode } from 'react';

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state">
      <h2>{title}</h2>
      {children ? <div className="empty-state-body">{children}</div> : null}
    </div>
  );
}
