/**
 * The memory budget end to end (IMAGEGATE_MEMORY_BUDGET): a wave of large in-memory uploads (base64
 * JSON) past it is split into requests that run and requests refused at once with 503 server_busy
 * and Retry-After, in the caller's dialect; nothing crashes, and the budget is all given back
 * afterwards. Multipart uploads are spooled to disk and hold little of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNoiseImage } from '../sim/render.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';

const MB = 1024 * 1024;
let gw: TestGateway;
/** A ~5 MB PNG: noise defeats deflate. */
let upload: Buffer;

beforeAll(async () => {
  upload = await renderNoiseImage(1554, 1554);
  gw = await startGateway({ IMAGEGATE_MEMORY_BUDGET: '20mb' });
});
afterAll(async () => gw?.close());

interface Answer {
  status: number;
  retryAfter: string | null;
  json: { data?: { b64_json: string }[]; error?: Record<string, unknown> };
}

async function post(body: FormData | string | ReadableStream<Uint8Array>, path = '/v1/images/edits', to: TestGateway = gw): Promise<Answer> {
  const res = await fetch(`${to.origin}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${to.apiKey}`,
      ...(typeof body === 'string' || body instanceof ReadableStream ? { 'content-type': 'application/json' } : {}),
    },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as Answer['json'] };
}

function multipartEdit(): FormData {
  const form = new FormData();
  form.append('model', 'gpt-image-1');
  form.append('prompt', 'budget');
  form.append('size', '1024x1024');
  form.append('response_format', 'b64_json');
  form.append('image', new Blob([upload], { type: 'image/png' }), 'input.png');
  return form;
}

function jsonEdit(): string {
  return JSON.stringify({
    model: 'gpt-image-1',
    prompt: 'budget',
    size: '1024x1024',
    response_format: 'b64_json',
    images: [{ image_url: `data:image/png;base64,${upload.toString('base64')}` }],
  });
}

describe('the memory budget', () => {
  it('10 concurrent 5 MB uploads (base64 JSON) past a 20 MB budget: some run, the rest get 503 server_busy at once', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(jsonEdit())));
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 503);
    expect(served.length + refused.length, JSON.stringify(answers.map((a) => a.status))).toBe(10);
    expect(served.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.retryAfter).toBe('5');
      expect(answer.json).toEqual({ error: { type: 'server_error', code: 'server_busy', param: null, message: expect.stringMatching(/busy/) } });
    }
    for (const answer of served) expect((await describeImage(Buffer.from(answer.json.data![0]!.b64_json, 'base64'))).format).toBe('png');
    // Given back once the answers are out and their images stored.
    await expect.poll(() => gw.app.memory.inUse).toBe(0);
    // And the gateway goes on serving.
    expect((await post(jsonEdit())).status).toBe(200);
    await expect.poll(() => gw.app.memory.inUse).toBe(0);
  });

  it('10 concurrent 5 MB multipart uploads under a 20 MB budget all run: the files wait on disk, not in memory', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(multipartEdit())));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 10 }, () => 200));
    for (const answer of answers) expect((await describeImage(Buffer.from(answer.json.data![0]!.b64_json, 'base64'))).format).toBe('png');
    await expect.poll(() => gw.app.memory.inUse).toBe(0);
  });

  it('a body larger than the whole budget is 413, declared or chunked', async () => {
    const big = `{"model":"gpt-image-1","prompt":"${'x'.repeat(21 * MB)}"}`;
    const declared = await post(big, '/v1/images/generations');
    expect(declared.status).toBe(413);
    expect(declared.json.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    // No Content-Length: counted as it arrives, refused once it passes the budget.
    const chunks = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < chunks.length; at += MB) controller.enqueue(chunks.subarray(at, at + MB));
        controller.close();
      },
    });
    const chunked = await post(stream, '/v1/images/generations');
    expect(chunked.status).toBe(413);
    expect(chunked.json.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    await expect.poll(() => gw.app.memory.inUse).toBe(0);
  });

  it('the task API dialect gets its own envelope when busy', async () => {
    // Base64 uploads that take a while upstream hold most of the budget; meanwhile a task API request comes.
    const slow = await startGateway({ IMAGEGATE_MEMORY_BUDGET: '20mb', IMAGEGATE_DEMO_DELAY: '3s' });
    try {
      const uploads = Array.from({ length: 3 }, () => post(jsonEdit(), '/v1/images/edits', slow));
      await expect.poll(() => slow.app.memory.inUse).toBeGreaterThan(15 * MB);
      const res = await fetch(`${slow.origin}/api/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slow.apiKey}`, 'content-type': 'application/json' },
        body: jsonEdit(),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toEqual({ code: 503, msg: expect.stringMatching(/busy/), data: null });
      expect((await Promise.all(uploads)).map((a) => a.status)).toEqual([200, 200, 200]);
      await expect.poll(() => slow.app.memory.inUse).toBe(0);
    } finally {
      await slow.close();
    }
  });
});
