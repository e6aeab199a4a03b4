/**
 * Create or edit a channel: the kind picker, where it is, its keys, what it serves, and how the router
 * uses it (priority tier, weight within the tier, cap on requests at once). Editing leaves the keys
 * alone unless new ones are typed (the gateway shows them only masked).
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useSession } from '../../session/session';
import { CHANNEL_KINDS, kindInfo } from './kinds';
import type { ChannelDefinition, ChannelView } from './types';

interface FormState {
  kind: string;
  name: string;
  baseUrl: string;
  apiKeys: string;
  models: string;
  priority: string;
  weight: string;
  maxConcurrent: string;
  timeout: string;
  apiVersion: string;
  enabled: boolean;
}

function initialState(channel: ChannelView | undefined): FormState {
  if (!channel) {
    return {
      kind: 'openai',
      name: '',
      baseUrl: '',
      apiKeys: '',
      models: '*',
      priority: '0',
      weight: '1',
      maxConcurrent: '0',
      timeout: '',
      apiVersion: '',
      enabled: true,
    };
  }
  return {
    kind: channel.kind,
    name: channel.name,
    baseUrl: channel.base_url,
    apiKeys: '',
    models: channel.models === '*' ? '*' : channel.models.join(', '),
    priority: String(channel.priority),
    weight: String(channel.weight),
    maxConcurrent: String(channel.max_concurrent),
    timeout: String(channel.timeout),
    apiVersion: channel.api_version ?? '',
    enabled: channel.enabled,
  };
}

/** The form as the admin API's channel definition; empty optional fields are left to the gateway's defaults. */
function toDefinition(form: FormState): ChannelDefinition {
  const models = form.models.trim();
  const keys = form.apiKeys
    .split('\n')
    .map((key) => key.trim())
    .filter(Boolean);
  return {
    name: form.name.trim(),
    kind: form.kind,
    ...(form.baseUrl.trim() ? { base_url: form.baseUrl.trim() } : {}),
    ...(keys.length > 0 ? { api_keys: keys } : {}),
    models:
      models === '' || models === '*'
        ? '*'
        : models
            .split(',')
            .map((m) => m.trim())
            .filter(Boolean),
    priority: Number(form.priority || 0),
    weight: Number(form.weight || 1),
    max_concurrent: Number(form.maxConcurrent || 0),
    ...(form.timeout.trim() ? { timeout: Number(form.timeout) } : {}),
    ...(form.kind === 'azure-openai' ? { api_version: form.apiVersion.trim() || null } : {}),
    enabled: form.enabled,
  };
}

export function ChannelForm({ channel, onDone }: { channel?: ChannelView; onDone: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<FormState>(() => initialState(channel));
  const set = <K extends keyof FormState>(field: K, value: FormState[K]) => setForm((current) => ({ ...current, [field]: value }));
  const save = useMutation({
    mutationFn: (definition: ChannelDefinition) =>
      channel
        ? api.patch<ChannelView>(`/admin/api/channels/${encodeURIComponent(channel.id)}`, definition)
        : api.post<ChannelView>('/admin/api/channels', definition),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['admin', 'channels'] });
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(toDefinition(form));
  };
  const hint = kindInfo(form.kind)?.baseUrl;
  const title = channel ? `Edit ${channel.name}` : 'Add a channel';
  return (
    <form className="card channel-form" onSubmit={submit} aria-label={title}>
      <h2>{title}</h2>
      <div className="form-grid">
        <label className="field">
          <span>Kind</span>
          <select value={form.kind} onChange={(e) => set('kind', e.target.value)}>
            {CHANNEL_KINDS.map((info) => (
              <option key={info.kind} value={info.kind}>
                {info.kind} — {info.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Name</span>
          <input value={form.name} onChange={(e) => set('name', e.target.value)} required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}" />
        </label>
        <label className="field wide">
          <span>Base URL</span>
          <input type="url" value={form.baseUrl} onChange={(e) => set('baseUrl', e.target.value)} placeholder={hint || 'https://relay.example.com/v1'} />
        </label>
        <label className="field wide">
          <span>API keys (one per line{channel ? '; empty keeps the current ones' : ''})</span>
          <textarea rows={2} value={form.apiKeys} onChange={(e) => set('apiKeys', e.target.value)} autoComplete="off" spellCheck={false} />
        </label>
        <label className="field wide">
          <span>Models (* for all it serves, or a comma list)</span>
          <input value={form.models} onChange={(e) => set('models', e.target.value)} />
        </label>
        <label className="field">
          <span>Priority</span>
          <input type="number" step={1} value={form.priority} onChange={(e) => set('priority', e.target.value)} />
        </label>
        <label className="field">
          <span>Weight</span>
          <input type="number" min={0} step="any" value={form.weight} onChange={(e) => set('weight', e.target.value)} />
        </label>
        <label className="field">
          <span>Max concurrent (0: none)</span>
          <input type="number" min={0} step={1} value={form.maxConcurrent} onChange={(e) => set('maxConcurrent', e.target.value)} />
        </label>
        <label className="field">
          <span>Timeout (s)</span>
          <input type="number" min={1} step="any" value={form.timeout} onChange={(e) => set('timeout', e.target.value)} placeholder="gateway default" />
        </label>
        {form.kind === 'azure-openai' ? (
          <label className="field">
            <span>API version</span>
            <input value={form.apiVersion} onChange={(e) => set('apiVersion', e.target.value)} placeholder="2024-10-21" />
          </label>
        ) : null}
        <label className="check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => set('enabled', e.target.checked)} />
          Enabled
        </label>
      </div>
      {save.isError ? <ErrorNotice error={save.error} title="Not saved" /> : null}
      <div className="row-actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {channel ? 'Save channel' : 'Create channel'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
