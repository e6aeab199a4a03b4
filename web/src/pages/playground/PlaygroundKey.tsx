/**
 * The admin key is not a client key, so an admin's playground spends a client key: one pasted here, or one
 * created for it (POST /admin/api/keys, named "console playground": visible and revocable on the Keys page).
 */
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession, useSessionContext } from '../../session/session';

export function PlaygroundKey() {
  const { api } = useSession();
  const { setPlaygroundKey } = useSessionContext();
  const [pasted, setPasted] = useState('');
  const create = useMutation({
    mutationFn: () => api.post<{ key: string }>('/admin/api/keys', { name: 'console playground' }),
    onSuccess: (created) => setPlaygroundKey(created.key),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (pasted.trim()) setPlaygroundKey(pasted.trim());
  };
  return (
    <div className="card playground-key">
      <h2>A client key for the playground</h2>
      <p className="muted">The playground calls the client API (/v1), which takes client keys, not the admin key. Paste one, or create one for it.</p>
      <form className="inline-form" onSubmit={submit}>
        <label className="field">
          <span>Client key</span>
          <input type="password" autoComplete="off" value={pasted} onChange={(e) => setPasted(e.target.value)} />
        </label>
        <button type="submit">Use this key</button>
        <button type="button" className="primary" onClick={() => create.mutate()} disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create a playground key'}
        </button>
      </form>
      {create.isError ? <ErrorNotice error={create.error} title="No key created" /> : null}
    </div>
  );
}
