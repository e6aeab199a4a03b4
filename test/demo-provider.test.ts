/**
 * The demo channel's own renderer (src/providers/demo/): real images of the size and format a job
 * asks for, the same image for the same request, partial images before each final when the job
 * streams, edits and variations drawn from their inputs, what the answer reports read from the
 * model's capabilities, a corrupt input image the client's 400, and the official API's refusals.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Channel, ChannelCall } from '../src/core/channel.js';
import { inMemoryBytes } from '../src/core/input-bytes.js';
import type { InputImage } from '../src/core/image-input.js';
import { parseImageRequest, type ImageEndpoint } from '../src/core/image-request.js';
import type { ImageJob, PartialImage, ProviderResult } from '../src/core/job.js';
import { ModelCatalogue } from '../src/core/models.js';
import { UpstreamFailure } from '../src/core/upstream-failure.js';
import { DemoProvider } from '../src/providers/demo/provider.js';

const catalogue = ModelCatalogue.withAliases([]);
const demo = new DemoProvider({ delayMs: 0 });
const channel: Channel = {
  id: 'demo',
  name: 'demo',
  kind: 'demo',
  baseUrl: 'http://demo.invalid/v1',
  apiKeys: [],
  models: '*',
  modelMap: {},
  priority: 0,
  weight: 1,
  maxConcurrent: 0,
  timeoutMs: 30_000,
  headers: {},
  enabled: true,
};
const call: ChannelCall = { channel, apiKey: undefined };
const signal = new AbortController().signal;

function job(body: Record<string, unknown>, endpoint: ImageEndpoint = 'generations'): ImageJob {
  return parseImageRequest({ endpoint, body }, catalogue, 'req_demo').job;
}

async function input(param: string, png: Buffer): Promise<InputImage> {
  const meta = await sharp(png).metadata();
  return { param, bytes: inMemoryBytes(png), format: 'png', width: meta.width ?? 0, height: meta.height ?? 0, hasAlpha: meta.hasAlpha === true };
}

/** An edit or variation job (its image a URL the parser only notes) with these inputs resolved. */
function withInputs(body: Record<string, unknown>, endpoint: 'edits' | 'variations', images: InputImage[]): ImageJob {
  return { ...job({ ...body, image: 'https://images.example/input.png' }, endpoint), inputs: { images } };
}

function bytesOf(result: ProviderResult, i = 0): Buffer {
  const image = result.images[i];
  if (image?.kind !== 'b64') throw new Error('expected a b64 image');
  return Buffer.from(Buffer.concat(image.base64).toString('latin1'), 'base64');
}

async function described(bytes: Buffer) {
  const meta = await sharp(bytes).metadata();
  return { format: meta.format, width: meta.width, height: meta.height, hasAlpha: meta.hasAlpha };
}

const solid = (width: number, height: number, rgb: { r: number; g: number; b: number }) =>
  sharp({ create: { width, height, channels: 4, background: { ...rgb, alpha: 1 } } })
    .png()
    .toBuffer();

