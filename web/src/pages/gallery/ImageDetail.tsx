/** One stored image: the full-size link, its prompt and parameters, its size, and the time left before retention deletes it. */
import { useState } from 'react';
import { displayableImageUrl } from '../../api/image-links';
import { ErrorNotice } from '../../components/ErrorNotice';
import { formatBytes, formatSpan, formatTime } from './format';
import type { GalleryImage } from './types';
import { useNow } from './use-now';

interface ImageDetailProps {
  image: GalleryImage;
  showKey: boolean;
  deleting: boolean;
  deleteError: unknown;
  onDelete: () => void;
  onClose: () => void;
}

export function ImageDetail({ image, showKey, deleting, deleteError, onDelete, onClose }: ImageDetailProps) {
  const now = useNow();
  const [confirming, setConfirming] = useState(false);
  const secondsLeft = (Date.parse(image.expires_at) - now) / 1000;
  const params = Object.entries(image.params).filter(([, value]) => value !== undefined && value !== null);
  const full = displayableImageUrl(image.url);
  return (
    <aside className="card gallery-detail" aria-label="Image detail">
      <div className="page-header">
        <h2>Image</h2>
        <button type="button" className="ghost" onClick={onClose}>
          Close
        </button>
      </div>
      <a href={full} target="_blank" rel="noreferrer">
        <img className="detail-image" src={displayableImageUrl(image.thumbnail_url)} alt={image.prompt ?? `Image ${image.id}`} />
      </a>
      <p>
        <a href={full} target="_blank" rel="noreferrer">
          Open the full image
        </a>
      </p>
      <dl className="facts">
        <dt>Prompt</dt>
        <dd data-testid="image-prompt">{image.prompt ?? <span className="muted">not kept</span>}</dd>
        <dt>Model</dt>
        <dd>{image.model ?? '—'}</dd>
        <dt>Size</dt>
        <dd>
          {image.width && image.height ? `${image.width}×${image.height}, ` : ''}
          {formatBytes(image.bytes)}, {image.mime}
        </dd>
        <dt>Deleted in</dt>
        <dd data-testid="image-expires">
          {secondsLeft > 0 ? formatSpan(secondsLeft) : 'now (retention)'} <span className="muted">({formatTime(image.expires_at)})</span>
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(image.created_at)}</dd>
        {showKey ? (
          <>
            <dt>Key</dt>
            <dd>
              <code>{image.key_id ?? '—'}</code>
            </dd>
          </>
        ) : null}
        <dt>Operation</dt>
        <dd>{image.operation ?? '—'}</dd>
        {image.task_id ? (
          <>
            <dt>Task</dt>
            <dd>
              <code>{image.task_id}</code>
            </dd>
          </>
        ) : null}
        <dt>Request</dt>
        <dd>
          <code>{image.request_id}</code>
        </dd>
        {params.map(([name, value]) => (
          <ParamFact key={name} name={name} value={value} />
        ))}
      </dl>
      {deleteError ? <ErrorNotice error={deleteError} title="Not deleted" /> : null}
      {confirming ? (
        <div className="confirm">
          <span>Delete this image and its links for good?</span>
          <button type="button" className="danger" onClick={onDelete} disabled={deleting}>
            {deleting ? 'Deleting…' : 'Yes, delete'}
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete
        </button>
      )}
    </aside>
  );
}

function ParamFact({ name, value }: { name: string; value: unknown }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>
        <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
      </dd>
    </>
  );
}
