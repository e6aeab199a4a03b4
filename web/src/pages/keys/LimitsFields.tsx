/** The limits a key is made with or changed to: requests per minute, at once, its models, its expiry (empty: none). */
import type { KeyLimits } from './types';

export interface LimitsState {
  rpm: string;
  maxConcurrent: string;
  models: string;
  /** A datetime-local value (the browser's time zone). */
  expires: string;
}

const pad = (n: number) => String(n).padStart(2, '0');

function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function limitsState(limits?: KeyLimits): LimitsState {
  return {
    rpm: limits?.rpm != null ? String(limits.rpm) : '',
    maxConcurrent: limits?.max_concurrent != null ? String(limits.max_concurrent) : '',
    models: limits?.allowed_models ? limits.allowed_models.join(', ') : '',
    expires: toLocalInput(limits?.expires_at ?? null),
  };
}

export function toLimits(state: LimitsState): KeyLimits {
  const models = state.models
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  return {
    rpm: state.rpm.trim() ? Number(state.rpm) : null,
    max_concurrent: state.maxConcurrent.trim() ? Number(state.maxConcurrent) : null,
    allowed_models: models.length > 0 ? models : null,
    expires_at: state.expires ? new Date(state.expires).toISOString() : null,
  };
}

export function LimitsFields({ value, onChange }: { value: LimitsState; onChange: (next: LimitsState) => void }) {
  const set = (field: keyof LimitsState, text: string) => onChange({ ...value, [field]: text });
  return (
    <>
      <label className="field">
        <span>Requests per minute</span>
        <input type="number" min={1} step={1} value={value.rpm} onChange={(e) => set('rpm', e.target.value)} placeholder="no limit" />
      </label>
      <label className="field">
        <span>At once</span>
        <input type="number" min={1} step={1} value={value.maxConcurrent} onChange={(e) => set('maxConcurrent', e.target.value)} placeholder="no limit" />
      </label>
      <label className="field wide">
        <span>Allowed models (comma list)</span>
        <input value={value.models} onChange={(e) => set('models', e.target.value)} placeholder="every model" />
      </label>
      <label className="field">
        <span>Expires</span>
        <input type="datetime-local" value={value.expires} onChange={(e) => set('expires', e.target.value)} />
      </label>
    </>
  );
}