describe('the demo channel draws', () => {
  it('an image of the size and format asked for, the same one for the same request, another for the next of n', async () => {
    const request = job({ model: 'gpt-image-1', prompt: 'a lighthouse at dawn', size: '1536x1024', output_format: 'jpeg', n: 2 });
    const first = await demo.generate(request, call, signal);
    const again = await demo.generate(request, call, signal);
    expect(await described(bytesOf(first))).toMatchObject({ format: 'jpeg', width: 1536, height: 1024 });
    expect(bytesOf(again)).toEqual(bytesOf(first));
    expect(bytesOf(first, 1)).not.toEqual(bytesOf(first));
    expect(first).toMatchObject({ size: '1536x1024', quality: 'medium', background: 'opaque', outputFormat: 'jpeg' });
    expect(first.usage).toMatchObject({ input_tokens: 5, output_tokens: 2 * 1584 });
  });

  it('size auto is a size of the model; a transparent background stays transparent', async () => {
    const result = await demo.generate(job({ model: 'gpt-image-1', prompt: 'a sticker', background: 'transparent', output_format: 'webp' }), call, signal);
    expect(await described(bytesOf(result))).toMatchObject({ format: 'webp', width: 1024, height: 1024, hasAlpha: true });
    expect(result).toMatchObject({ size: '1024x1024', background: 'transparent', outputFormat: 'webp' });
  });

  it('for a model without output options or token prices (dall-e-3): a PNG, no background, format or usage reported', async () => {
    const result = await demo.generate(job({ model: 'dall-e-3', prompt: 'a castle', size: '1792x1024' }), call, signal);
    expect(await described(bytesOf(result))).toMatchObject({ format: 'png', width: 1792, height: 1024 });
    expect(result).toEqual({ images: expect.any(Array) as unknown, size: '1792x1024', quality: 'standard' });
  });

  it('streams: each image’s partial images first, at the final size and format, then the finals', async () => {
    const seen: { event: 'start' | 'end'; image: number; partial?: PartialImage; bytes?: Buffer }[] = [];
    let pieces: Buffer[] = [];
    const result = await demo.generate(
      job({ model: 'gpt-image-1', prompt: 'streamed', size: '1024x1536', stream: true, partial_images: 2, n: 2, output_format: 'webp' }),
      call,
      signal,
      {
        onPartial: {
          start: (image) => {
            pieces = [];
            seen.push({ event: 'start', image });
          },
          piece: (base64) => pieces.push(base64),
          end: (partial) =>
            seen.push({ event: 'end', image: partial.imageIndex, partial, bytes: Buffer.from(Buffer.concat(pieces).toString('latin1'), 'base64') }),
        },
      },
    );
    const ends = seen.filter((e) => e.event === 'end');
    expect(ends.map((e) => [e.image, e.partial?.partialIndex])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    expect(ends[0]?.partial).toMatchObject({ size: '1024x1536', quality: 'medium', background: 'opaque', outputFormat: 'webp' });
    for (const end of ends) expect(await described(end.bytes ?? Buffer.alloc(0))).toMatchObject({ format: 'webp', width: 1024, height: 1536 });
    expect(result.images).toHaveLength(2);
    expect(await described(bytesOf(result, 1))).toMatchObject({ format: 'webp', width: 1024, height: 1536 });
  });

  it('an edit from its first input (size auto: the model size nearest its shape), and a variation of its input', async () => {
    const photo = await input('image', await solid(300, 200, { r: 20, g: 60, b: 220 }));
    const edit = await demo.generate(withInputs({ model: 'gpt-image-1', prompt: 'add a hat' }, 'edits', [photo]), call, signal);
    const edited = bytesOf(edit);
    expect(await described(edited)).toMatchObject({ format: 'png', width: 1536, height: 1024 });
    const { dominant } = await sharp(edited).stats();
    expect(dominant.b).toBeGreaterThan(dominant.r);
    const square = await input('image', await solid(64, 64, { r: 200, g: 60, b: 20 }));
    const variation = await demo.generate(withInputs({ n: 2, size: '256x256' }, 'variations', [square]), call, signal);
    expect(variation.images).toHaveLength(2);
    expect(await described(bytesOf(variation))).toMatchObject({ format: 'png', width: 256, height: 256 });
  });

  it('an input whose pixels cannot be decoded is the client’s 400, not a 500', async () => {
    const good = await solid(64, 64, { r: 1, g: 2, b: 3 });
    const corrupt = Buffer.concat([good.subarray(0, 40), Buffer.alloc(good.length - 40, 7)]);
    const failure = await demo
      .generate(
        withInputs({ model: 'gpt-image-1', prompt: 'x' }, 'edits', [
          await input('image', good),
          { ...(await input('image[1]', good)), bytes: inMemoryBytes(corrupt) },
        ]),
        call,
        signal,
      )
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect(failure).toMatchObject({ kind: 'http', status: 400, upstreamError: { type: 'invalid_request_error', code: 'invalid_image' } });
  });

  it('refuses what the official API refuses (a relay object background), and waits its delay unless the caller leaves', async () => {
    expect(demo.refuses(job({ model: 'gpt-image-1', prompt: 'x', background: { style: 'paper' } }))).toMatchObject({ status: 400, param: 'background' });
    const slow = new DemoProvider({ delayMs: 10_000 });
    const caller = new AbortController();
    const pending = slow.generate(job({ model: 'gpt-image-1', prompt: 'x' }), call, caller.signal).then(
      () => undefined,
      (err: unknown) => err,
    );
    caller.abort();
    expect(await pending).toMatchObject({ kind: 'aborted' });
  });
});
