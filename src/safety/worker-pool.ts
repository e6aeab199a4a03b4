/**
 * A pool of worker_threads running one script, one job per worker at a time: started lazily (a
 * worker is spawned when a job finds none idle and the pool is below its size), jobs queued past
 * that up to a bound, and past the bound refused at once (SAFETY_QUEUE_FULL, a 503 upstream of
 * here) rather than queued without end. A worker that dies fails the job it held and is replaced
 * when the next job comes. One that dies before it said it was ready (its script could not load
 * what it needs) fails every queued job too, since its replacement would fail the same way, and no
 * worker is started again for a while (`restartDelayMs`, doubling with each such failure in a row):
 * meanwhile jobs are refused at once (SAFETY_UNAVAILABLE, a 503 with Retry-After upstream of here)
 * unless a worker that did start is still there, instead of each job paying a failing start (a
 * thread, TensorFlow.js, the model) and being told the check is merely busy.
 *
 * The script speaks worker-protocol.ts: it posts `ready` once loaded, then answers each job. Workers
 * keep the process alive, idle or not, until close(): the App closes the pool as it closes.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { SafetyClassifierError } from '../core/image-safety.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';
import { workerSource } from './worker-source.js';

export interface WorkerPoolOptions {
  /** The worker's script: compiled .js, or .ts when the gateway runs from its sources (worker-source.ts). */
  script: URL;
  /** The most workers at once. */
  size: number;
  /** The most jobs waiting for a worker; one more is refused. */
  queueLimit: number;
  /** What the pool is, in its log lines. */
  name: string;
  log?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** After a worker fails to start: the wait before the next is started, then doubled up to `max`. */
  restartDelayMs?: { readonly first: number; readonly max: number };
}

/** Seconds, not minutes, for a start that failed by chance; five minutes at most for one that keeps failing. */
export const DEFAULT_RESTART_DELAY_MS = { first: 5_000, max: 300_000 } as const;

/** The last worker start that failed, while no worker has started since. */
interface StartFailure {
  readonly why: string;
  readonly delayMs: number;
  /** performance.now() from which a worker is started again. */
  readonly until: number;
}

interface Job<In, Out> {
  id: number;
  input: In;
  transfer: readonly ArrayBuffer[];
  resolve(value: Out): void;
  reject(reason: unknown): void;
  /** Settled already (aborted while its worker still works on it): its answer is dropped. */
  settled: boolean;
  unlisten(): void;
}

interface Slot<In, Out> {
  worker: Worker;
  job: Job<In, Out> | undefined;
  ready: boolean;
  /** performance.now() at its spawn: its start time is logged when it is ready. */
  spawnedAt: number;
  /** Ended by close() or already handled: its exit is not a crash. */
  gone: boolean;
}

export class WorkerPool<In, Out> {
  private readonly slots: Slot<In, Out>[] = [];
  private readonly queue: Job<In, Out>[] = [];
  private nextId = 1;
  private closed = false;
  private startFailure: StartFailure | undefined;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Workers alive now (0 until the first job). */
  get workers(): number {
    return this.slots.length;
  }

