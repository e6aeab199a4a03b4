// A simulator of a midjourney-proxy server, written from novicezk/midjourney-proxy's controllers,
// DTOs and docs/api.md and trueai-org/midjourney-proxy's (the "plus" API), which relays such as
// new-api call:
// - `mj-api-secret: <secret>`; a wrong one is HTTP 401 with an empty body (novicezk's interceptor).
// - POST /mj/submit/imagine `{prompt, base64Array?, botType?, accountFilter?, notifyHook?, state?}`
//   (unknown fields ignored, as the proxies' JSON binders do) -> HTTP 200 `{code, description,
//   result: taskId, properties}`: code 1 submitted, 22 queued (`queueDepth` tasks ahead), 4 a
//   validation error (empty prompt, bad base64), 24 a banned word (`[sim:unsafe]` in the prompt:
//   `properties.bannedWord`). `enqueueCode` scripts the next submissions' codes (23 queue full, 3
//   no account, 9 failure...). base64Array holds data URIs, the image prompts.
// - The prompt's flags: `--ar W:H` gives Midjourney's size for that ratio (the catalogue's table;
//   1:1 without it), `--v`/`--niji` are recorded; the grid is 2x2 of those images.
// - GET /mj/task/{id}/fetch: `{id, action, status, progress, imageUrl, failReason, buttons,
//   prompt, promptEn, description, submitTime, startTime, finishTime, properties}`: NOT_START,
//   SUBMITTED, IN_PROGRESS (progress "45%", a preview imageUrl as Discord's progress messages
//   have), then SUCCESS (imageUrl the grid) or FAILURE (`[sim:unsafe-output]`: Midjourney's
//   "[Banned prompt detected] ..." moderation; `[sim:fail]`: "[Invalid parameter] ..."). An
//   unknown id is HTTP 200 with an empty body (novicezk returns null). `hold(kind)` keeps tasks of
//   a kind in progress until `release()`.
// - flavour `plus` (trueai-org, default): a finished imagine has buttons (U1-U4
//   `MJ::JOB::upsample::i::<hash>`, the reroll, V1-V4); POST /mj/submit/action `{taskId,
//   customId}` upscales; an unknown task is HTTP 404 with code 3. flavour `classic` (novicezk): no
//   buttons, no /submit/action (404); POST /mj/submit/change `{taskId, action: UPSCALE, index}`.
//   Both take /submit/change. An upscale of a task not SUCCESS is code 4; the same U asked again
//   is code 21 with the first one's id and `properties {status, imageUrl}` (docs/api.md), never a
//   second job. An upscale's image is that quarter of the grid.
// - Images are hosted here as Discord's CDN would (GET /attachments/<id>.png, no secret) and
//   expire after `urlTtlMs` (Discord's signed CDN links do): 404 afterwards.
// `hangNextActions(k, after)` makes the next k upscales (after `after` more) but never answers them (a gateway stopped in
// between). Counters: `imagineSubmits` and `actionSubmits` (requests received), `upscaleJobs` (upscales
// made), `polls`.
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { MIDJOURNEY_SIZES } from '../src/core/catalogue/midjourney.js';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { HostedFiles } from './hosted-files.js';
import { MAX_INPUT_PIXELS, renderEdit, renderImage } from './render.js';
import { headerValue, isObject, jsonResponse, parseJson, publicOrigin, safeDecode } from './wire.js';

type TaskKind = 'imagine' | 'upscale';

/** A submission's scripted answer; `on` limits it to one route. */
export interface ScriptedCode {
  code: number;
  description: string;
  on?: 'imagine' | 'action';
}
type Flavour = 'plus' | 'classic';

export interface MidjourneyProxySimulatorOptions {
  /** When set, requests want `mj-api-secret: <apiSecret>`. */
  apiSecret?: string;
  /** plus (trueai-org: buttons, /submit/action) or classic (novicezk: /submit/change only). */
  flavour?: Flavour;
  /** How long a task runs (default 300 ms): SUBMITTED, IN_PROGRESS from a third of it, then done. */
  taskDurationMs?: number;
  /** How long hosted image URLs stay (default a day). */
  urlTtlMs?: number;
  /** Tasks ahead in the account's queue: submissions answer code 22 instead of 1. */
  queueDepth?: number;
  /** Base of hosted image URLs; startMidjourneyProxySimulator sets its own origin. */
  publicBaseUrl?: string;
}

