/**
 * How a task looks in each dialect: new-api's task query (the new-api async dialect), the task
 * API's record and its callback payload (the task API dialect). Pure: links are signed by the caller's `sign`.
 */
import type { TaskRow } from '../db/schema.js';
import type { StoredJob } from './stored-job.js';
import type { StoredTaskResult } from './task-store.js';

/** Seconds a running task is expected to take, for the progress estimate. */
const EXPECTED_RUN_MS = 60_000;

export function resultOf(task: TaskRow): StoredTaskResult | null {
  return task.result ? (JSON.parse(task.result) as StoredTaskResult) : null;
}

/** 0-100: queued 0, running 10-90 by elapsed time (capped), final 100. */
export function progressOf(task: TaskRow, now: number): number {
  if (task.status === 'succeeded' || task.status === 'failed') return 100;
  if (task.status === 'queued' || task.started_at === null) return 0;
  return Math.min(90, 10 + Math.floor((80 * (now - task.started_at)) / EXPECTED_RUN_MS));
}

const NEWAPI_STATUS = {
  queued: ['queued', 'QUEUED'],
  running: ['in_progress', 'IN_PROGRESS'],
  succeeded: ['succeeded', 'SUCCESS'],
  failed: ['failed', 'FAILURE'],
} as const;

/** GET /v1/images/tasks/{id} data, as new-api answers it (times in seconds, zero when unknown). */
export function newApiTaskView(task: TaskRow, sign: (name: string) => string, now: number) {
  const [status, raw] = NEWAPI_STATUS[task.status];
  const urls = (resultOf(task)?.images ?? []).map((image) => sign(image.name));
  const seconds = (ms: number | null) => (ms === null ? 0 : Math.floor(ms / 1000));
  return {
    task_id: task.id,
    status,
    status_raw: raw,
    action: task.action,
    progress: `${progressOf(task, now)}%`,
    submit_time: seconds(task.created_at),
    start_time: seconds(task.started_at),
    finish_time: seconds(task.finished_at),
    result_url: urls[0] ?? '',
    image_urls: urls,
    fail_reason: task.fail_reason ?? '',
    ...(urls.length > 0 ? { data: urls.map((url) => ({ url })) } : {}),
  };
}

/** The task API's callbacks name a model `<provider>/<model>`; every model the catalogue serves is OpenAI's. */
const MODEL_PROVIDER = 'openai';

const TASK_API_STATE = { queued: 'pending', running: 'processing', succeeded: 'completed', failed: 'failed' } as const;

/** GET /api/v1/images/generations?task_id= data (the task API dialect; times in ms). */
export function taskApiView(task: TaskRow, sign: (name: string) => string) {
  const urls = (resultOf(task)?.images ?? []).map((image) => sign(image.name));
  return {
    taskId: task.id,
    model: task.model,
    state: TASK_API_STATE[task.status],
    resultUrls: task.status === 'succeeded' ? urls : null,
    createTime: task.created_at,
    completeTime: task.finished_at,
    failCode: task.fail_code,
    failMsg: task.fail_reason,
  };
}

/**
 * The task API dialect's callback body: `param` and `resultJson` are JSON strings (resultJson null on failure),
 * times and `costTime` in ms; `model` is `<provider>/<model>`; `param` is the create body as the
 * caller sent it (for a task stored before bodies were kept: its model, prompt, size and n).
 * new-api tasks send their task view instead (the shape their clients already parse).
 */
export function webhookPayload(task: TaskRow, sign: (name: string) => string, now: number): unknown {
  if (task.dialect === 'newapi') return { code: 'success', message: 'success', data: newApiTaskView(task, sign, now) };
  const view = taskApiView(task, sign);
  const request = JSON.parse(task.request) as Partial<Pick<StoredJob, 'prompt' | 'size' | 'n' | 'sentBody'>>;
  const sent = request.sentBody ?? { model: task.model, prompt: request.prompt, size: request.size, n: request.n };
  return {
    code: 200,
    msg: 'success',
    data: {
      taskId: task.id,
      model: `${MODEL_PROVIDER}/${task.model}`,
      state: view.state,
      param: JSON.stringify(sent),
      resultJson: task.status === 'succeeded' ? JSON.stringify({ resultUrls: view.resultUrls }) : null,
      failCode: task.fail_code,
      failMsg: task.fail_reason,
      costTime: task.finished_at !== null ? task.finished_at - task.created_at : 0,
      completeTime: task.finished_at,
      createTime: task.created_at,
    },
  };
}
