/**
 * A grid of stored images with a detail panel, for any gallery: the admin's (/admin/api/images) and a client
 * key's own (/v1/account/images). The caller gives how to list a page and delete one; the grid pages with
 * "Load more" by cursor (images generated meanwhile would shift an offset's page and show some twice), and a
 * deletion refreshes it.
 */
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { displayableImageUrl } from '../../api/image-links';
import type { ListAnswer } from '../../api/types';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { formatTime } from './format';
import { ImageDetail } from './ImageDetail';
import type { GalleryImage } from './types';

export const PAGE_SIZE = 24;

export interface ImageSource {
  /** The lists' query key, filters included (['admin', 'images', filters] or ['v1', 'account', 'images', filters]). */
  queryKey: readonly unknown[];
  list: (page: { limit: number; after: string | undefined }, signal: AbortSignal) => Promise<ListAnswer<GalleryImage>>;
  remove: (id: string) => Promise<unknown>;
  /** Content review (the admin's gallery only): clears a flagged or refused image. */
  approve?: (id: string) => Promise<unknown>;
}

export function ImageGrid({ source, showKey = false, filtered = false }: { source: ImageSource; showKey?: boolean; filtered?: boolean }) {
  const queryClient = useQueryClient();
  const [selectedId, setSelectedId] = useState<string | undefined>();
  const images = useInfiniteQuery({
    queryKey: source.queryKey,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam, signal }) => source.list({ limit: PAGE_SIZE, after: pageParam }, signal),
    getNextPageParam: (last) => (last.has_more && last.next_cursor ? last.next_cursor : undefined),
  });
  const remove = useMutation({
    mutationFn: (id: string) => source.remove(id),
    onSuccess: async () => {
      setSelectedId(undefined);
      await queryClient.invalidateQueries({ queryKey: source.queryKey });
    },
  });
  const approve = useMutation({
    mutationFn: (id: string) => (source.approve ? source.approve(id) : Promise.resolve()),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: source.queryKey }),
  });

  if (images.isError) return <ErrorNotice error={images.error} />;
  if (images.isPending) return <p className="muted">Loading images…</p>;
  const all = images.data.pages.flatMap((page) => page.data);
  const selected = all.find((image) => image.id === selectedId);
  if (all.length === 0) {
    return filtered ? (
      <EmptyState title="No images match">Clear a filter to see more.</EmptyState>
    ) : (
      <EmptyState title="No images yet">
        Generate one in the <Link href="/playground">Playground</Link>: every image the gateway stores shows here until retention deletes it.
      </EmptyState>
    );
  }
  return (
    <div className={selected ? 'gallery with-detail' : 'gallery'}>
      <div className="gallery-list">
        <ul className="gallery-grid" aria-label="Images">
          {all.map((image) => (
            <li key={image.id} className={image.id === selectedId ? 'result selected' : 'result'}>
              <button type="button" className="thumb-button" aria-pressed={image.id === selectedId} onClick={() => setSelectedId(image.id)}>
                <img src={displayableImageUrl(image.thumbnail_url)} alt={image.prompt ?? `Image ${image.id}`} loading="lazy" />
              </button>
              <div className="result-meta">
                <span>{image.model ?? '—'}</span>
                {showKey && image.key_id ? (
                  // A key id is a UUID: its first 8 characters tell keys apart here (the whole id on hover and in the detail).
                  <code className="muted" title={image.key_id}>
                    {image.key_id.slice(0, 8)}
                  </code>
                ) : null}
                <span className="muted">{formatTime(image.created_at)}</span>
                {image.review === 'flagged' || image.review === 'refused' ? <span className="badge bad">{image.review}</span> : null}
              </div>
            </li>
          ))}
        </ul>
        {images.hasNextPage ? (
          <button type="button" onClick={() => void images.fetchNextPage()} disabled={images.isFetchingNextPage}>
            {images.isFetchingNextPage ? 'Loading…' : 'Load more'}
          </button>
        ) : null}
      </div>
      {selected ? (
        <ImageDetail
          image={selected}
          showKey={showKey}
          deleting={remove.isPending}
          deleteError={remove.error}
          onDelete={() => remove.mutate(selected.id)}
          {...(source.approve ? { onApprove: () => approve.mutate(selected.id), approving: approve.isPending } : {})}
          onClose={() => setSelectedId(undefined)}
        />
      ) : null}
    </div>
  );
}
