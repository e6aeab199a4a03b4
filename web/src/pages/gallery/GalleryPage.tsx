/** Gallery (admin): every stored image, filtered by key, model, task, dates and content review, with a detail panel. */
import { useMemo, useState } from 'react';
import type { ListAnswer } from '../../api/types';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';
import { dayBound } from './format';
import { ImageGrid, type ImageSource } from './ImageGrid';
import type { GalleryImage, ImageFilters } from './types';

export function GalleryPage() {
  const { api } = useSession();
  const [filters, setFilters] = useState<ImageFilters>({});
  const source = useMemo<ImageSource>(
    () => ({
      queryKey: ['admin', 'images', filters],
      list: (page, signal) =>
        api.get<ListAnswer<GalleryImage>>(
          '/admin/api/images',
          {
            ...page,
            key: filters.key,
            model: filters.model,
            task: filters.task,
            review: filters.review,
            from: dayBound(filters.from, 'start'),
            to: dayBound(filters.to, 'end'),
          },
          signal,
        ),
      remove: (id) => api.delete(`/admin/api/images/${encodeURIComponent(id)}`),
      approve: (id) => api.post(`/admin/api/images/${encodeURIComponent(id)}/approve`, {}),
    }),
    [api, filters],
  );
  const filtered = Object.values(filters).some(Boolean);
  return (
    <Page title="Gallery">
      <ImageFilterBar filters={filters} onChange={setFilters} withKey />
      <ImageGrid source={source} showKey filtered={filtered} />
    </Page>
  );
}

/** The filters, applied as they are typed (each change is a new list query). */
export function ImageFilterBar({ filters, onChange, withKey }: { filters: ImageFilters; onChange: (next: ImageFilters) => void; withKey: boolean }) {
  const set = (name: keyof ImageFilters) => (event: { target: { value: string } }) => onChange({ ...filters, [name]: event.target.value.trim() });
  return (
    <form className="inline-form filters" aria-label="Filters" onSubmit={(event) => event.preventDefault()}>
      {withKey ? (
        <label className="field">
          <span>Key</span>
          <input value={filters.key ?? ''} onChange={set('key')} placeholder="id or prefix" />
        </label>
      ) : null}
      <label className="field">
        <span>Model</span>
        <input value={filters.model ?? ''} onChange={set('model')} />
      </label>
      <label className="field">
        <span>Task</span>
        <input value={filters.task ?? ''} onChange={set('task')} placeholder="task id" />
      </label>
      <label className="field">
        <span>From</span>
        <input type="date" value={filters.from ?? ''} onChange={set('from')} />
      </label>
      <label className="field">
        <span>To</span>
        <input type="date" value={filters.to ?? ''} onChange={set('to')} />
      </label>
      {withKey ? (
        <label className="field">
          <span>Review</span>
          <select aria-label="Review" value={filters.review ?? ''} onChange={set('review')}>
            <option value="">All images</option>
            <option value="any">Flagged or refused</option>
            <option value="flagged">Flagged</option>
            <option value="refused">Refused</option>
            <option value="approved">Approved</option>
          </select>
        </label>
      ) : null}
    </form>
  );
}
