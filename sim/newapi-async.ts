// A simulator of new-api's async image mode (the new-api async dialect): POST /v1/images/generations or
// /v1/images/edits with `X-New-Api-Async-Task: true` answers a task id, GET /v1/images/tasks/{id}
// reports the task (its `action` says which). Without the header it is a plain OpenAI relay.
// Validation and rendering are delegated to OpenAIImagesSimulator (in relay mode) so both paths
// accept and reject exactly the same bodies, JSON or multipart.
import { randomBytes } from 'node:crypto';
import { startSimulatorServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { isMultipart, parseMultipart } from './multipart.js';
import { OpenAIImagesSimulator } from './openai/simulator.js';
import { dataItems, itemUrls, TaskSimulatorBase, taskProgress, type TimedTask } from './task-kit.js';
import { headerValue, isObject, jsonResponse as json, parseJson, safeDecode } from './wire.js';

export type NewApiTaskStatus = 'submitted' | 'queued' | 'in_progress' | 'succeeded' | 'failed';

export interface NewApiAsyncSimulatorOptions {
  /** When set, every API route requires `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** How long a task takes from submit to its final state (default 300 ms). */
  taskDurationMs?: number;
  /** Also put the finished images inline as `data: [{b64_json}]` in the task (instead of URLs). */
  inlineResults?: boolean;
  /** Base for hosted image URLs; startNewApiAsyncSimulator sets it to its own origin. */
  publicBaseUrl?: string;
}

export interface RunningNewApiAsyncSimulator {
  sim: NewApiAsyncSimulator;
  /** http://127.0.0.1:port */
  origin: string;
  /** origin + '/v1': what a channel's baseUrl points at. */
  baseURL: string;
  port: number;
  close(): Promise<void>;
}

type TaskAction = 'generations' | 'edits';

interface SimTask extends TimedTask {
  readonly action: TaskAction;
  readonly imageUrls: readonly string[];
  /** The inner simulator's data items, shown when inlineResults is on. */
  readonly inline: readonly unknown[] | undefined;
}

/** The relay paths that can run as tasks, and the `action` their tasks report. */
const TASK_ACTIONS: ReadonlyMap<string, TaskAction> = new Map([
  ['/v1/images/generations', 'generations'],
  ['/v1/images/edits', 'edits'],
]);
const TASKS_PREFIX = '/v1/images/tasks/';

/** Fault queues, counters and the image host come from TaskSimulatorBase; the wire is here. */
export class NewApiAsyncSimulator extends TaskSimulatorBase<SimTask> implements SimHandler {
  /** Answers the plain relay path when b64_json is asked for; urlRenderer answers the rest. */
  private readonly b64Relay = new OpenAIImagesSimulator({ relay: { answer: 'b64_json' } });

  constructor(private readonly opts: NewApiAsyncSimulatorOptions = {}) {
    super(opts, 'simulated upstream error');
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const path = req.path.split('?')[0] ?? req.path;
    const method = req.method.toUpperCase();
    this.record(method, req);
    const image = this.hostedImage(method, path, req);
    if (image !== undefined) return image;
    if (!this.authorized(req)) return unauthorized();
    const action = method === 'POST' ? TASK_ACTIONS.get(path) : undefined;
    if (action !== undefined) {
      if (isAsync(headerValue(req.headers, 'x-new-api-async-task'))) return this.submit(req, action, path);
      const wantsB64 = (await readResponseFormat(req)) === 'b64_json';
      return (wantsB64 ? this.b64Relay : this.urlRenderer).handle({ ...req, method, path });
    }
    if (method === 'GET' && path.startsWith(TASKS_PREFIX)) return this.query(safeDecode(path.slice(TASKS_PREFIX.length)));
    return openAIError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null);
  }

  // -- routes -------------------------------------------------------------------

  private async submit(req: SimRequest, action: TaskAction, path: string): Promise<SimResponse> {
    const fault = this.countSubmit();
    if (fault !== undefined) return openAIError(fault.status, fault.message, 'new_api_error', null);
    // Run the generation or edit now: a body the relay rejects is rejected at submit, as new-api does.
    const relay = this.opts.inlineResults === true ? this.b64Relay : this.urlRenderer;
    const answer = await relay.handle({ ...req, method: 'POST', path });
    if (answer.kind !== 'full') return openAIError(500, 'relay did not answer', 'new_api_error', null);
    if (answer.status !== 200) return answer;
    const items = dataItems(parseJson(answer.body));
    const task: SimTask = {
      ...this.startTask(`task_${randomBytes(12).toString('base64url')}`),
      action,
      imageUrls: itemUrls(items),
      inline: this.opts.inlineResults === true ? items : undefined,
    };
    this.tasks.set(task.id, task);
    return json(200, { code: 'success', message: 'success', data: { task_id: task.id, status: 'submitted' } });
  }

  private query(id: string): SimResponse {
    const fault = this.countPoll();
    if (fault !== undefined) return json(fault.status, { code: 'get_task_failed', message: fault.message, data: null });
    const task = this.tasks.get(id);
    // new-api relays' documents do not show this answer; new-api's task errors use code = message.
    if (task === undefined) return json(404, { code: 'task_not_exist', message: 'task_not_exist', data: null });
    return json(200, { code: 'success', message: 'success', data: taskView(task, Date.now()) });
  }
}

