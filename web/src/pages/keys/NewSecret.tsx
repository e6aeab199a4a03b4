/** A new key's secret, shown this once: a copy button and a warning that it will not be shown again. */
import { useState } from 'react';

export function NewSecret({ name, secret, onDismiss }: { name: string; secret: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      // No clipboard (an insecure origin, or permission refused): the secret stays selectable on screen.
      setCopied('failed');
    }
  };
  return (
    <section className="card secret-card" aria-labelledby="new-secret-title">
      <h2 id="new-secret-title">Secret of {name}</h2>
      <p className="warning" role="note">
        Copy it now: this is the only time the gateway shows it. Only its prefix is kept in the list.
      </p>
      <div className="secret-row">
        <code data-testid="new-secret" className="secret">
          {secret}
        </code>
        <button type="button" onClick={copy}>
          {copied === 'yes' ? 'Copied' : 'Copy secret'}
        </button>
      </div>
      {copied === 'failed' ? <p className="muted small">The browser refused the clipboard: select the secret and copy it by hand.</p> : null}
      <button type="button" onClick={onDismiss}>
        I have copied it
      </button>
    </section>
  );
}
