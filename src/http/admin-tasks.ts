/** /admin/api/tasks: tasks by state, key, model and time; one task with its runs and webhook deliveries. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { gatewayError } from '../core/errors.js';
import type { TaskRow } from '../db/schema.js';
import type { TaskFilter, TaskStore } from '../tasks/task-store.js';
import { resultOf } from '../tasks/task-views.js';
import type { WebhookOutbox } from '../tasks/webhooks.js';
import { pageAnswer, pageOf, timeBound } from './admin-list.js';
import { TaskSchemas, type AdminTaskView } from './schemas/admin.js';

export interface AdminTaskDeps {
  store: TaskStore;
  outbox: WebhookOutbox;
  sign: (name: string) => string;
}

export function registerAdminTaskRoutes(scope: FastifyInstance, deps: AdminTaskDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/admin/api/tasks', { schema: TaskSchemas.list }, async (request) => {
    const q = request.query;
    const from = timeBound(q.from, 'from');
    const to = timeBound(q.to, 'to');
    const filter: TaskFilter = {
      ...(q.state ? { status: q.state } : {}),
      ...(q.key ? { keyId: q.key } : {}),
      ...(q.model ? { model: q.model } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    };
    const page = pageOf(q);
    const { data, has_more } = pageAnswer(await deps.store.list(filter, page.limit + 1, page.offset), page);
    return { object: 'list' as const, data: data.map((t) => renderTask(t, deps.sign)), has_more };
  });

  app.get('/admin/api/tasks/:id', { schema: TaskSchemas.get }, async (request) => {
    const task = await deps.store.get(request.params.id);
    if (!task) throw gatewayError('task_not_found', `No task '${request.params.id}'.`, { param: 'id' });
    const [runs, deliveries] = await Promise.all([deps.store.runs(task.id), deps.outbox.deliveries(task.id)]);
    return {
      ...renderTask(task, deps.sign),
      runs: runs.map((r) => ({
        id: r.id,
        status: r.status,
        error_code: r.error_code,
        channel: r.channel,
        latency_ms: r.latency_ms,
        attempts: r.attempts ? (JSON.parse(r.attempts) as unknown[]) : [],
        created_at: new Date(r.created_at).toISOString(),
      })),
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
