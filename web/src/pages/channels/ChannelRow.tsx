/**
 * One channel in the list: what it is, how the router weighs it, its live health, its keys, its last test;
 * and what can be done to it (test, edit, enable or disable, delete after a confirmation).
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession } from '../../session/session';
import { ChannelHealthCell } from './ChannelHealthCell';
import type { ChannelTestResult, ChannelView } from './types';

const STATUS_TONE: Record<ChannelView['status'], string> = { active: 'ok', disabled: 'muted', auto_disabled: 'bad' };

function TestOutcome({ result }: { result: ChannelTestResult }) {
  return result.ok ? (
    <span className="stack">
      <span>
        <span className="pill ok">ok</span> {Math.round(result.latency_ms)} ms
      </span>
      <span className="muted small">{result.model}</span>
    </span>
  ) : (
    <span className="stack">
      <span>
        <span className="pill bad">failed</span> {Math.round(result.latency_ms)} ms
      </span>
      {result.error ? <span className="small danger-text">{result.error}</span> : null}
    </span>
  );
}

export function ChannelRow({ channel, onEdit }: { channel: ChannelView; onEdit: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const path = `/admin/api/channels/${encodeURIComponent(channel.id)}`;
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['admin', 'channels'] });
  const test = useMutation({ mutationFn: () => api.post<ChannelTestResult>(`${path}/test`, undefined), onSettled: refresh });
  const toggle = useMutation({ mutationFn: (enabled: boolean) => api.patch<ChannelView>(path, { enabled }), onSuccess: refresh });
  const remove = useMutation({ mutationFn: () => api.delete(path), onSuccess: refresh });
  const disabledKeys = channel.api_keys.filter((key) => key.disabled_reason !== null);
  const shownTest = test.data ?? channel.last_test;
  const failure = test.error ?? toggle.error ?? remove.error;
  return (
    <tr aria-label={channel.name}>
      <th scope="row">
        <div className="stack">
          <strong>{channel.name}</strong>
          <span className="muted small">
            {channel.kind}
            {channel.source === 'config' ? ' · config file' : ''}
          </span>
          <span className="muted small break">{channel.base_url}</span>
        </div>
      </th>
      <td>
        <div className="stack">
          <span className={`pill ${STATUS_TONE[channel.status]}`}>{channel.status.replace('_', ' ')}</span>
          {channel.disabled_reason ? <span className="small danger-text">{channel.disabled_reason}</span> : null}
        </div>
      </td>
      <td className="num">{channel.priority}</td>
      <td className="num">{channel.weight}</td>
      <td>
        <ChannelHealthCell health={channel.health} />
      </td>
      <td className="num" data-testid="in-flight">
        {channel.health.in_flight} / {channel.max_concurrent === 0 ? '∞' : channel.max_concurrent}
      </td>
      <td>
        <div className="stack">
          <span>
            {channel.api_keys.length} key{channel.api_keys.length === 1 ? '' : 's'}
          </span>
          {disabledKeys.map((key) => (
            <span key={key.fingerprint} className="small danger-text">
              {key.key} disabled: {key.disabled_reason}
            </span>
          ))}
        </div>
      </td>
      <td data-testid="last-test" aria-live="polite">
        {test.isPending ? <span className="muted">testing…</span> : shownTest ? <TestOutcome result={shownTest} /> : <span className="muted">not tested</span>}
      </td>
      <td>
        <div className="row-actions">
          <button type="button" onClick={() => test.mutate()} disabled={test.isPending} aria-label={`Test ${channel.name}`}>
            Test
          </button>
          <button type="button" onClick={onEdit} aria-label={`Edit ${channel.name}`}>
            Edit
          </button>
          <button
            type="button"
            onClick={() => toggle.mutate(!channel.enabled)}
            disabled={toggle.isPending}
            aria-label={`${channel.enabled ? 'Disable' : 'Enable'} ${channel.name}`}
          >
            {channel.enabled ? 'Disable' : 'Enable'}
          </button>
          <button
            type="button"
            className="danger"
            disabled={remove.isPending}
            aria-label={`Delete ${channel.name}`}
            onClick={() => {
              if (window.confirm(`Delete the channel ${channel.name}? Requests stop going to it at once.`)) remove.mutate();
            }}
          >
            Delete
          </button>
        </div>
        {failure ? <ErrorNotice error={failure} /> : null}
      </td>
    </tr>
  );
}
