/** Sign-in: paste a key; the gateway says whether it is the admin key, a client key, or neither (its message shown). */
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../components/ErrorNotice';
import { detectKeyKind } from './detect-key';
import { useSessionContext } from './session';

export function SignIn() {
  const { signIn } = useSessionContext();
  const [key, setKey] = useState('');
  const [remember, setRemember] = useState(false);
  const detect = useMutation({
    mutationFn: (pasted: string) => detectKeyKind(pasted),
    onSuccess: (kind, pasted) => signIn({ key: pasted, kind, remember }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (trimmed) detect.mutate(trimmed);
  };
  return (
    <main className="sign-in" id="main">
      <form className="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">imagegate console</h1>
        <p className="muted">
          Sign in with the admin key (<code>IMAGEGATE_ADMIN_KEY</code>) to see and steer everything, or with a client key (<code>ig-…</code>) for its playground
          and balance.
        </p>
        <label className="field">
          <span>Key</span>
          <input
            name="key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            required
            value={key}
            onChange={(e) => setKey(e.target.value)}
            // biome-ignore lint/a11y/noAutofocus: the page has one job, and this field is it.
            autoFocus
          />
        </label>
        <label className="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
          <span>Remember for this tab (sessionStorage; gone when the tab closes)</span>
        </label>
        {detect.isError ? <ErrorNotice error={detect.error} title="Not signed in" /> : null}
        <button type="submit" className="primary" disabled={detect.isPending}>
          {detect.isPending ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
