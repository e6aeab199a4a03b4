/**
 * One key, opened from the list: change its limits, grant credits with a note, read its ledger, show or
 * rotate its webhook secret, revoke it (after a confirmation).
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession } from '../../session/session';
import { formatBalance } from './format';
import { KeyLedger } from './KeyLedger';
import { LimitsFields, limitsState, toLimits } from './LimitsFields';
import type { KeyView } from './types';
import { WebhookSecretPanel } from './WebhookSecretPanel';

export function KeyDetail({ keyView, pollMs, onClose }: { keyView: KeyView; pollMs: number; onClose: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const path = `/admin/api/keys/${encodeURIComponent(keyView.id)}`;
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['admin', 'keys'] });
  const [limits, setLimits] = useState(() => limitsState(keyView));
  const [amount, setAmount] = useState('');
  const [note, setNote] = useState('');
  const saveLimits = useMutation({ mutationFn: () => api.patch<KeyView>(path, toLimits(limits)), onSuccess: refresh });
  const grant = useMutation({
    mutationFn: () => api.post(`${path}/credits`, { amount: Number(amount), ...(note.trim() ? { note: note.trim() } : {}) }),
    onSuccess: async () => {
      setAmount('');
      setNote('');
      await refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: () => api.delete(path),
    onSuccess: async () => {
      await refresh();
      onClose();
    },
  });
  const revoked = keyView.revoked_at !== null;
  const submitLimits = (event: FormEvent) => {
    event.preventDefault();
    saveLimits.mutate();
  };
  const submitGrant = (event: FormEvent) => {
    event.preventDefault();
    grant.mutate();
  };
  return (
    <section className="card key-detail" aria-labelledby="key-detail-title">
      <header className="page-header">
        <h2 id="key-detail-title">Key {keyView.name}</h2>
        <button type="button" className="ghost" onClick={onClose}>
          Close
        </button>
      </header>
      <p>
        Balance <strong data-testid="key-balance">{formatBalance(keyView.credits)}</strong> <span className="muted">· prefix </span>
        <code>{keyView.prefix}</code>
      </p>
      {revoked ? null : (
        <div className="detail-grid">
          <form onSubmit={submitLimits} aria-label="Limits">
            <h3>Limits</h3>
            <div className="form-grid">
              <LimitsFields value={limits} onChange={setLimits} />
            </div>
            {saveLimits.isError ? <ErrorNotice error={saveLimits.error} title="Not saved" /> : null}
            {saveLimits.isSuccess ? <p className="muted small">Saved.</p> : null}
            <button type="submit" disabled={saveLimits.isPending}>
              Save limits
            </button>
          </form>
          <form onSubmit={submitGrant} aria-label="Grant credits">
            <h3>Grant credits</h3>
            <div className="form-grid">
              <label className="field">
                <span>Amount (USD)</span>
                <input type="number" step="any" value={amount} onChange={(e) => setAmount(e.target.value)} required placeholder="negative takes away" />
              </label>
              <label className="field wide">
                <span>Note</span>
                <input value={note} onChange={(e) => setNote(e.target.value)} maxLength={500} placeholder="kept in the ledger" />
              </label>
            </div>
            {grant.isError ? <ErrorNotice error={grant.error} title="Not granted" /> : null}
            <button type="submit" disabled={grant.isPending}>
              Grant
            </button>
          </form>
        </div>
      )}
      <h3>Ledger</h3>
      <KeyLedger keyId={keyView.id} pollMs={pollMs} />
      {revoked ? null : (
        <>
          <h3>Webhook secret</h3>
          <WebhookSecretPanel keyId={keyView.id} />
          <h3>Revoke</h3>
          <div className="row-actions">
            <button
              type="button"
              className="danger"
              disabled={revoke.isPending}
              onClick={() => {
                if (window.confirm(`Revoke ${keyView.name}? Requests with it are refused from now on; this cannot be undone.`)) revoke.mutate();
              }}
            >
              Revoke key
            </button>
          </div>
          {revoke.isError ? <ErrorNotice error={revoke.error} /> : null}
        </>
      )}
    </section>
  );
}
