/**
 * The gateway's own content check, in one place for every dialect and channel: which policy applies
 * to a run (core/safety-policy.ts: the key's or the operator's default, the channel's, the caller's
 * `nsfw_checker`), the prompt's blocklist before anything is reserved, and each output image scored
 * by the classifier (src/safety/, loaded at the first image checked) before it is delivered or
 * linked. Block mode: the images that trip are stored for review under a held name (never linked;
 * /files refuses it) and the run fails with 400 content_policy_violation. Flag mode: delivered, and
 * marked for review. The pipeline calls it; providers never do.
 */
import type { Channel } from '../core/channel.js';
import { contentPolicyViolation, GatewayError, gatewayError, upstreamInvalidResponse } from '../core/errors.js';
import { decodeBase64 } from '../core/image-bytes.js';
import { SafetyClassifierError, type ImageSafetyClassifier, type SafetyClassifierFailure, type SafetyScores } from '../core/image-safety.js';
import type { ImageJob, UpstreamImage } from '../core/job.js';
import type { ContentCheckFailure, ContentSafetyMetricsSink } from '../core/metrics-sink.js';
import {
  checkerAsked,
  effectivePolicy,
  imageRefusalReason,
  promptMatch,
  promptRefusalReason,
  trippedClasses,
  type SafetyMode,
  type SafetyPolicy,
} from '../core/safety-policy.js';
import { encodeBase64, type DeliveryContext, type ImageOutput } from './image-output.js';

/** What the check said of one delivered image, kept with its images row. */
export interface SafetyMark {
  readonly scores: SafetyScores;
  /** flagged: it tripped a flag-mode policy (delivered, listed for review); null: it passed. */
  readonly review: 'flagged' | null;
}

export interface ContentSafetyDeps {
  /** The operator's default policy, for keys without one of their own (IMAGEGATE_SAFETY_*); null: off. */
  defaultPolicy: SafetyPolicy | null;
  /** The classifier, made (and its packages loaded) on the first call only. */
  classifier: () => Promise<ImageSafetyClassifier>;
  /** The channels that may serve a model now (their policies). */
  channelsFor: (modelId: string) => readonly Channel[];
  /** Where refused images are kept for review, and how an upstream's image URL is read. */
  output: Pick<ImageOutput, 'storeHeld' | 'download'>;
  metrics?: ContentSafetyMetricsSink;
}

/** Seconds a caller is told to wait when every classifier worker is busy and its queue full. */
const BUSY_RETRY_AFTER_SECONDS = 2;

export class ContentSafety {
  /** The refusals this check made (counted where made); any other content_policy_violation is an upstream's. */
  private readonly own = new WeakSet<GatewayError>();

  constructor(private readonly deps: ContentSafetyDeps) {}

  /** A run failed: an upstream's content refusal is counted (source upstream) under the run's mode. */
  noteFailure(job: ImageJob, keyPolicy: SafetyPolicy | null, err: unknown): void {
    if (!(err instanceof GatewayError) || err.code !== 'content_policy_violation' || this.own.has(err)) return;
    this.deps.metrics?.contentRefused('upstream', this.modeFor(job, keyPolicy));
  }

  /**
   * The policy of a run on `channel` (null: the run is not checked). Without a channel: the key's
   * side only. `keyPolicy`: the key's own (null: it has none, the operator's default applies).
   */
  policyFor(job: ImageJob, keyPolicy: SafetyPolicy | null, channel?: Channel): SafetyPolicy | null {
    return effectivePolicy({ key: keyPolicy ?? this.deps.defaultPolicy, channel: channel?.safety ?? null, checkerAsked: checkerAsked(job.passthrough) });
  }

  /** The mode a refusal is counted under: the run's policy without its channel ('off' when none applies). */
  modeFor(job: ImageJob, keyPolicy: SafetyPolicy | null): SafetyMode {
    return this.policyFor(job, keyPolicy)?.mode ?? 'off';
  }

  /**
   * Whether the run's images may be checked, known before routing: its own policy is on, or a
   * channel that could serve it has one. Such runs take the whole-image path (no pass-through of
   * arriving bytes, no partial images), so nothing reaches the caller unchecked.
   */
  mayCheck(job: ImageJob, keyPolicy: SafetyPolicy | null): boolean {
    if (this.policyFor(job, keyPolicy) !== null) return true;
    return this.deps.channelsFor(job.model.id).some((c) => c.safety !== undefined && c.safety.mode !== 'off');
  }

