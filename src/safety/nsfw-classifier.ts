/**
 * The content-safety classifier: nsfwjs's model in a pool of worker_threads (nsfw-worker.ts), each
 * loading TensorFlow.js and the model once. Creating one loads nothing; the first classify() starts
 * the pool, so a gateway whose checks are all off never loads TensorFlow.js (app.ts imports this
 * module only then, too). Each image is downscaled in this thread by sharp (nsfw-input.ts) and its
 * pixels handed to an idle worker; past every worker busy and `queueLimit` images waiting, classify()
 * refuses at once (SAFETY_QUEUE_FULL), so a burst meets a busy answer instead of an unbounded wait.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { SafetyClassifierError, type ImageSafetyClassifier, type SafetyScores } from '../core/image-safety.js';
import { downscaleForNsfw, type NsfwInput } from './nsfw-input.js';
import { WorkerPool } from './worker-pool.js';

/** Images waiting for a worker before more are refused: about 4 s of work for one worker at ~70 ms an image. */
export const DEFAULT_SAFETY_QUEUE_LIMIT = 64;

export interface NsfwClassifierOptions {
  /** Worker threads, each ~215 MB resident with its model; default 1, at most the cores (IMAGEGATE_SAFETY_WORKERS). */
  workers?: number | undefined;
  /** Images waiting for a worker, beyond those being scored, before more are refused. */
  queueLimit?: number | undefined;
  log?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
}

export interface NsfwClassifier extends ImageSafetyClassifier {
  /** Worker threads alive now: 0 until the first classify(). */
  readonly workers: number;
}

/** The worker's script beside this module: .js when built, .ts when run from the sources. */
const WORKER_SCRIPT = new URL(import.meta.url.endsWith('.ts') ? './nsfw-worker.ts' : './nsfw-worker.js', import.meta.url);

export function createNsfwClassifier(options: NsfwClassifierOptions = {}): NsfwClassifier {
  const size = Math.max(1, Math.min(Math.floor(options.workers ?? 1), availableParallelism()));
  const queueLimit = Math.max(0, Math.floor(options.queueLimit ?? DEFAULT_SAFETY_QUEUE_LIMIT));
  let pool: WorkerPool<NsfwInput, SafetyScores> | undefined;
  let admitted = 0;
  let closed = false;

  return {
    get workers() {
      return pool?.workers ?? 0;
    },

    async classify(image, signal) {
      if (closed) throw new SafetyClassifierError('SAFETY_CLOSED', 'the safety classifier is closed');
      signal?.throwIfAborted();
      // Counted from before the downscale, so that a burst is refused before sharp decodes it.
      if (admitted >= size + queueLimit) {
        throw new SafetyClassifierError('SAFETY_QUEUE_FULL', `the safety classifier is busy: ${admitted} image(s) in hand for ${size} worker(s)`);
      }
      admitted++;
      try {
        const input = await downscaleForNsfw(image);
        signal?.throwIfAborted();
        if (closed) throw new SafetyClassifierError('SAFETY_CLOSED', 'the safety classifier is closed');
        pool ??= new WorkerPool({ script: WORKER_SCRIPT, size, queueLimit, name: 'safety classifier', ...(options.log ? { log: options.log } : {}) });
        return await pool.run(input, [input.pixels.buffer], signal);
      } finally {
        admitted--;
      }
    },

    async close() {
      closed = true;
      await pool?.close();
    },
  };
}
