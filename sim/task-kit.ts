// The machinery the async task simulators (new-api's async mode, the task API) share: task
// bookkeeping, fault queues, the task clock, the key check and the image host. Their routes and
// JSON shapes stay in their own files.
import type { SimRequest, SimResponse } from './http-server.js';
import { OpenAIImagesSimulator, type RecordedRequest } from './openai/simulator.js';
import { bearerToken, isObject, parseJson } from './wire.js';

/** An injected HTTP error; each simulator words it in its own envelope. */
export interface StatusFault {
  status: number;
  message: string;
}

/** What every simulated task has: its clock and, when failNext chose so, its fail reason. */
export interface TimedTask {
  readonly id: string;
  readonly createdAt: number;
  readonly durationMs: number;
  /** Set when the task is destined to fail (failNext). */
  readonly failReason: string | undefined;
}

/** The options both task simulators take, read the same way. */
export interface TaskSimulatorCommonOptions {
  apiKey?: string;
  taskDurationMs?: number;
  publicBaseUrl?: string;
}

const DEFAULT_TASK_MS = 300;
const MAX_RECORDED = 10_000;

/**
 * Task bookkeeping and the test knobs of an async task simulator. A base class rather than a
 * member: tests steer `sim.failNext(...)` and read `sim.submits` on the simulator itself, and
 * forwarding each knob from both simulators would be the same copy twice again.
 */
export abstract class TaskSimulatorBase<Task extends TimedTask> {
  /** Every request received, oldest first; keeps the last 10,000. */
  readonly requests: RecordedRequest[] = [];
  /** Submits received (accepted or not): proves "never submitted twice". */
  submits = 0;
  /** Task queries received, including the ones answered with an injected error. */
  polls = 0;
  /** Requests whose client went away before the answer (maintained by the http server). */
  aborted = 0;

  protected readonly tasks = new Map<string, Task>();
  /** Renders images as URL answers and hosts them (GET /files/...). */
  protected readonly urlRenderer: OpenAIImagesSimulator;
  private readonly failReasons: string[] = [];
  private readonly pollFaults: StatusFault[] = [];
  private readonly submitFaults: StatusFault[] = [];

  protected constructor(
    private readonly common: TaskSimulatorCommonOptions,
    /** What injected faults say when the test does not word them. */
    private readonly faultMessage: string,
  ) {
    const publicBaseUrl = common.publicBaseUrl;
    this.urlRenderer = new OpenAIImagesSimulator({ relay: { answer: 'url' }, ...(publicBaseUrl !== undefined ? { publicBaseUrl } : {}) });
  }

  /** The next `count` tasks end in `failed` with this reason. */
  failNext(reason: string, count = 1): void {
    for (let i = 0; i < count; i++) this.failReasons.push(reason);
  }

  /** The next `count` task queries answer HTTP `status` (transient upstream trouble). */
  failPolls(count: number, status = 500, message = this.faultMessage): void {
    for (let i = 0; i < count; i++) this.pollFaults.push({ status, message });
  }

  /** The next `count` submits answer HTTP `status` without creating a task. */
  failSubmits(count: number, status = 500, message = this.faultMessage): void {
    for (let i = 0; i < count; i++) this.submitFaults.push({ status, message });
  }

  /** Tasks accepted so far. */
  get taskCount(): number {
    return this.tasks.size;
  }

  /** Counts a submit; returns the injected fault it must answer with, if any. */
  protected countSubmit(): StatusFault | undefined {
    this.submits += 1;
    return this.submitFaults.shift();
  }

  /** Counts a task query; returns the injected fault it must answer with, if any. */
  protected countPoll(): StatusFault | undefined {
    this.polls += 1;
    return this.pollFaults.shift();
  }

  /** A task starting now; it takes the next queued fail reason. */
  protected startTask(id: string): TimedTask {
    return { id, createdAt: Date.now(), durationMs: this.common.taskDurationMs ?? DEFAULT_TASK_MS, failReason: this.failReasons.shift() };
  }

  protected record(method: string, req: SimRequest): void {
    this.requests.push({ method, path: req.path, headers: { ...req.headers }, json: parseJson(req.body) });
    // Bounded so long benchmarks do not grow without limit; drop in chunks to keep it cheap.
    if (this.requests.length > MAX_RECORDED + 1000) this.requests.splice(0, 1000);
  }

  /** With an apiKey set, API routes want `Authorization: Bearer <apiKey>`. */
  protected authorized(req: SimRequest): boolean {
    return this.common.apiKey === undefined || bearerToken(req.headers) === this.common.apiKey;
  }

  /** Hosted images are public, like a CDN: served before the key check. */
  protected hostedImage(method: string, path: string, req: SimRequest): Promise<SimResponse> | undefined {
    if (method !== 'GET' || !path.startsWith('/files/')) return undefined;
    return this.urlRenderer.handle({ ...req, method, path });
  }
}

/**
 * How far through its duration a task is at `now`: below 1 it is still running, from 1 on it is
 * due. A zero duration is due at once.
 */
export function taskProgress(task: TimedTask, now: number): number {
  return task.durationMs <= 0 ? 1 : (now - task.createdAt) / task.durationMs;
}

/** The `data` items of an OpenAI images answer (parsed). */
export function dataItems(answer: unknown): Record<string, unknown>[] {
  const data = isObject(answer) ? answer.data : undefined;
  return Array.isArray(data) ? data.filter(isObject) : [];
}

/** The image URLs among those items. */
export function itemUrls(items: readonly Record<string, unknown>[]): string[] {
  return items.flatMap((item) => (typeof item.url === 'string' ? [item.url] : []));
}
