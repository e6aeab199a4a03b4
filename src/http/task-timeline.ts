/**
 * A task's timeline for the admin API: what the task row, its runs (request_log rows with their
 * upstream attempts), its webhook deliveries and their attempts say, as one list of events,
 * oldest first.
 */
import type { DeliveryRow, TaskRow, WebhookAttemptRow } from '../db/schema.js';
import { hostOf } from '../tasks/webhooks.js';
import { TIMELINE_KINDS, type RunAttemptView, type TimelineEvent } from './schemas/admin.js';

/** A run as the admin API shows it, with its times as epoch ms. */
export interface TimelineRun {
  id: string;
  status: number;
  errorCode: string | null;
  createdAt: number;
  latencyMs: number;
  attempts: readonly RunAttemptView[];
}

type Timed = { ms: number; event: Omit<TimelineEvent, 'at'> };

/** Events at the same millisecond keep the order things happen in. */
const KIND_ORDER = new Map<string, number>(TIMELINE_KINDS.map((kind, i) => [kind, i]));

export function taskTimeline(
  task: TaskRow,
  runs: readonly TimelineRun[],
  deliveries: readonly DeliveryRow[],
  attempts: readonly WebhookAttemptRow[],
  isResend: (delivery: DeliveryRow) => boolean,
): TimelineEvent[] {
  const events: Timed[] = [{ ms: task.created_at, event: { kind: 'submitted', detail: `${task.dialect} ${task.action} task for ${task.model} accepted` } }];
  if (task.started_at !== null) events.push({ ms: task.started_at, event: { kind: 'started', detail: 'picked up by a worker' } });
  for (const run of runs) events.push(...runEvents(run));
  if (task.finished_at !== null) events.push({ ms: task.finished_at, event: finishedEvent(task) });
  for (const d of deliveries) {
    const resend = isResend(d);
    events.push({
      ms: d.created_at,
      event: { kind: 'webhook_queued', detail: `${resend ? 'webhook resent' : 'webhook queued'} to ${hostOf(d.url)}`, delivery_id: d.id },
    });
  }
  for (const a of attempts) {
    const answer = a.http_status !== null ? `HTTP ${a.http_status}` : (a.error ?? a.outcome);
    events.push({
      ms: a.attempted_at,
      event: {
        kind: 'webhook_attempt',
        detail: `webhook attempt ${a.attempt}: ${a.outcome} (${answer}) in ${a.latency_ms} ms`,
        delivery_id: a.delivery_id,
        attempt: a.attempt,
        outcome: a.outcome,
        http_status: a.http_status,
        error: a.error,
        latency_ms: a.latency_ms,
      },
    });
  }
  events.sort((x, y) => x.ms - y.ms || (KIND_ORDER.get(x.event.kind) ?? 0) - (KIND_ORDER.get(y.event.kind) ?? 0));
  return events.map(({ ms, event }) => ({ at: new Date(ms).toISOString(), ...event }));
}

function runEvents(run: TimelineRun): Timed[] {
  const events: Timed[] = run.attempts.map((a) => ({
    // Runs logged before attempts carried their start are placed at the run's start.
    ms: a.started_at !== null ? Date.parse(a.started_at) : run.createdAt,
    event: {
      kind: 'channel_attempt',
      detail: `${a.channel}: ${a.outcome} in ${a.latency_ms} ms`,
      run_id: run.id,
      channel: a.channel,
      outcome: a.outcome,
      latency_ms: a.latency_ms,
    },
  }));
  const failure = run.errorCode ? ` (${run.errorCode})` : '';
  events.push({
    ms: run.createdAt + run.latencyMs,
    event: { kind: 'run_ended', detail: `run ended with HTTP ${run.status}${failure} after ${run.latencyMs} ms`, run_id: run.id, latency_ms: run.latencyMs },
  });
  return events;
}

function finishedEvent(task: TaskRow): Omit<TimelineEvent, 'at'> {
  const upstream = task.upstream_task_id ? `, upstream task ${task.upstream_task_id}` : '';
  const why = task.status === 'failed' ? `: ${task.fail_code ?? 'failed'}${task.fail_reason ? ` (${task.fail_reason})` : ''}` : '';
  return { kind: 'finished', detail: `${task.status}${why}${upstream}`, outcome: task.status };
}
