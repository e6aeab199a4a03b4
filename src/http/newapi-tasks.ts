/**
 * new-api's async dialect: `X-New-Api-Async-Task: true` (or `1`) on generations or
 * edits answers at once with a task id; `GET /v1/images/tasks/{id}` reports it. An optional
 * `callback_url` in the body gets the final task view by webhook.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageJob } from '../core/job.js';
import type { TaskService } from '../tasks/task-service.js';
import { newApiTaskView } from '../tasks/task-views.js';
import { inputsInMemory } from '../spool/input-bytes-io.js';
import { storeJob } from '../tasks/stored-job.js';
import { readIdempotencyKey } from './request-guards.js';
import { NewApiTaskSchema } from './schemas/openai.js';

export interface NewApiTaskDeps {
  tasks: TaskService;
  sign: (name: string) => string;
}

export function wantsAsyncTask(request: FastifyRequest): boolean {
  const value = request.headers['x-new-api-async-task'];
  const text = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase();
  return text === 'true' || text === '1';
}

/** Commits the task, then answers `{"code":"success",...,"data":{"task_id","status":"submitted"}}`. */
export async function submitNewApiTask(accepted: ImageJob, request: FastifyRequest, reply: FastifyReply, deps: NewApiTaskDeps): Promise<FastifyReply> {
  // The task outlives the request, and with it the uploads' spool files: its row keeps the bytes.
  const job: ImageJob = { ...accepted, inputs: await inputsInMemory(accepted.inputs) };
  const { callback_url: callback, ...passthrough } = job.passthrough;
  const { task } = await deps.tasks.submit({
    // callback_url is ours, not the upstream's.
    job: { ...job, passthrough },
    key: request.apiKey,
    dialect: 'newapi',
    callbackUrl: callback,
    idempotencyKey: readIdempotencyKey(request),
    requestFingerprint: storeJob({ ...job, id: '' }),
    traceparent: request.logLine?.span.traceparent(),
  });
  return reply.send({
    code: 'success',
    message: 'success',
    data: { task_id: task.id, status: task.status === 'queued' ? 'submitted' : newApiTaskView(task, deps.sign, Date.now()).status },
  });
}

export function registerNewApiTaskRoutes(scope: FastifyInstance, deps: NewApiTaskDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/images/tasks/:id', { schema: NewApiTaskSchema }, async (request, reply) => {
    const task = await deps.tasks.get(request.params.id, request.apiKey);
    // new-api's own answer for a task it does not know (or that is another key's).
    if (!task) return reply.status(404).send({ code: 'task_not_exist' as const, message: 'task_not_exist' as const, data: null });
    return { code: 'success' as const, message: 'success' as const, data: newApiTaskView(task, deps.sign, Date.now()) };
  });
}
