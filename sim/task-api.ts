// A simulator of the task API dialect: POST /api/v1/images/generations creates a task
// (`{code:200,msg,data:{taskId,state}}`), GET ...?task_id= reports pending -> processing ->
// completed (resultUrls) | failed (failMsg). Errors are `{code,msg}` with the same HTTP status.
// Images are rendered by a composed OpenAIImagesSimulator, which also hosts them (GET /files/...).
import { randomBytes } from 'node:crypto';
import { startSimulatorServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { dataItems, itemUrls, TaskSimulatorBase, taskProgress, type TimedTask } from './task-kit.js';
import { isObject, jsonResponse as json, parseJson } from './wire.js';

/**
 * The task API's document lists no enum; its examples use 16:9, 4:3, 3:4 and 1:1. The rest is the usual set
 * of GPT Image 2 task relays (including `auto`). Anything else is a 400.
 */
export const TASK_API_ASPECT_RATIOS = ['auto', '1:1', '2:3', '3:2', '3:4', '4:3', '9:16', '16:9'] as const;
export type TaskApiAspectRatio = (typeof TASK_API_ASPECT_RATIOS)[number];

/** ~1 MP renders, edges multiples of 16 (what the inner gpt-image-2 simulator accepts). */
const RENDER_SIZE: Readonly<Record<TaskApiAspectRatio, string>> = {
  auto: '1024x1024',
  '1:1': '1024x1024',
  '2:3': '1024x1536',
  '3:2': '1536x1024',
  '3:4': '960x1280',
  '4:3': '1280x960',
  '9:16': '864x1536',
  '16:9': '1536x864',
};

export const TASK_API_MAX_REFERENCE_IMAGES = 16;

export type TaskApiState = 'pending' | 'processing' | 'completed' | 'failed';

export interface TaskApiSimulatorOptions {
  /** When set, every API route requires `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** How long a task takes from create to its final state (default 300 ms). */
  taskDurationMs?: number;
  /** Models accepted; undefined accepts any non-empty name (the API fronts many providers). */
  models?: readonly string[];
  /** Tasks the account can still pay for; undefined = unlimited. At 0, creates answer 402. */
  credits?: number;
  /** Base for hosted image URLs; startTaskApiSimulator sets it to its own origin. */
  publicBaseUrl?: string;
}

export interface RunningTaskApiSimulator {
  sim: TaskApiSimulator;
  /** http://127.0.0.1:port: what a task-api channel's baseUrl points at. */
  origin: string;
  port: number;
  close(): Promise<void>;
}

type RenderOutcome = { ok: true; urls: string[] } | { ok: false; reason: string };

interface SimTask extends TimedTask {
  /** Set once the rendering finished. */
  outcome?: RenderOutcome;
  renderedAt?: number;
}

interface CreateRequest {
  model: string;
  prompt: string;
  aspectRatio: TaskApiAspectRatio;
}

const ENDPOINT = '/api/v1/images/generations';

/** Fault queues, counters and the image host come from TaskSimulatorBase; the wire is here. */
export class TaskApiSimulator extends TaskSimulatorBase<SimTask> implements SimHandler {
  /** Remaining credits (see options); tests may change it. */
  credits: number | undefined;

  constructor(private readonly opts: TaskApiSimulatorOptions = {}) {
    super(opts, 'Internal server error');
    this.credits = opts.credits;
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://sim.invalid');
    const method = req.method.toUpperCase();
    this.record(method, req);
    // Hosted images are public, like the task API's R2-hosted results.
    const image = this.hostedImage(method, url.pathname, req);
    if (image !== undefined) return image;
    if (!this.authorized(req)) return error(401, 'Invalid API key');
    if (url.pathname !== ENDPOINT) return error(404, `Not found: ${method} ${url.pathname}`);
    if (method === 'POST') return this.create(req.body);
    if (method === 'GET') return this.query(url.searchParams.get('task_id'));
    return error(404, `Not found: ${method} ${url.pathname}`);
  }

  // -- routes -------------------------------------------------------------------

  private create(body: Buffer): SimResponse {
    const fault = this.countSubmit();
    if (fault !== undefined) return error(fault.status, fault.message);
    const parsed = validateCreate(parseJson(body), this.opts.models);
    if (typeof parsed === 'string') return error(400, parsed);
    if (this.credits !== undefined && this.credits <= 0) return error(402, 'Insufficient credits');
    if (this.credits !== undefined) this.credits -= 1;
    const task: SimTask = this.startTask(`cl${randomBytes(12).toString('hex')}`);
    this.tasks.set(task.id, task);
    // Render in the background; the task cannot complete before its images exist.
    void this.render(parsed).then((outcome) => {
      task.outcome = outcome;
      task.renderedAt = Date.now();
    });
    return json(200, { code: 200, msg: 'success', data: { taskId: task.id, state: 'pending' } });
  }

  private query(id: string | null): SimResponse {
    const fault = this.countPoll();
    if (fault !== undefined) return error(fault.status, fault.message);
    if (id === null || id === '') return error(400, 'task_id is required');
    const task = this.tasks.get(id);
    if (task === undefined) return error(404, 'Task not found');
    return json(200, { code: 200, msg: 'success', data: taskView(task, Date.now()) });
  }

  private async render(req: CreateRequest): Promise<RenderOutcome> {
    const body = { model: 'gpt-image-2', prompt: req.prompt, size: RENDER_SIZE[req.aspectRatio] };
    try {
      const answer = await this.urlRenderer.handle({
        method: 'POST',
        path: '/v1/images/generations',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(body)),
      });
      if (answer.kind !== 'full') return { ok: false, reason: 'generation failed' };
      const value = parseJson(answer.body);
      if (answer.status !== 200) return { ok: false, reason: errorMessage(value) ?? 'generation failed' };
      return { ok: true, urls: itemUrls(dataItems(value)) };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : 'generation failed' };
    }
  }
}