export interface MidjourneyRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  json: unknown;
}

interface SimTask {
  readonly id: string;
  readonly kind: TaskKind;
  readonly prompt: string;
  readonly size: { width: number; height: number };
  readonly inputs: Buffer[];
  readonly submitTime: number;
  startedAt: number;
  /** upscale: the grid and the quarter (1-4). */
  readonly parent?: { id: string; index: number };
  readonly hash: string;
  outcome?: { status: 'SUCCESS'; imageUrl: string; grid: Buffer } | { status: 'FAILURE'; failReason: string };
}

const DAY_MS = 24 * 3600 * 1000;
const SIZE_OF_RATIO: Readonly<Record<string, string>> = MIDJOURNEY_SIZES;

export class MidjourneyProxySimulator implements SimHandler {
  readonly requests: MidjourneyRecordedRequest[] = [];
  imagineSubmits = 0;
  actionSubmits = 0;
  upscaleJobs = 0;
  polls = 0;
  aborted = 0;
  private readonly hosted = new HostedFiles();
  /** Hosted image URLs answered, oldest first. */
  readonly answeredUrls = this.hosted.answered;

  private readonly held = new Set<TaskKind>();
  private hungActions = { skip: 0, count: 0 };
  private readonly codes: ScriptedCode[] = [];
  private readonly tasks = new Map<string, SimTask>();
  /** `<gridId>:<index>` -> the upscale's id: the same U asked again is code 21. */
  private readonly upscaleOf = new Map<string, string>();

  constructor(private readonly opts: MidjourneyProxySimulatorOptions = {}) {}

  /** The next submissions (imagine or action; only those `on` names) answer these codes, in order, after the secret check. */
  enqueueCode(...codes: ScriptedCode[]): void {
    this.codes.push(...codes);
  }

  private scripted(route: 'imagine' | 'action'): ScriptedCode | undefined {
    const at = this.codes.findIndex((c) => c.on === undefined || c.on === route);
    return at < 0 ? undefined : this.codes.splice(at, 1)[0];
  }

  /** Tasks of a kind (both without one) stay IN_PROGRESS until release(). */
  hold(kind?: TaskKind): void {
    for (const k of kind ? [kind] : (['imagine', 'upscale'] as const)) this.held.add(k);
  }

  /**
   * After `after` more upscales, the next `count` are made but their answers never come (the
   * gateway stops while it waits): asked again, the proxy answers the one it made (code 21).
   */
  hangNextActions(count: number, after = 0): void {
    this.hungActions = { skip: after, count };
  }

  /** Every task is forgotten, as by a proxy restarted without a task store: fetching one answers nothing. */
  forget(): void {
    this.tasks.clear();
    this.upscaleOf.clear();
  }

  /** Held tasks run on; their duration counts from now. */
  release(): void {
    this.held.clear();
    for (const task of this.tasks.values()) if (!task.outcome) task.startedAt = Date.now();
  }

