/** Table types: the schema lives here, so a wrong column is a compile error. Times are epoch ms. */
import type { Generated, Insertable, Selectable } from 'kysely';
import type { WebhookAttemptOutcome } from '../core/metrics-sink.js';

export interface ApiKeysTable {
  id: string;
  name: string;
  /** The visible start of the key (e.g. `ig-3fA9c1`), to tell keys apart in lists. */
  prefix: string;
  /** SHA-256 of the whole key, hex. The key itself is never stored. */
  secret_hash: string;
  created_at: number;
  revoked_at: number | null;
  owner: string | null;
  /** Credits left in micro-dollars; null: unlimited. */
  balance_micros: number | null;
  expires_at: number | null;
  /** JSON list of model ids; null: every model. */
  allowed_models: string | null;
  /** JSON list of addresses/CIDRs; null: any client address. */
  allowed_ips: string | null;
  /** Requests per minute; null: unlimited. */
  rpm: number | null;
  max_concurrent: number | null;
  enabled: Generated<number>;
  /** Standard Webhooks secret (`whsec_...`) signing this key's task callbacks; made on first use. */
  webhook_secret: string | null;
  /** JSON content-safety policy (mode, thresholds, blocklist); null: the operator's default. */
  safety_policy: string | null;
}

export type TaskStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface TasksTable {
  id: string;
  key_id: string | null;
  dialect: 'newapi' | 'task_api';
  action: 'generations' | 'edits';
  model: string;
  /** JSON StoredTaskRequest. */
  request: string;
  status: TaskStatus;
  attempts: number;
  upstream_task_id: string | null;
  upstream_channel_id: string | null;
  /** JSON StoredTaskResult. */
  result: string | null;
  fail_code: string | null;
  fail_reason: string | null;
  callback_url: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  deadline_at: number;
  lease_until: number | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  task_id: string;
  url: string;
  /** The JSON body, exactly as signed and sent. */
  payload: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: number;
  first_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  lease_until: number | null;
  created_at: number;
  delivered_at: number | null;
}

/** One attempt of a delivery (the latest few per delivery are kept). */
export interface WebhookAttemptsTable {
  delivery_id: string;
  /** 1-based. */
  attempt: number;
  task_id: string;
  /** When it was sent. */
  attempted_at: number;
  latency_ms: number;
  outcome: WebhookAttemptOutcome;
  /** The receiver's HTTP status; null when it was not reached. */
  http_status: number | null;
  /** Why it failed, in words; null when delivered. */
  error: string | null;
}

export interface CreditLedgerTable {
  id: string;
  key_id: string;
  kind: 'grant' | 'reserve' | 'release' | 'refund';
  /** Signed: what the entry did to the balance. */
  amount_micros: number;
  request_id: string | null;
  /** `<request id>:reserve` / `<request id>:settle`, unique: a request is reserved and settled once. */
  entry_key: string | null;
  note: string | null;
  created_at: number;
}

export interface ChannelsTable {
  id: string;
  name: string;
  kind: string;
  base_url: string;
  /** The rest of the channel definition (snake_case, keys included), JSON. */
  config: string;
  enabled: number;
  /** `config` rows are rewritten from the config file at every start; `admin` rows are the API's. */
  source: 'config' | 'admin';
  /** Set when the gateway disabled the channel itself (e.g. the upstream refused its only key). */
  disabled_reason: string | null;
  /** JSON: key fingerprint -> why the gateway stopped using that key. */
  disabled_keys: string;
  created_at: number;
  updated_at: number;
}

export interface RequestLogTable {
  id: string;
  key_id: string | null;
  model: string | null;
  channel: string | null;
  operation: string;
  status: number;
  error_code: string | null;
  n: number;
  delivered: number;
  latency_ms: number;
  upstream_latency_ms: number | null;
  /** JSON: [{channel, outcome, started_at, latency_ms}], one per upstream attempt (started_at: epoch ms; rows written before it was added lack it). */
  attempts: string | null;
  created_at: number;
  size: string | null;
  quality: string | null;
  /** What the key was charged. */
  price_micros: number | null;
  /** What the upstream cost the operator (list price times the channel's cost ratio). */
  cost_micros: number | null;
}

export interface ImagesTable {
  /** Also the file name stem in the ImageStore. */
  id: string;
  request_id: string;
  key_id: string | null;
  mime: string;
  /** The decoded size; 0 while a streamed image is still being written. */
  bytes: number;
  created_at: number;
  /** Retention: the sweeper deletes the image after this. */
  expires_at: number;
  /** The model asked for (null: stored before the gallery kept it). */
  model: string | null;
  /** The endpoint the image answered: generations, edits or variations. */
  operation: 'generations' | 'edits' | 'variations' | null;
  /** The async task the image is a result of. */
  task_id: string | null;
  /** The request's prompt, kept as long as the image (null: not kept, IMAGEGATE_GALLERY_PROMPTS=false). */
  prompt: string | null;
  /** JSON ImageParams: the parameters behind the image. */
  params: string | null;
  /** Pixels, when the image's header says (an SVG's may not). */
  width: number | null;
  height: number | null;
  /** JSON SafetyScores, when the image check scored the image (null: not checked). */
  safety_scores: string | null;
  /** Content review: flagged (delivered, flag mode), refused (held back, never linked), approved; null: not flagged. */
  review: ImageReview | null;
}

/** An image's place in content review (the images table's `review`). */
export type ImageReview = 'flagged' | 'refused' | 'approved';

export interface SettingsTable {
  key: string;
  value: string;
}

export interface Tables {
  api_keys: ApiKeysTable;
  channels: ChannelsTable;
  request_log: RequestLogTable;
  images: ImagesTable;
  settings: SettingsTable;
  credit_ledger: CreditLedgerTable;
  tasks: TasksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ChannelRow = Selectable<ChannelsTable>;
export type NewRequestLog = Insertable<RequestLogTable>;
export type NewImage = Insertable<ImagesTable>;
export type ImageRow = Selectable<ImagesTable>;
export type LedgerRow = Selectable<CreditLedgerTable>;
export type TaskRow = Selectable<TasksTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>;
// Generated is re-exported for later tables with database-made columns.
export type { Generated };
