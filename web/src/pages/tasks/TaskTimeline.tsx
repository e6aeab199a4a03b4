/**
 * One task: its facts, its timeline (submitted, each channel attempt with outcome and latency, the result,
 * each webhook attempt with its status and latency) and a "Resend webhook" button. Polls while the task or
 * one of its deliveries is still in flight.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { displayableImageUrl } from '../../api/image-links';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession } from '../../session/session';
import { formatMs, formatTime } from '../gallery/format';
import { type AdminTaskDetail, isLive, type TimelineEvent } from './types';

const LIVE_POLL_MS = 1000;

export function TaskTimeline({ id, onClose }: { id: string; onClose: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const path = `/admin/api/tasks/${encodeURIComponent(id)}`;
  const task = useQuery({
    queryKey: ['admin', 'tasks', id],
    queryFn: ({ signal }) => api.get<AdminTaskDetail>(path, {}, signal),
    refetchInterval: (query) => {
      const data = query.state.data;
      return !data || isLive(data.state) || data.webhook_deliveries.some((d) => d.status === 'pending') ? LIVE_POLL_MS : false;
    },
  });
  const resend = useMutation({
    mutationFn: () => api.post<unknown>(`${path}/webhooks/resend`, undefined),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['admin', 'tasks', id] }),
  });

  return (
    <aside className="card task-detail" aria-label="Task detail">
      <div className="page-header">
        <h2>
          Task <code>{id}</code>
        </h2>
        <button type="button" className="ghost" onClick={onClose}>
          Close
        </button>
      </div>
      {task.isError ? <ErrorNotice error={task.error} /> : null}
      {task.isPending ? <p className="muted">Loading the task…</p> : null}
      {task.data ? (
        <>
          <dl className="facts">
            <dt>State</dt>
            <dd>
              <span className={`badge state-${task.data.state}`}>{task.data.state}</span>
              {task.data.fail_reason ? <span className="muted"> {task.data.fail_reason}</span> : null}
            </dd>
            <dt>Model</dt>
            <dd>{task.data.model}</dd>
            <dt>Dialect</dt>
            <dd>
              {task.data.dialect === 'newapi' ? 'new-api async' : 'task API'}, {task.data.action}
            </dd>
            <dt>Upstream task</dt>
            <dd>{task.data.upstream_task_id ? <code>{task.data.upstream_task_id}</code> : '—'}</dd>
            <dt>Callback</dt>
            <dd>{task.data.callback_url ? <code>{task.data.callback_url}</code> : 'none'}</dd>
          </dl>
          {task.data.image_urls.length > 0 ? (
            <ul className="thumbs task-results" aria-label="Result images">
              {task.data.image_urls.map((url, index) => (
                <li key={url}>
                  <a href={displayableImageUrl(url)} target="_blank" rel="noreferrer">
                    <img className="thumb" src={displayableImageUrl(url)} alt={`Result ${index + 1}`} />
                  </a>
                </li>
              ))}
            </ul>
          ) : null}
          <h3>Timeline</h3>
          <ol className="timeline" aria-label="Timeline">
            {task.data.timeline.map((event, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: events have no id; their order is their identity.
              <TimelineItem key={index} event={event} />
            ))}
          </ol>
          <div className="inline-form">
            <button type="button" onClick={() => resend.mutate()} disabled={resend.isPending}>
              {resend.isPending ? 'Resending…' : 'Resend webhook'}
            </button>
          </div>
          {resend.isError ? <ErrorNotice error={resend.error} title="Not resent" /> : null}
        </>
      ) : null}
    </aside>
  );
}

const KIND_LABELS: Record<TimelineEvent['kind'], string> = {
  submitted: 'Submitted',
  started: 'Started',
  channel_attempt: 'Channel attempt',
  run_ended: 'Run ended',
  finished: 'Finished',
  webhook_queued: 'Webhook queued',
  webhook_attempt: 'Webhook attempt',
};

function TimelineItem({ event }: { event: TimelineEvent }) {
  const good = event.outcome === 'ok' || event.outcome === 'delivered' || event.outcome === 'succeeded';
  return (
    <li className={`timeline-event kind-${event.kind}`} data-kind={event.kind}>
      <time className="timeline-at muted" dateTime={event.at} title={formatTime(event.at)}>
        {new Date(event.at).toLocaleTimeString()}
      </time>
      <strong>{KIND_LABELS[event.kind] ?? event.kind}</strong>
      {event.channel ? <code>{event.channel}</code> : null}
      {event.attempt !== undefined ? <span>#{event.attempt}</span> : null}
      {event.outcome ? <span className={good ? 'badge ok' : 'badge bad'}>{event.outcome}</span> : null}
      {event.http_status !== undefined && event.http_status !== null ? <span className="badge">HTTP {event.http_status}</span> : null}
      {event.latency_ms !== undefined ? <span className="muted">{formatMs(event.latency_ms)}</span> : null}
      <span className="timeline-detail">{event.detail}</span>
      {event.error ? <span className="error-message">{event.error}</span> : null}
    </li>
  );
}