  /** The bodies POSTed to a route (`/mj/submit/imagine`...), oldest first. */
  bodies(path: string): Record<string, unknown>[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === path).map((r) => (isObject(r.json) ? r.json : {}));
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const url = new URL(req.path, 'http://midjourney-proxy-simulator.invalid');
    const method = req.method.toUpperCase();
    const path = url.pathname;
    this.requests.push({ method, path, headers: { ...req.headers }, json: parseJson(req.body) });
    if (this.requests.length > 10_000) this.requests.splice(0, 1_000);
    if (method === 'GET' && path.startsWith('/attachments/')) return this.file(path.slice('/attachments/'.length));
    if (this.opts.apiSecret !== undefined && headerValue(req.headers, 'mj-api-secret') !== this.opts.apiSecret) {
      return { kind: 'full', status: 401, headers: {}, body: Buffer.alloc(0) };
    }
    const fetchMatch = /^\/mj\/task\/([^/]+)\/fetch$/.exec(path);
    if (method === 'GET' && fetchMatch) return this.fetchTask(safeDecode(fetchMatch[1] ?? ''));
    if (method === 'POST' && path === '/mj/submit/imagine') return this.imagine(parseJson(req.body));
    if (method === 'POST' && path === '/mj/submit/change') return this.change(parseJson(req.body));
    if (method === 'POST' && path === '/mj/submit/action' && this.flavour === 'plus') return this.action(parseJson(req.body));
    return { kind: 'full', status: 404, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"status":404,"error":"Not Found"}') };
  }

  private get flavour(): Flavour {
    return this.opts.flavour ?? 'plus';
  }

  private async imagine(body: unknown): Promise<SimResponse> {
    this.imagineSubmits += 1;
    const scripted = this.scripted('imagine');
    if (scripted) return submitResult(scripted.code, scripted.description, scripted.code === 23 ? randomId() : undefined);
    if (!isObject(body) || typeof body.prompt !== 'string' || body.prompt.trim() === '') return submitResult(4, 'prompt不能为空');
    const prompt = body.prompt.trim();
    if (prompt.includes('[sim:unsafe]')) {
      return jsonResponse(200, { code: 24, description: '可能包含敏感词', properties: { promptEn: prompt, bannedWord: 'unsafe' } });
    }
    const inputs = await imagePrompts(body.base64Array);
    if (typeof inputs === 'string') return submitResult(4, inputs);
    const task = this.newTask('imagine', prompt, sizeOfPrompt(prompt), inputs);
    return this.accepted(task);
  }

  /** novicezk's change: `{taskId, action: UPSCALE|VARIATION|REROLL, index}`; only UPSCALE is simulated. */
  private change(body: unknown): Promise<SimResponse> | SimResponse {
    this.actionSubmits += 1;
    if (!isObject(body) || typeof body.taskId !== 'string' || body.taskId === '') return submitResult(4, 'taskId不能为空');
    if (body.action !== 'UPSCALE' || typeof body.index !== 'number' || !Number.isInteger(body.index) || body.index < 1 || body.index > 4) {
      return submitResult(4, 'action参数错误');
    }
    return this.upscale(body.taskId, body.index, 'classic');
  }

  /** The plus API's action: `{taskId, customId}`, U by its button's customId. */
  private action(body: unknown): Promise<SimResponse> | SimResponse {
    this.actionSubmits += 1;
    if (!isObject(body) || typeof body.taskId !== 'string' || typeof body.customId !== 'string') return submitResult(4, '参数错误');
    const grid = this.tasks.get(body.taskId);
    if (!grid) return gridGone(404);
    const match = /^MJ::JOB::upsample::([1-4])::(.+)$/.exec(body.customId);
    if (!match || match[2] !== grid.hash) return submitResult(4, '未知的 Action 类型');
    return this.upscale(grid.id, Number(match[1]), 'plus');
  }

  private async upscale(gridId: string, index: number, via: Flavour): Promise<SimResponse> {
    const scripted = this.scripted('action');
    if (scripted) return submitResult(scripted.code, scripted.description);
    const grid = this.tasks.get(gridId);
    if (!grid) return gridGone(via === 'plus' ? 404 : 200);
    if (grid.outcome?.status !== 'SUCCESS' || grid.kind !== 'imagine') return submitResult(4, '关联任务状态错误');
    const existing = this.upscaleOf.get(`${gridId}:${index}`);
    const known = existing ? this.tasks.get(existing) : undefined;
    if (known) {
      const done = known.outcome?.status === 'SUCCESS' ? known.outcome.imageUrl : undefined;
      return jsonResponse(200, {
        code: 21,
        description: '任务已存在',
        result: known.id,
        properties: { status: known.outcome?.status ?? 'IN_PROGRESS', ...(done ? { imageUrl: done } : {}) },
      });
    }
    const task = this.newTask('upscale', grid.prompt, grid.size, [], { id: gridId, index });
    this.upscaleOf.set(`${gridId}:${index}`, task.id);
    this.upscaleJobs += 1;
    if (this.hungActions.skip > 0) this.hungActions.skip -= 1;
    else if (this.hungActions.count > 0) {
      this.hungActions.count -= 1;
      return { kind: 'hang' };
    }
    return this.accepted(task);
  }

  private newTask(kind: TaskKind, prompt: string, size: { width: number; height: number }, inputs: Buffer[], parent?: SimTask['parent']): SimTask {
    const id = randomId();
    const task: SimTask = {
      id,
      kind,
      prompt,
      size,
      inputs,
      submitTime: Date.now(),
      startedAt: Date.now(),
      hash: randomUUID(),
      ...(parent ? { parent } : {}),
    };
    this.tasks.set(id, task);
    return task;
  }

  private accepted(task: SimTask): SimResponse {
    const queued = this.opts.queueDepth ?? 0;
    if (queued > 0) {
      return jsonResponse(200, {
        code: 22,
        description: `排队中，前面还有${queued}个任务`,
        result: task.id,
        properties: { numberOfQueues: queued, discordInstanceId: 'sim' },
      });
    }
    return submitResult(1, '提交成功', task.id);
  }

  private async fetchTask(id: string): Promise<SimResponse> {
    this.polls += 1;
    const task = this.tasks.get(id);
    if (!task) return { kind: 'full', status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(0) };
    const duration = this.opts.taskDurationMs ?? 300;
    const elapsed = (Date.now() - task.startedAt) / duration;
    const base = {
      id: task.id,
      action: task.kind === 'imagine' ? 'IMAGINE' : 'UPSCALE',
      prompt: task.prompt,
      promptEn: task.prompt,
      description: task.kind === 'imagine' ? `/imagine ${task.prompt}` : `/up ${task.parent?.id ?? ''} U${task.parent?.index ?? ''}`,
      state: null,
      submitTime: task.submitTime,
      properties: { finalPrompt: task.prompt, discordInstanceId: 'sim' },
    };
    if (!task.outcome && (this.held.has(task.kind) || elapsed < 1)) {
      const started = this.held.has(task.kind) || elapsed >= 1 / 3;
      return jsonResponse(200, {
        ...base,
        status: started ? 'IN_PROGRESS' : 'SUBMITTED',
        progress: started ? `${Math.min(95, Math.round(elapsed * 100))}%` : '0%',
        imageUrl: null,
        failReason: null,
        startTime: started ? task.submitTime : null,
        finishTime: null,
        buttons: [],
      });
    }
    task.outcome ??= await this.finish(task);
    const outcome = task.outcome;
    if (outcome.status === 'FAILURE') {
      return jsonResponse(200, {
        ...base,
        status: 'FAILURE',
        progress: '',
        imageUrl: null,
        failReason: outcome.failReason,
        finishTime: Date.now(),
        buttons: [],
      });
    }
    return jsonResponse(200, {
      ...base,
      status: 'SUCCESS',
      progress: '100%',
      imageUrl: outcome.imageUrl,
      failReason: null,
      startTime: task.submitTime,
      finishTime: Date.now(),
      buttons: this.flavour === 'plus' && task.kind === 'imagine' ? gridButtons(task.hash) : [],
    });
  }

  private async finish(task: SimTask): Promise<NonNullable<SimTask['outcome']>> {
    if (task.prompt.includes('[sim:unsafe-output]')) {
      return {
        status: 'FAILURE',
        failReason: '[Banned prompt detected] Sorry! Our AI moderator thinks this prompt is probably against our community standards.',
      };
    }
    if (task.prompt.includes('[sim:fail]')) return { status: 'FAILURE', failReason: '[Invalid parameter] Unrecognized parameter(s): `--sim`' };
    const grid = task.parent ? await this.quarter(task.parent) : await this.drawGrid(task);
    return { status: 'SUCCESS', imageUrl: this.host(grid), grid };
  }

  /** Four images of the prompt's size, 2x2 (U1 top left, U2 top right, U3 bottom left, U4 bottom right). */
  private async drawGrid(task: SimTask): Promise<Buffer> {
    const { width, height } = task.size;
    const text = `midjourney-proxy simulator · ${task.prompt}`;
    const quarters = await Promise.all(
      Array.from({ length: 4 }, (_, variant) =>
        task.inputs.length > 0
          ? renderEdit({ width, height, format: 'png', text, inputs: task.inputs, variant })
          : renderImage({ width, height, format: 'png', text, variant }),
      ),
    );
    return sharp({ create: { width: width * 2, height: height * 2, channels: 3, background: '#000' } })
      .composite(quarters.map((input, i) => ({ input, left: (i % 2) * width, top: Math.floor(i / 2) * height })))
      .png()
      .toBuffer();
  }

  /** An upscale: that quarter of its grid. */
  private async quarter(parent: { id: string; index: number }): Promise<Buffer> {
    const grid = this.tasks.get(parent.id);
    if (grid?.outcome?.status !== 'SUCCESS') throw new Error('an upscale of a grid that is not done');
    const { width, height } = grid.size;
    return sharp(grid.outcome.grid)
      .extract({ left: ((parent.index - 1) % 2) * width, top: Math.floor((parent.index - 1) / 2) * height, width, height })
      .png()
      .toBuffer();
  }

  private host(bytes: Buffer): string {
    const name = `${randomUUID()}.png`;
    const url = `${publicOrigin(this.opts.publicBaseUrl, 'midjourney-proxy')}/attachments/${name}`;
    return this.hosted.host(name, url, bytes, 'image/png', this.opts.urlTtlMs ?? DAY_MS);
  }

  private file(name: string): SimResponse {
    return this.hosted.serve(name, () => ({
      kind: 'full',
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"message": "This content is no longer available."}'),
    }));
  }
}

