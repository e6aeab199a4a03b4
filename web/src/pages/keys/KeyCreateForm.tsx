/** A new client key: its name, initial credits (empty: unlimited) and limits (POST /admin/api/keys). */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession } from '../../session/session';
import { LimitsFields, limitsState, toLimits } from './LimitsFields';
import type { CreatedKey } from './types';

export function KeyCreateForm({ onCreated, onCancel }: { onCreated: (key: CreatedKey) => void; onCancel: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [credits, setCredits] = useState('');
  const [limits, setLimits] = useState(limitsState);
  const create = useMutation({
    mutationFn: () =>
      api.post<CreatedKey>('/admin/api/keys', { name: name.trim(), ...(credits.trim() ? { credits: Number(credits) } : {}), ...toLimits(limits) }),
    onSuccess: async (created) => {
      await queryClient.invalidateQueries({ queryKey: ['admin', 'keys'] });
      onCreated(created);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form className="card" onSubmit={submit} aria-label="Create a key">
      <h2>Create a key</h2>
      <div className="form-grid">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        </label>
        <label className="field">
          <span>Credits (USD; empty: unlimited)</span>
          <input type="number" min={0} step="any" value={credits} onChange={(e) => setCredits(e.target.value)} placeholder="unlimited" />
        </label>
        <LimitsFields value={limits} onChange={setLimits} />
      </div>
      {create.isError ? <ErrorNotice error={create.error} title="Not created" /> : null}
      <div className="row-actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create key
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
