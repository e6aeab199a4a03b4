/**
 * /admin/api/tasks: tasks by state, key, model and time; one task with its runs, webhook deliveries
 * and their attempts, and its timeline; resending a finished task's webhook.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { gatewayError } from '../core/errors.js';
import type { DeliveryRow, TaskRow, TaskStatus } from '../db/schema.js';
import type { TaskFilter, TaskStore } from '../tasks/task-store.js';
import { resultOf } from '../tasks/task-views.js';
import { deliveryIdFor, type WebhookOutbox } from '../tasks/webhooks.js';
import { pageOf, rowPageAnswer, timeBound } from './admin-list.js';
import { TaskSchemas, type AdminTaskView, type RunAttemptView, type WebhookDeliveryView } from './schemas/admin.js';
import { taskTimeline } from './task-timeline.js';

export interface AdminTaskDeps {
  store: TaskStore;
  outbox: WebhookOutbox;
  sign: (name: string) => string;
}

/** A task list's query (state, model, from, to) as the store's filter; `keyId` limits it to one key's tasks. */
export function taskFilterOf(q: { state?: TaskStatus; model?: string; from?: string; to?: string }, keyId: string | undefined): TaskFilter {
  const from = timeBound(q.from, 'from');
  const to = timeBound(q.to, 'to');
  return {
    ...(q.state ? { status: q.state } : {}),
    ...(keyId ? { keyId } : {}),
    ...(q.model ? { model: q.model } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
}

export function registerAdminTaskRoutes(scope: FastifyInstance, deps: AdminTaskDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/admin/api/tasks', { schema: TaskSchemas.list }, async (request) => {
    const q = request.query;
    const filter = taskFilterOf(q, q.key);
    const page = pageOf(q);
    const { data, ...more } = rowPageAnswer(await deps.store.list(filter, { ...page, limit: page.limit + 1 }), page);
    return { object: 'list' as const, data: data.map((t) => renderTask(t, deps.sign)), ...more };
  });

  app.get('/admin/api/tasks/:id', { schema: TaskSchemas.get }, async (request) => {
    const task = await findTask(deps.store, request.params.id);
    const [runRows, deliveries, attempts] = await Promise.all([deps.store.runs(task.id), deps.outbox.deliveries(task.id), deps.outbox.attempts(task.id)]);
    const runs = runRows.map((r) => ({
      id: r.id,
      status: r.status,
      errorCode: r.error_code,
      channel: r.channel,
      latencyMs: r.latency_ms,
      createdAt: r.created_at,
      attempts: runAttempts(r.attempts),
    }));
    return {
      ...renderTask(task, deps.sign),
      runs: runs.map((r) => ({
        id: r.id,
        status: r.status,
        error_code: r.errorCode,
        channel: r.channel,
        latency_ms: r.latencyMs,
        attempts: [...r.attempts],
        created_at: iso(r.createdAt),
      })),
      webhook_deliveries: deliveries.map((d) => renderDelivery(task.id, d)),
      webhook_attempts: attempts.map((a) => ({
        delivery_id: a.delivery_id,
        attempt: a.attempt,
        attempted_at: iso(a.attempted_at),
        outcome: a.outcome,
        http_status: a.http_status,
        error: a.error,
        latency_ms: a.latency_ms,
      })),
      timeline: taskTimeline(task, runs, deliveries, attempts, (d) => isResend(task.id, d)),
    };
  });

  app.post('/admin/api/tasks/:id/webhooks/resend', { schema: TaskSchemas.resendWebhook }, async (request, reply) => {
    const task = await findTask(deps.store, request.params.id);
    if (task.status !== 'succeeded' && task.status !== 'failed') {
      throw gatewayError('task_not_finished', `Task '${task.id}' is ${task.status}: its webhook is sent when it ends.`, { param: 'id' });
    }
    if (!task.callback_url) throw gatewayError('task_without_callback', `Task '${task.id}' has no callback URL.`, { param: 'id' });
    const resent = await deps.outbox.resend(task.id, task.callback_url);
    if ('refused' in resent) {
      const message =
        resent.refused === 'pending'
          ? `A webhook delivery of task '${task.id}' is still being tried; resend once it has ended.`
          : `Task '${task.id}' has no webhook delivery written yet; it is written shortly after the task ends.`;
      throw gatewayError('webhook_delivery_pending', message, { param: 'id' });
    }
    return reply.status(202).send(renderDelivery(task.id, resent.delivery));
  });
}

async function findTask(store: TaskStore, id: string): Promise<TaskRow> {
  const task = await store.get(id);
  if (!task) throw gatewayError('task_not_found', `No task '${id}'.`, { param: 'id' });
  return task;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The task's own delivery has the id its ending writes; any other is a resend. */
function isResend(taskId: string, d: DeliveryRow): boolean {
  return d.id !== deliveryIdFor(taskId);
}

function renderDelivery(taskId: string, d: DeliveryRow): WebhookDeliveryView {
  return {
    id: d.id,
    url: d.url,
    status: d.status,
    resend: isResend(taskId, d),
    attempts: d.attempts,
    last_status: d.last_status,
    last_error: d.last_error,
    next_attempt_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
    delivered_at: d.delivered_at === null ? null : iso(d.delivered_at),
    created_at: iso(d.created_at),
  };
}

/** request_log.attempts, as the pipeline writes it; what is not an attempt there is left out. */
function runAttempts(json: string | null): RunAttemptView[] {
  if (!json) return [];
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((item: unknown): RunAttemptView[] => {
    if (typeof item !== 'object' || item === null) return [];
    const { channel, outcome, started_at, latency_ms } = item as Record<string, unknown>;
    if (typeof channel !== 'string' || typeof outcome !== 'string' || typeof latency_ms !== 'number') return [];
    return [{ channel, outcome, started_at: typeof started_at === 'number' ? iso(started_at) : null, latency_ms }];
  });
}

function renderTask(task: TaskRow, sign: (name: string) => string): AdminTaskView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: task.id,
    object: 'task',
    dialect: task.dialect,
    action: task.action,
    key_id: task.key_id,
    model: task.model,
    state: task.status,
    attempts: task.attempts,
    upstream_task_id: task.upstream_task_id,
    image_urls: (resultOf(task)?.images ?? []).map((i) => sign(i.name)),
    fail_code: task.fail_code,
    fail_reason: task.fail_reason,
    callback_url: task.callback_url,
    created_at: iso(task.created_at),
    started_at: iso(task.started_at),
    finished_at: iso(task.finished_at),
    deadline_at: iso(task.deadline_at),
  };
}