function submitResult(code: number, description: string, result?: string): SimResponse {
  return jsonResponse(200, { code, description, result: result ?? null, properties: { discordInstanceId: 'sim' } });
}

/** An action on a task the proxy does not know: code 3 (trueai-org answers it with HTTP 404). */
function gridGone(status: 200 | 404): SimResponse {
  return jsonResponse(status, { code: 3, description: '关联任务不存在或已失效', result: null, properties: {} });
}

/** Task ids as the proxies make them: the time in ms and three random digits. */
function randomId(): string {
  return `${Date.now()}${Math.floor(Math.random() * 1000)
    .toString()
    .padStart(3, '0')}`;
}

/** The buttons a finished imagine has on the plus API (trueai-org's CustomComponentModel). */
function gridButtons(hash: string): { customId: string; emoji: string; label: string; type: number; style: number }[] {
  const button = (customId: string, label: string, emoji = '') => ({ customId, emoji, label, type: 2, style: 2 });
  return [
    ...[1, 2, 3, 4].map((i) => button(`MJ::JOB::upsample::${i}::${hash}`, `U${i}`)),
    button(`MJ::JOB::reroll::0::${hash}::SOLO`, '', '🔄'),
    ...[1, 2, 3, 4].map((i) => button(`MJ::JOB::variation::${i}::${hash}`, `V${i}`)),
  ];
}

