/**
 * Ark's answers the simulator does not make on its own, read by providers/seedream/response.ts:
 * a 200 that carries only an error, a group whose every image failed, a stream whose images all
 * failed, and the usage of several calls summed.
 */
import { describe, expect, it } from 'vitest';
import { UpstreamFailure } from '../src/core/upstream-failure.js';
import { readSeedreamJson, readSeedreamStream, resultOf } from '../src/providers/seedream/response.js';

function ok(value: unknown) {
  return { status: 200, headers: {}, body: Buffer.from(JSON.stringify(value)) };
}

async function* events(...values: unknown[]): AsyncGenerator<Buffer> {
  for (const value of values) yield Buffer.from(`data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`);
}

function failureOf(run: () => unknown): UpstreamFailure {
  try {
    run();
  } catch (err) {
    if (err instanceof UpstreamFailure) return err;
    throw err;
  }
  throw new Error('no failure');
}

const JPEG_B64 = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]).toString('base64');

describe('Seedream answers', () => {
  it('a 200 carrying only a moderation error is the client’s content_policy_violation; only another error is unusable', () => {
    const refused = failureOf(() => readSeedreamJson(ok({ error: { code: 'OutputImageSensitiveContentDetected', message: 'sensitive output' } })));
    expect({ kind: refused.kind, status: refused.status, code: refused.upstreamError?.code }).toEqual({
      kind: 'http',
      status: 400,
      code: 'content_policy_violation',
    });
    expect(refused.upstreamError?.message).toBe('sensitive output');
    const broken = failureOf(() => readSeedreamJson(ok({ error: { code: 'InternalServiceError', message: 'oops' } })));
    expect(broken.kind).toBe('protocol');
    expect(broken.retryable).toBe(true);
    expect(failureOf(() => readSeedreamJson(ok({ model: 'm' }))).kind).toBe('protocol');
  });

  it('a group whose images all failed: its refusal when one was moderation; a group with one image delivers it', () => {
    const all = readSeedreamJson(
      ok({ data: [{ error: { code: 'InternalServiceError', message: 'x' } }, { error: { code: 'OutputImageSensitiveContentDetected', message: 'y' } }] }),
    );
    expect(failureOf(() => resultOf([all])).upstreamError?.code).toBe('content_policy_violation');
    const one = readSeedreamJson(
      ok({ data: [{ b64_json: JPEG_B64, size: '1280x720' }, { error: { code: 'OutputImageSensitiveContentDetected', message: 'y' } }] }),
    );
    expect(resultOf([one])).toMatchObject({ images: [{ kind: 'b64' }], size: '1280x720' });
  });

  it('a stream of failed images only is the refusal; events after [DONE] or without a type change nothing', async () => {
    const answer = await readSeedreamStream(
      events(
        { type: 'image_generation.partial_failed', image_index: 0, error: { code: 'OutputImageSensitiveContentDetected', message: 'z' } },
        { type: 'image_generation.completed', usage: { generated_images: 0, output_tokens: 0, total_tokens: 0 } },
        '[DONE]',
      ),
    );
    expect(failureOf(() => resultOf([answer])).upstreamError?.code).toBe('content_policy_violation');
  });

  it('several calls: their images in order, their usage summed (Ark counts output tokens only)', async () => {
    const first = await readSeedreamStream(
      events(
        { type: 'image_generation.partial_succeeded', image_index: 0, b64_json: JPEG_B64, size: '1024x1024' },
        { type: 'image_generation.completed', usage: { generated_images: 1, output_tokens: 4096, total_tokens: 4096 } },
      ),
    );
    const second = readSeedreamJson(
      ok({ data: [{ url: 'https://ark.example/a.jpeg', size: '1024x1024' }], usage: { generated_images: 1, output_tokens: 4096, total_tokens: 4096 } }),
    );
    expect(resultOf([first, second])).toEqual({
      images: [
        { kind: 'b64', base64: expect.anything() },
        { kind: 'url', url: 'https://ark.example/a.jpeg' },
      ],
      size: '1024x1024',
      usage: { total_tokens: 8192, input_tokens: 0, output_tokens: 8192, generated_images: 2 },
    });
  });
});