  /**
   * The prompt against the blocklists, before any credit is reserved or upstream called: the key's
   * (or the default) policy's, and the channels' when every channel that could serve the model
   * blocks it (routing skips a channel whose own list blocks it). Throws 400 content_policy_violation.
   */
  screenPrompt(job: ImageJob, keyPolicy: SafetyPolicy | null): void {
    const own = promptMatch(this.policyFor(job, keyPolicy), job.prompt);
    const channels = this.deps.channelsFor(job.model.id);
    const matches = channels.map((c) => promptMatch(c.safety ?? null, job.prompt));
    const byChannels = channels.length > 0 && matches.every((m) => m !== null) ? matches[0] : null;
    const match = own ?? byChannels ?? null;
    if (match === null) return;
    this.deps.metrics?.contentRefused('prompt', this.modeFor(job, keyPolicy) === 'off' ? 'block' : this.modeFor(job, keyPolicy));
    throw this.refusal(promptRefusalReason(match));
  }

  /**
   * Scores each image under `policy`. Returns the images (URL ones downloaded, as b64, so they are
   * not fetched twice) and each one's mark for its row. Block mode, any image tripping: those are
   * stored for review (held, never linked) and 400 content_policy_violation is thrown.
   */
  async screen(
    job: ImageJob,
    images: readonly UpstreamImage[],
    policy: SafetyPolicy,
    ctx: DeliveryContext,
  ): Promise<{ images: UpstreamImage[]; marks: SafetyMark[] }> {
    const read = await Promise.all(images.map((image) => this.bytesOf(image, ctx.signal)));
    const classifier = await this.deps.classifier();
    const scores = await Promise.all(read.map((bytes) => this.classify(classifier, bytes, ctx.signal)));
    const tripped = scores.map((s) => trippedClasses(policy, s));
    const flagged = tripped.flatMap((classes, index) => (classes.length > 0 ? [index] : []));
    if (flagged.length > 0 && policy.mode === 'block') {
      await Promise.all(flagged.map((index) => this.deps.output.storeHeld(job, read[index] as Buffer, ctx, index, scores[index] as SafetyScores)));
      for (const _ of flagged) this.deps.metrics?.contentRefused('classifier', 'block');
      throw this.refusal(imageRefusalReason([...new Set(flagged.flatMap((index) => tripped[index] ?? []))]));
    }
    for (const _ of flagged) this.deps.metrics?.contentRefused('classifier', 'flag');
    return {
      images: images.map((image, index) => (image.kind === 'b64' ? image : asB64(image, read[index] as Buffer))),
      marks: scores.map((s, index) => ({ scores: s, review: (tripped[index]?.length ?? 0) > 0 ? 'flagged' : null })),
    };
  }

  private refusal(reason: string): GatewayError {
    const err = contentPolicyViolation(reason);
    this.own.add(err);
    return err;
  }

  private async bytesOf(image: UpstreamImage, signal: AbortSignal): Promise<Buffer> {
    return image.kind === 'b64' ? decodeBase64(image.base64) : this.deps.output.download(image.url, signal);
  }

  private async classify(classifier: ImageSafetyClassifier, bytes: Buffer, signal: AbortSignal): Promise<SafetyScores> {
    try {
      return await classifier.classify(bytes, signal);
    } catch (err) {
      if (err instanceof SafetyClassifierError) this.deps.metrics?.contentCheckFailed(FAILURE_LABELS[err.code]);
      throw classifierFailure(err);
    }
  }
}

/** A classifier's rejection, in the caller's terms: busy is a 503 to retry shortly, a classifier that could not start a 503 to retry once it is tried again; an image it cannot read, the upstream's fault. */
function classifierFailure(err: unknown): GatewayError | unknown {
  if (!(err instanceof SafetyClassifierError)) return err;
  switch (err.code) {
    case 'SAFETY_QUEUE_FULL':
    case 'SAFETY_WORKER_FAILED':
    case 'SAFETY_CLOSED':
      return gatewayError('server_busy', 'The content check is busy; try again shortly.', { headers: { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) } });
    case 'SAFETY_UNAVAILABLE': {
      const seconds = Math.max(1, Math.ceil((err.retryAfterMs ?? 0) / 1000));
      return gatewayError('service_unavailable', `The content check is unavailable: its classifier could not start. Try again in ${seconds} s.`, {
        headers: { 'retry-after': String(seconds) },
      });
    }
    case 'SAFETY_UNDECODABLE_IMAGE':
      return upstreamInvalidResponse('The upstream returned an image the content check could not read.');
  }
}

/** A classifier's failure as its metric label (a code added there must be named here). */
const FAILURE_LABELS: Readonly<Record<SafetyClassifierFailure, ContentCheckFailure>> = {
  SAFETY_QUEUE_FULL: 'queue_full',
  SAFETY_UNDECODABLE_IMAGE: 'undecodable_image',
  SAFETY_WORKER_FAILED: 'worker_failed',
  SAFETY_UNAVAILABLE: 'unavailable',
  SAFETY_CLOSED: 'closed',
};

function asB64(image: UpstreamImage, bytes: Buffer): UpstreamImage {
  return { kind: 'b64', base64: [encodeBase64(bytes)], ...(image.revisedPrompt !== undefined ? { revisedPrompt: image.revisedPrompt } : {}) };
}