/**
 * Where a task stands `now`: the first 10% of its time submitted, until 25% queued, then in
 * progress (10-90%), then its final state. Zero-valued fields stay present, as Go's JSON does.
 */
function taskView(task: SimTask, now: number): Record<string, unknown> {
  const f = taskProgress(task, now);
  const seconds = (ms: number): number => Math.floor(ms / 1000);
  const base = {
    task_id: task.id,
    action: task.action,
    submit_time: seconds(task.createdAt),
    start_time: f >= 0.25 ? seconds(task.createdAt + task.durationMs * 0.25) : 0,
    finish_time: 0,
    result_url: '',
    image_urls: [] as readonly string[],
    fail_reason: '',
  };
  if (f < 0.1) return { ...base, status: 'submitted', status_raw: 'SUBMITTED', progress: '0%' };
  if (f < 0.25) return { ...base, status: 'queued', status_raw: 'QUEUED', progress: '0%' };
  if (f < 1) {
    const pct = 10 + Math.floor((80 * (f - 0.25)) / 0.75);
    return { ...base, status: 'in_progress', status_raw: 'IN_PROGRESS', progress: `${pct}%` };
  }
  const done = { ...base, progress: '100%', finish_time: seconds(task.createdAt + task.durationMs) };
  if (task.failReason !== undefined) return { ...done, status: 'failed', status_raw: 'FAILURE', fail_reason: task.failReason };
  return {
    ...done,
    status: 'succeeded',
    status_raw: 'SUCCESS',
    result_url: task.imageUrls[0] ?? '',
    image_urls: task.imageUrls,
    ...(task.inline !== undefined ? { data: task.inline } : {}),
  };
}

function isAsync(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  return v === 'true' || v === '1';
}

/** The client's response_format, from a JSON body or a multipart edit's form field. */
async function readResponseFormat(req: SimRequest): Promise<unknown> {
  const contentType = headerValue(req.headers, 'content-type');
  if (isMultipart(contentType)) {
    const form = await parseMultipart(req.body, contentType ?? '').catch(() => undefined);
    return form?.fields.response_format;
  }
  const value = parseJson(req.body);
  return isObject(value) ? value.response_format : undefined;
}

/** new-api answers relay-route errors (auth included) in OpenAI's envelope. */
function openAIError(status: number, message: string, type: string, code: string | null): SimResponse {
  return json(status, { error: { message, type, param: null, code } });
}

function unauthorized(): SimResponse {
  return openAIError(401, 'Invalid token (simulated new-api).', 'new_api_error', 'invalid_api_key');
}

export async function startNewApiAsyncSimulator(
  opts: NewApiAsyncSimulatorOptions & { host?: string; port?: number } = {},
): Promise<RunningNewApiAsyncSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer((origin) => new NewApiAsyncSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), {
    host,
    port,
  });
  return { ...running, baseURL: `${running.origin}/v1` };
}
