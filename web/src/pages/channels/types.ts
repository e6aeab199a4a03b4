/** The channel answers the Channels page reads (GET /admin/api/channels, docs/api.md "Channel health"). */

export interface ChannelHealth {
  circuit: 'closed' | 'open' | 'half-open';
  consecutive_failures: number;
  unavailable_until: string | null;
  last_error: string | null;
  in_flight: number;
}

export interface ChannelTestResult {
  ok: boolean;
  model: string;
  latency_ms: number;
  error?: string | null;
  tested_at?: string | null;
}

export interface ChannelView {
  id: string;
  name: string;
  kind: string;
  base_url: string;
  status: 'active' | 'disabled' | 'auto_disabled';
  disabled_reason: string | null;
  api_keys: { key: string; fingerprint: string; disabled_reason: string | null }[];
  models: '*' | string[];
  priority: number;
  weight: number;
  max_concurrent: number;
  timeout: number;
  enabled: boolean;
  api_version: string | null;
  source: 'config' | 'admin';
  health: ChannelHealth;
  last_test: ChannelTestResult | null;
}

/** POST /admin/api/channels and PATCH /admin/api/channels/{id}: the fields the form edits. */
export interface ChannelDefinition {
  name: string;
  kind: string;
  base_url?: string;
  api_keys?: string[];
  models: '*' | string[];
  priority: number;
  weight: number;
  max_concurrent: number;
  timeout?: number | null;
  api_version?: string | null;
  enabled: boolean;
}
