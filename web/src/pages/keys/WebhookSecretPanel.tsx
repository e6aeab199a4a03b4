/** The key's webhook signing secret (Standard Webhooks, whsec_...): hidden until asked for, and rotatable. */
import { useMutation } from '@tanstack/react-query';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession } from '../../session/session';
import type { WebhookSecret } from './types';

export function WebhookSecretPanel({ keyId }: { keyId: string }) {
  const { api } = useSession();
  const path = `/admin/api/keys/${encodeURIComponent(keyId)}/webhook-secret`;
  const show = useMutation({ mutationFn: () => api.get<WebhookSecret>(path) });
  const rotate = useMutation({ mutationFn: () => api.post<WebhookSecret>(`${path}/rotate`, undefined) });
  const secret = (rotate.data ?? show.data)?.webhook_secret;
  const failure = show.error ?? rotate.error;
  return (
    <div className="stack">
      <p className="muted small">Task callbacks of this key are signed with it; the receiver checks the signature with the same secret.</p>
      {secret ? (
        <code className="secret" data-testid="webhook-secret">
          {secret}
        </code>
      ) : null}
      <div className="row-actions">
        <button type="button" onClick={() => show.mutate()} disabled={show.isPending}>
          Show webhook secret
        </button>
        <button
          type="button"
          className="danger"
          disabled={rotate.isPending}
          onClick={() => {
            if (window.confirm('Rotate the webhook secret? Receivers must be given the new one; callbacks signed with the old one stop.')) rotate.mutate();
          }}
        >
          Rotate webhook secret
        </button>
      </div>
      {failure ? <ErrorNotice error={failure} /> : null}
    </div>
  );
}