  run(input: In, transfer: readonly ArrayBuffer[], signal?: AbortSignal): Promise<Out> {
    if (this.closed) return Promise.reject(new SafetyClassifierError('SAFETY_CLOSED', `${this.options.name} is closed`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const unavailable = this.unavailable();
    if (unavailable && !this.slots.some((s) => s.ready)) return Promise.reject(unavailable);
    const idle = this.slots.find((s) => s.job === undefined);
    if (!idle && this.slots.length >= this.options.size && this.queue.length >= this.options.queueLimit) {
      return Promise.reject(
        new SafetyClassifierError(
          'SAFETY_QUEUE_FULL',
          `${this.options.name} is busy: ${this.slots.length} worker(s) working and ${this.queue.length} image(s) waiting`,
        ),
      );
    }
    return new Promise<Out>((resolve, reject) => {
      const job: Job<In, Out> = { id: this.nextId++, input, transfer, resolve, reject, settled: false, unlisten: () => {} };
      if (signal) {
        const onAbort = () => this.abort(job, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        job.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** Refuses new jobs, fails the queued and running ones (SAFETY_CLOSED) and ends every worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const failure = new SafetyClassifierError('SAFETY_CLOSED', `${this.options.name} closed`);
    for (const job of this.queue.splice(0)) this.settle(job, () => job.reject(failure));
    const ending = this.slots.splice(0).map((slot) => {
      slot.gone = true;
      if (slot.job) this.settle(slot.job, (job) => job.reject(failure));
      return slot.worker.terminate();
    });
    await Promise.all(ending);
  }

  /** Hands queued jobs to idle workers, spawning one when none is idle and the pool has room (and no start failed lately). */
  private pump(): void {
    const unavailable = this.unavailable();
    // No worker left and none to be started yet: nothing would ever take the queued jobs.
    if (unavailable && this.slots.length === 0) for (const job of this.queue.splice(0)) this.settle(job, (j) => j.reject(unavailable));
    while (this.queue.length > 0 && !this.closed) {
      const room = this.slots.length < this.options.size && !unavailable;
      const slot = this.slots.find((s) => s.job === undefined) ?? (room ? this.spawn() : undefined);
      if (!slot) return;
      const job = this.queue.shift() as Job<In, Out>;
      slot.job = job;
      const message: ToWorker<In> = { id: job.id, input: job.input };
      slot.worker.postMessage(message, [...job.transfer]);
    }
  }

  private spawn(): Slot<In, Out> {
    const { script, name, log } = this.options;
    const source = workerSource(script);
    const worker = new Worker(source.entry, {
      name,
      eval: source.eval,
      // Its packages' console output (nsfwjs announces its model) is not the gateway's log: read here, logged at debug.
      stdout: true,
      stderr: true,
    });
    const slot: Slot<In, Out> = { worker, job: undefined, ready: false, gone: false, spawnedAt: performance.now() };
    worker.stdout.on('data', (chunk: Buffer) => log?.debug({ worker: name }, chunk.toString().trim()));
    worker.stderr.on('data', (chunk: Buffer) => log?.debug({ worker: name }, chunk.toString().trim()));
    worker.on('message', (message: FromWorker<Out>) => this.answered(slot, message));
    worker.on('error', (err) => this.died(slot, err.message));
    worker.on('exit', (code) => this.died(slot, `exited with code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private answered(slot: Slot<In, Out>, message: FromWorker<Out>): void {
    if (message.kind === 'ready') {
      slot.ready = true;
      this.startFailure = undefined;
      // startMs: from spawn to ready (thread, packages, model); loadMs: the worker's own load once its imports were done.
      const startMs = Math.round(performance.now() - slot.spawnedAt);
      this.options.log?.info({ worker: this.options.name, startMs, loadMs: message.loadMs }, `${this.options.name}: a worker is ready`);
      return;
    }
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    slot.job = undefined;
    if (message.kind === 'done') this.settle(job, (j) => j.resolve(message.value));
    else this.settle(job, (j) => j.reject(new SafetyClassifierError('SAFETY_WORKER_FAILED', `${this.options.name}: ${message.message}`)));
    this.pump();
  }

  private died(slot: Slot<In, Out>, why: string): void {
    if (slot.gone) return;
    slot.gone = true;
    this.slots.splice(this.slots.indexOf(slot), 1);
    if (!slot.ready) {
      this.failedToStart(slot, why);
      return;
    }
    const failure = new SafetyClassifierError('SAFETY_WORKER_FAILED', `${this.options.name}: a worker died (${why})`);
    this.options.log?.warn({ worker: this.options.name, ready: true }, failure.message);
    if (slot.job) this.settle(slot.job, (job) => job.reject(failure));
    this.pump();
  }

  /** Not even loaded: a replacement would fail alike, so none is started for a while and the waiting jobs fail now. */
  private failedToStart(slot: Slot<In, Out>, why: string): void {
    const { first, max } = this.options.restartDelayMs ?? DEFAULT_RESTART_DELAY_MS;
    const delayMs = this.startFailure ? Math.min(this.startFailure.delayMs * 2, max) : first;
    this.startFailure = { why, delayMs, until: performance.now() + delayMs };
    const failure = this.startFailed(why, delayMs);
    this.options.log?.error({ worker: this.options.name, retryInMs: delayMs }, failure.message);
    if (slot.job) this.settle(slot.job, (job) => job.reject(failure));
    if (!this.slots.some((s) => s.ready)) for (const job of this.queue.splice(0)) this.settle(job, (j) => j.reject(failure));
    this.pump();
  }

  /** Why no worker is started now (a start failed lately), or undefined. */
  private unavailable(): SafetyClassifierError | undefined {
    const failure = this.startFailure;
    const left = failure ? failure.until - performance.now() : 0;
    return failure && left > 0 ? this.startFailed(failure.why, left) : undefined;
  }

  private startFailed(why: string, leftMs: number): SafetyClassifierError {
    const message = `${this.options.name}: a worker failed to start (${why}); the next is tried in ${Math.ceil(leftMs / 1000)} s`;
    return new SafetyClassifierError('SAFETY_UNAVAILABLE', message, Math.ceil(leftMs));
  }

  private abort(job: Job<In, Out>, reason: unknown): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    // A running job's worker finishes it (an inference cannot be interrupted); its answer is dropped.
    this.settle(job, (j) => j.reject(reason));
  }

  private settle(job: Job<In, Out>, how: (job: Job<In, Out>) => void): void {
    if (job.settled) return;
    job.settled = true;
    job.unlisten();
    how(job);
  }
}
