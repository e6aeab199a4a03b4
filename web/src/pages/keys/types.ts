/** The key answers the Keys page reads (/admin/api/keys..., docs/accounts.md). */

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  owner: string | null;
  /** USD; null: unlimited. */
  credits: number | null;
  enabled: boolean;
  expires_at: string | null;
  allowed_models: string[] | null;
  rpm: number | null;
  max_concurrent: number | null;
  created_at: string;
  revoked_at: string | null;
}

/** POST /admin/api/keys: the key, and its secret this once. */
export interface CreatedKey extends KeyView {
  key: string;
}

/** The limits a key is created with or changed to (null: none). */
export interface KeyLimits {
  rpm: number | null;
  max_concurrent: number | null;
  allowed_models: string[] | null;
  expires_at: string | null;
}

export interface LedgerEntry {
  id: string;
  kind: 'grant' | 'reserve' | 'release' | 'refund';
  amount: number;
  request_id: string | null;
  note: string | null;
  created_at: string;
}

export interface WebhookSecret {
  id: string;
  webhook_secret: string | null;
}
