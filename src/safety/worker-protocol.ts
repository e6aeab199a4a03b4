/** The messages between a WorkerPool and its worker script (worker-pool.ts). */

/** A job, to the worker. */
export interface ToWorker<In> {
  id: number;
  input: In;
}

/** From the worker: loaded and ready (once, first), or a job's answer. */
export type FromWorker<Out> = { kind: 'ready'; loadMs: number } | { kind: 'done'; id: number; value: Out } | { kind: 'failed'; id: number; message: string };
