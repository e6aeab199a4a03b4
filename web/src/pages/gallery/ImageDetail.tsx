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
  /** The admin's content review: clears a flagged or refused image. */
  onApprove?: () => void;
  approving?: boolean;
}

export function ImageDetail({ image, showKey, deleting, deleteError, onDelete, onClose, onApprove, approving = false }: ImageDetailProps) {
  const now = useNow();
  const [confirming, setConfirming] = useState(false);
  const secondsLeft = (Date.parse(image.expires_at) - now) / 1000;
  const params = Object.entries(image.params).filter(([, value]) => value !== undefined && value !== null);
  // A refused image has no link (the content check held it back): only its thumbnail is shown.
  const full = image.url === null ? undefined : displayableImageUrl(image.url);
  return (
    <aside className="card gallery-detail" aria-label="Image detail">
      <div className="page-header">
        <h2>Image</h2>
        <button type="button" className="ghost" onClick={onClose}>
          Close
        </button>
      </div>
      {full ? (
        <>
          <a href={full} target="_blank" rel="noreferrer">
            <img className="detail-image" src={displayableImageUrl(image.thumbnail_url)} alt={image.prompt ?? `Image ${image.id}`} />
          </a>
          <p>
            <a href={full} target="_blank" rel="noreferrer">
              Open the full image
            </a>
          </p>
        </>
      ) : (
        <>
          <img className="detail-image" src={displayableImageUrl(image.thumbnail_url)} alt={image.prompt ?? `Image ${image.id}`} />
          <p className="muted">Refused by the content check: kept for review, never linked.</p>
        </>
      )}
      {image.review ? <ReviewFacts image={image} onApprove={onApprove} approving={approving} /> : null}
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

/** Content review: the state, the classifier's scores (highest first) and, while under review, the approve action. */
function ReviewFacts({ image, onApprove, approving }: { image: GalleryImage; onApprove: (() => void) | undefined; approving: boolean }) {
  const scores = Object.entries(image.safety_scores ?? {}).sort(([, a], [, b]) => b - a);
  return (
    <section aria-label="Content review">
      <dl className="facts">
        <dt>Review</dt>
        <dd data-testid="image-review">{image.review}</dd>
        {scores.map(([name, score]) => (
          <ScoreFact key={name} name={name} score={score} />
        ))}
      </dl>
      {onApprove && image.review !== 'approved' ? (
        <button type="button" onClick={onApprove} disabled={approving}>
          {approving ? 'Approving…' : 'Approve'}
        </button>
      ) : null}
    </section>
  );
}

function ScoreFact({ name, score }: { name: string; score: number }) {
  return (
    <>
      <dt>{name}</dt>
      <dd data-testid={`score-${name}`}>{score.toFixed(3)}</dd>
    </>
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
