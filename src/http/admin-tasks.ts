/** /admin/api/tasks: tasks by state, key, model and time; one task with its runs and webhook deliveries. */
import type { FastifyInstance } from 'fastify';
import { gatewayError, invalidRequest } from '../core/errors.js';
import type { TaskRow, TaskStatus } from '../db/schema.js';
import type { TaskFilter, TaskStore } from '../tasks/task-store.js';
import { resultOf } from '../tasks/task-views.js';
import type { WebhookOutbox } from '../tasks/webhooks.js';
import { readQuery } from './query.js';

export interface AdminTaskDeps {
  store: TaskStore;
  outbox: WebhookOutbox;
  sign: (name: string) => string;
}

const STATUSES: readonly TaskStatus[] = ['queued', 'running', 'succeeded', 'failed'];

export function registerAdminTaskRoutes(app: FastifyInstance, deps: AdminTaskDeps): void {
  app.get('/admin/api/tasks', async (request) => {
    const q = readQuery(request, ['state', 'key', 'model', 'from', 'to', 'limit']);
    if (q.state && !(STATUSES as readonly string[]).includes(q.state)) {
      throw invalidRequest('state', 'invalid_value', `state must be one of ${STATUSES.join(', ')}.`);
    }
    const filter: TaskFilter = {
      ...(q.state ? { status: q.state as TaskStatus } : {}),
      ...(q.key ? { keyId: q.key } : {}),
      ...(q.model ? { model: q.model } : {}),
      ...(q.from ? { from: time(q.from, 'from') } : {}),
      ...(q.to ? { to: time(q.to, 'to') } : {}),
    };
    const limit = Math.min(1000, Math.max(1, Number(q.limit ?? 100) || 100));
    return { object: 'list', data: (await deps.store.list(filter, limit)).map((t) => renderTask(t, deps.sign)) };
  });

  app.get<{ Params: { id: string } }>('/admin/api/tasks/:id', async (request) => {
    const task = await deps.store.get(request.params.id);
    if (!task) throw gatewayError('task_not_found', `No task '${request.params.id}'.`, { param: 'id' });
    const [runs, deliveries] = await Promise.all([deps.store.runs(task.id), deps.outbox.deliveries(task.id)]);
    return {
      ...renderTask(task, deps.sign),
      runs: runs.map((r) => ({ id: r.id, status: r.status, error_code: r.error_code, channel: r.channel, latency_ms: r.latency_ms, attempts: r.attempts ? (JSON.parse(r.attempts) as unknown) : [], created_at: new Date(r.created_at).toISOString() })),
      webhook_deliveries: deliveries.map((d) => ({
        id: d.id,
        url: d.url,
        status: d.status,
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error,
        next_attempt_at: d.status === 'pending' ? new Date(d.next_attempt_at).toISOString() : null,
        delivered_at: d.delivered_at === null ? null : new Date(d.delivered_at).toISOString(),
      })),
    };
  });
}

function renderTask(task: TaskRow, sign: (name: string) => string) {
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

function time(value: string, param: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw invalidRequest(param, 'invalid_value', `${param} must be a date or epoch milliseconds.`);
  return ms;
}
