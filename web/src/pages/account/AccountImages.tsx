/** The key's own stored images, newest first (GET /v1/account/images): thumbnails linking to the image. */
import { useQuery } from '@tanstack/react-query';
import type { ApiClient } from '../../api/client';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { formatTime } from '../keys/format';
import type { AccountImage } from './types';

export function AccountImages({ client }: { client: ApiClient }) {
  const images = useQuery({
    queryKey: ['v1', 'account', 'images', { limit: 24 }],
    queryFn: ({ signal }) => client.get<{ data: AccountImage[] }>('/v1/account/images', { limit: 24 }, signal),
  });
  if (images.isError) return <ErrorNotice error={images.error} />;
  if (images.isPending) return <p className="muted">Loading…</p>;
  if (images.data.data.length === 0) return <EmptyState title="No images yet">Images you generate are kept here for the gateway's retention time.</EmptyState>;
  return (
    <ul className="image-tiles" aria-label="Images">
      {images.data.data.map((image) => (
        <li key={image.id} data-image-id={image.id}>
          <a href={image.url} target="_blank" rel="noreferrer">
            <img src={image.thumbnail_url} alt={image.prompt ?? `image ${image.id}`} loading="lazy" />
          </a>
          <span className="small">{image.model ?? '—'}</span>
          <span className="muted small">{formatTime(image.created_at)}</span>
        </li>
      ))}
    </ul>
  );
}
