/**
 * output/content-safety.ts with a stand-in classifier (the real one runs in
 * test/content-safety.e2e.test.ts): how a classifier's failures reach the caller (busy: 503 with
 * Retry-After, refunded by the pipeline; an image it cannot read: the upstream's fault), and that
 * only the images that tripped a block-mode policy are kept for review.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/core/errors.js';
import { NO_INPUTS } from '../src/core/image-input.js';
import { SafetyClassifierError, type ImageSafetyClassifier, type SafetyScores } from '../src/core/image-safety.js';
import type { ImageJob, UpstreamImage } from '../src/core/job.js';
import { BUILTIN_MODELS, ModelCatalogue } from '../src/core/models.js';
import { parseSafetyPolicy } from '../src/core/safety-policy.js';
import { ContentSafety } from '../src/output/content-safety.js';

const MODEL = new ModelCatalogue(BUILTIN_MODELS).get('gpt-image-1');
if (!MODEL) throw new Error('gpt-image-1 is not in the catalogue');
const JOB: ImageJob = {
  id: 'req_1',
  operation: 'generate',
  model: MODEL,
  prompt: 'a pond',
  inputs: NO_INPUTS,
  n: 2,
  size: '1024x1024',
  quality: 'auto',
  responseFormat: 'b64_json',
  passthrough: {},
};
const IMAGES: UpstreamImage[] = [
  { kind: 'b64', base64: [Buffer.from(Buffer.from('first').toString('base64'))] },
  { kind: 'b64', base64: [Buffer.from(Buffer.from('second').toString('base64'))] },
];

const scores = (porn: number): SafetyScores => ({ drawing: 0.1, hentai: 0, neutral: 0.9 - porn, porn, sexy: 0 });

function check(classify: (image: Buffer) => Promise<SafetyScores>, held: string[] = []) {
  const classifier: ImageSafetyClassifier = { classify, close: async () => {} };
  return new ContentSafety({
    defaultPolicy: null,
    classifier: async () => classifier,
    channelsFor: () => [],
    output: {
      storeHeld: async (_job, bytes) => void held.push(bytes.toString()),
      download: async () => Buffer.from('downloaded'),
    },
  });
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(err)}`);
  return err;
}

describe('ContentSafety.screen', () => {
  const block = parseSafetyPolicy({ mode: 'block' });
  const ctx = { keyId: null, signal: AbortSignal.timeout(10_000) };

  it('a full classifier queue (or a worker lost) is 503 server_busy with Retry-After', async () => {
    for (const code of ['SAFETY_QUEUE_FULL', 'SAFETY_WORKER_FAILED'] as const) {
      const err = await rejection(check(() => Promise.reject(new SafetyClassifierError(code, 'busy'))).screen(JOB, IMAGES, block, ctx));
      expect([err.status, err.code, err.headers['retry-after']]).toEqual([503, 'server_busy', '2']);
    }
  });

  it('a classifier that could not start is 503 service_unavailable, Retry-After when it is tried again (whole seconds, at least 1)', async () => {
    for (const [retryAfterMs, header] of [
      [4_200, '5'],
      [300_000, '300'],
      [1, '1'],
    ] as const) {
      const failure = new SafetyClassifierError('SAFETY_UNAVAILABLE', 'a worker failed to start', retryAfterMs);
      const err = await rejection(check(() => Promise.reject(failure)).screen(JOB, IMAGES, block, ctx));
      expect([err.status, err.code, err.type, err.headers['retry-after']]).toEqual([503, 'service_unavailable', 'server_error', header]);
      expect(err.message).toMatch(/content check is unavailable.*could not start/);
    }
  });

  it("an image the classifier cannot decode is the upstream's unusable answer (502)", async () => {
    const err = await rejection(check(() => Promise.reject(new SafetyClassifierError('SAFETY_UNDECODABLE_IMAGE', 'no'))).screen(JOB, IMAGES, block, ctx));
    expect([err.status, err.code]).toEqual([502, 'upstream_invalid_response']);
  });

  it('block mode keeps only the images that tripped, and refuses naming their classes; flag mode marks them and delivers all', async () => {
    const held: string[] = [];
    const classify = async (image: Buffer) => scores(image.toString() === 'second' ? 0.95 : 0.01);
    const err = await rejection(check(classify, held).screen(JOB, IMAGES, block, ctx));
    expect([err.status, err.code, err.param]).toEqual([400, 'content_policy_violation', null]);
    expect(err.message).toBe("Content policy violation: the generated image was classified as porn under this service's content policy.");
    expect(held).toEqual(['second']);
    const flagged = await check(classify).screen(JOB, IMAGES, parseSafetyPolicy({ mode: 'flag' }), ctx);
    expect(flagged.images).toHaveLength(2);
    expect(flagged.marks.map((m) => m.review)).toEqual([null, 'flagged']);
  });
});
