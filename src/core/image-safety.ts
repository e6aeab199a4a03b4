/**
 * The content-safety classifier's vocabulary: the five classes nsfwjs's models score (its `Drawing`,
 * `Hentai`, `Neutral`, `Porn`, `Sexy`, lower-cased). src/safety/ implements the classifier (a worker
 * pool, loaded at first use); the policy that reads the scores does not know how they were made.
 */

export const SAFETY_CLASSES = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'] as const;
export type SafetyClass = (typeof SAFETY_CLASSES)[number];
export type SafetyScores = Readonly<Record<SafetyClass, number>>; // probabilities, summing to ~1
export interface ImageSafetyClassifier {
  /** Scores one encoded image (PNG, JPEG, WebP...). Rejects on an undecodable image. */
  classify(image: Buffer, signal?: AbortSignal): Promise<SafetyScores>;
  /** Stops the workers; the App calls it on close. */
  close(): Promise<void>;
}

/**
 * Why classify() rejected, as its error's `code`: the queue is full (every worker busy and the
 * queue at its bound: a 503 server_busy), the image does not decode, the worker died mid-image (it
 * is replaced), no worker could start (its model did not load: none is tried again until
 * `retryAfterMs` have passed), or the classifier was closed. An aborted call rejects with the
 * signal's reason.
 */
export type SafetyClassifierFailure = 'SAFETY_QUEUE_FULL' | 'SAFETY_UNDECODABLE_IMAGE' | 'SAFETY_WORKER_FAILED' | 'SAFETY_UNAVAILABLE' | 'SAFETY_CLOSED';

export class SafetyClassifierError extends Error {
  constructor(
    readonly code: SafetyClassifierFailure,
    message: string,
    /** SAFETY_UNAVAILABLE: how long until a worker is tried again. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SafetyClassifierError';
  }
}
