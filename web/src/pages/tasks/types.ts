/** The admin task answers (docs/tasks.md, "Task timeline and webhook resend"): only the fields the console reads. */

export const TASK_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface AdminTask {
  id: string;
  dialect: 'newapi' | 'task_api';
  action: 'generations' | 'edits';
  key_id: string | null;
  model: string;
  state: TaskState;
  attempts: number;
  upstream_task_id: string | null;
  image_urls: string[];
  fail_code: string | null;
  fail_reason: string | null;
  callback_url: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface WebhookDelivery {
  id: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  resend: boolean;
  attempts: number;
  last_status: number | null;
  next_attempt_at: string | null;
}

export type TimelineKind = 'submitted' | 'started' | 'channel_attempt' | 'run_ended' | 'finished' | 'webhook_queued' | 'webhook_attempt';

export interface TimelineEvent {
  at: string;
  kind: TimelineKind;
  detail: string;
  run_id?: string;
  channel?: string;
  outcome?: string;
  latency_ms?: number;
  delivery_id?: string;
  attempt?: number;
  http_status?: number | null;
  error?: string | null;
}

export interface AdminTaskDetail extends AdminTask {
  webhook_deliveries: WebhookDelivery[];
  timeline: TimelineEvent[];
}

export interface TaskFilters {
  state?: TaskState | '';
  model?: string;
  key?: string;
  from?: string;
  to?: string;
}

/** Queued or running: the list and the detail poll while any is. */
export function isLive(state: TaskState): boolean {
  return state === 'queued' || state === 'running';
}