/** Midjourney's size for the prompt's `--ar` (its lowest terms); 1:1 without one; another ratio near 1 MP. */
function sizeOfPrompt(prompt: string): { width: number; height: number } {
  const match = /(?:^|\s)(?:--|—)(?:ar|aspect)\s+(\d{1,4}):(\d{1,4})/i.exec(prompt);
  const w = Number(match?.[1] ?? 1);
  const h = Number(match?.[2] ?? 1);
  const divisor = gcd(w, h) || 1;
  const known = SIZE_OF_RATIO[`${w / divisor}:${h / divisor}`];
  if (known) {
    const [width, height] = known.split('x').map(Number);
    return { width: width ?? 1024, height: height ?? 1024 };
  }
  const scale = Math.sqrt((1024 * 1024) / Math.max(1, w * h));
  return { width: Math.max(64, Math.round((w * scale) / 16) * 16), height: Math.max(64, Math.round((h * scale) / 16) * 16) };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** base64Array: data URIs of images (the proxies' DataUrl parser); the message of code 4 otherwise. */
async function imagePrompts(value: unknown): Promise<Buffer[] | string> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return 'base64格式错误';
  const images: Buffer[] = [];
  for (const item of value) {
    const match = typeof item === 'string' ? /^data:image\/(?:png|jpeg|jpg|webp|gif);base64,([A-Za-z0-9+/=]+)$/.exec(item) : null;
    if (!match) return 'base64格式错误';
    const bytes = Buffer.from(match[1] ?? '', 'base64');
    try {
      await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
    } catch {
      return 'base64格式错误';
    }
    images.push(bytes);
  }
  return images;
}

export type RunningMidjourneyProxySimulator = RunningServer<MidjourneyProxySimulator>;

/** A midjourney channel's base_url is this origin (the proxy's `/mj` routes start there). */
export async function startMidjourneyProxySimulator(
  opts: MidjourneyProxySimulatorOptions & { host?: string; port?: number } = {},
): Promise<RunningMidjourneyProxySimulator> {
  const { host, port, ...simOpts } = opts;
  return startSimulatorServer((origin) => new MidjourneyProxySimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
}