/** The first 20% of its time a task is pending, then processing until done and rendered. */
function taskView(task: SimTask, now: number): Record<string, unknown> {
  const base = { taskId: task.id, createTime: task.createdAt };
  const f = taskProgress(task, now);
  if (f < 0.2) return { ...base, state: 'pending' };
  if (f < 1 || task.outcome === undefined || task.renderedAt === undefined) return { ...base, state: 'processing' };
  const completeTime = Math.max(task.createdAt + task.durationMs, task.renderedAt);
  const failed = (failMsg: string) => ({ ...base, state: 'failed', resultUrls: null, failMsg, completeTime });
  if (task.failReason !== undefined) return failed(task.failReason);
  if (!task.outcome.ok) return failed(task.outcome.reason);
  return { ...base, state: 'completed', resultUrls: task.outcome.urls, failMsg: null, completeTime };
}

/** The create body as the task API documents it, or the 400 message. Unknown fields are ignored. */
function validateCreate(value: unknown, models: readonly string[] | undefined): CreateRequest | string {
  if (!isObject(value)) return 'Request body must be a JSON object';
  const { model, prompt, aspect_ratio: ratio, image_url: imageUrl, image_urls: imageUrls } = value;
  if (typeof model !== 'string' || model === '') return 'model is required';
  if (models !== undefined && !models.includes(model)) return `Unsupported model: ${model}`;
  if (typeof prompt !== 'string' || prompt.trim() === '') return 'prompt is required';
  if (ratio !== undefined && !isAspectRatio(ratio)) {
    return `Invalid aspect_ratio: ${String(ratio)}. Supported: ${TASK_API_ASPECT_RATIOS.join(', ')}`;
  }
  if (imageUrl !== undefined && typeof imageUrl !== 'string') return 'image_url must be a string';
  if (imageUrls !== undefined) {
    if (!Array.isArray(imageUrls) || !imageUrls.every((u) => typeof u === 'string')) return 'image_urls must be an array of strings';
    if (imageUrls.length > TASK_API_MAX_REFERENCE_IMAGES) return `image_urls accepts at most ${TASK_API_MAX_REFERENCE_IMAGES} images`;
  }
  if (value.nsfw_checker !== undefined && typeof value.nsfw_checker !== 'boolean') return 'nsfw_checker must be a boolean';
  if (value.callback_url !== undefined && typeof value.callback_url !== 'string') return 'callback_url must be a string';
  return { model, prompt, aspectRatio: ratio ?? '1:1' };
}

function isAspectRatio(value: unknown): value is TaskApiAspectRatio {
  return typeof value === 'string' && (TASK_API_ASPECT_RATIOS as readonly string[]).includes(value);
}

function errorMessage(value: unknown): string | undefined {
  const error = isObject(value) ? value.error : undefined;
  return isObject(error) && typeof error.message === 'string' ? error.message : undefined;
}

/** The task API's error envelope: the HTTP status repeated as `code`. */
function error(status: number, msg: string): SimResponse {
  return json(status, { code: status, msg });
}

export async function startTaskApiSimulator(opts: TaskApiSimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningTaskApiSimulator> {
  const { host, port, ...simOpts } = opts;
  const running = await startSimulatorServer((origin) => new TaskApiSimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
  return running;
}
