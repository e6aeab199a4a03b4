/**
 * Input limits that act before anything decodes, over real HTTP: images whose header declares
 * more pixels than the model takes are refused from the header alone (no upstream call); a
 * file past 50 MB is refused while the client is still sending; base64 images in form text
 * fields get the image cap (and count toward the upload total) while other fields keep theirs;
 * an upstream image too large to decode and the simulator's own decode cap are clear errors.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type OpenAI from 'openai';
import { APIError, toFile } from 'openai';
import type { ImageCreateVariationParams, ImageEditParamsNonStreaming } from 'openai/resources/images';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageHeader } from '../src/core/image-header.js';
import { imageProblem, inputRulesFor } from '../src/core/image-input.js';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { forgedPng } from './helpers/forged-png.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';
import { makeNoisePng, makePng, pngHeaded, startHttpServer, type TestServer } from './helpers/inputs.js';
import { recordingClient } from './helpers/recording-client.js';

const UPSTREAM_KEY = 'sk-test';
const MB = 1024 * 1024;

interface Answer {
  status: number;
  json: unknown;
}

let sim: RunningSimulator;
/** Routes to the simulator; default limits (128 MB of uploads per request). */
let gw: TestGateway;
/** At most 1 MB of input images per request. */
let gwLimited: TestGateway;
/** Routes to `bigAnswer`, an upstream that answers every generation with a 10000x10000 PNG. */
let gwBigAnswer: TestGateway;
let bigAnswer: TestServer;
/** 64x64 RGBA, half transparent: a good image and a good mask. */
let rgba: Buffer;

beforeAll(async () => {
  sim = await startOpenAISimulator({ apiKey: UPSTREAM_KEY });
  const answer = JSON.stringify({ created: 1_745_712_000, data: [{ b64_json: forgedPng(10_000, 10_000).toString('base64') }] });
  bigAnswer = await startHttpServer((req, res) => {
    req.resume();
    req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  });
  const upstream = { OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_BASE_URL: sim.baseURL, IMAGEGATE_MAX_ATTEMPTS: '1' };
  [gw, gwLimited, gwBigAnswer] = await Promise.all([
    startGateway(upstream),
    startGateway({ ...upstream, IMAGEGATE_UPLOAD_LIMIT: '1mb' }),
    startGateway({ ...upstream, OPENAI_BASE_URL: `${bigAnswer.origin}/v1` }),
  ]);
  rgba = await makePng({ width: 64, height: 64, alpha: 0.5 });
}, 60_000);

afterAll(async () => {
  await Promise.all([gw?.close(), gwLimited?.close(), gwBigAnswer?.close()]);
  await Promise.all([sim?.close(), bigAnswer?.close()]);
});

const png = (bytes: Buffer, name = 'image.png') => toFile(bytes, name, { type: 'image/png' });
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Runs an SDK call that must fail; returns the raw answer it got. */
async function refusedVia(target: TestGateway, call: (client: OpenAI) => Promise<unknown>): Promise<Answer> {
  const sdk = recordingClient(target, 30_000);
  const outcome = await call(sdk.client).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(APIError);
  const { status, text } = sdk.last();
  return { status, json: JSON.parse(text) as unknown };
}

async function formPost(target: TestGateway | RunningSimulator, path: string, form: FormData, key: string): Promise<Answer> {
  const res = await fetch(`${target.origin}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
  return { status: res.status, json: (await res.json()) as unknown };
}

function formOf(fields: Record<string, string | Blob>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

function expectRefused(answer: Answer, status: number, code: string, param: string | null): string {
  const message: unknown = (answer.json as { error?: { message?: unknown } } | null)?.error?.message;
  if (typeof message !== 'string') throw new Error(`no error message in ${JSON.stringify(answer.json)}`);
  expect({ status: answer.status, body: answer.json }).toEqual({ status, body: { error: { message, type: 'invalid_request_error', param, code } } });
  return message;
}

/** Runs `send` and checks the simulator saw no request meanwhile. */
async function withoutUpstreamCall(send: () => Promise<Answer>): Promise<Answer> {
  const calls = sim.sim.requests.length;
  const answer = await send();
  expect(sim.sim.requests.length).toBe(calls);
  return answer;
}

/** An edit or variation through the SDK that the gateway must refuse without calling the upstream. */
const refusedEdit = (params: ImageEditParamsNonStreaming) => withoutUpstreamCall(() => refusedVia(gw, (c) => c.images.edit(params)));
const refusedVariation = (params: ImageCreateVariationParams) => withoutUpstreamCall(() => refusedVia(gw, (c) => c.images.createVariation(params)));

describe('declared dimensions are judged from the header, before any decode', () => {
  // 10^10 pixels: decoded as RGBA, 40 GB.
  const huge = forgedPng(100_000, 100_000);

  it('refuses a PNG upload whose IHDR claims 100000x100000 (gpt-image-1)', async () => {
    const answer = await refusedEdit({ model: 'gpt-image-1', prompt: 'x', image: await png(huge) });
    const message = expectRefused(answer, 400, 'invalid_image_dimensions', 'image');
    expect(message).toContain('100000x100000');
    expect(message).toContain('16384');
  });

  it('names image[1] when the second of two images is the huge one (gpt-image-2)', async () => {
    const answer = await refusedEdit({ model: 'gpt-image-2', prompt: 'x', image: [await png(rgba, 'a.png'), await png(huge, 'b.png')] });
    expectRefused(answer, 400, 'invalid_image_dimensions', 'image[1]');
  });

  it('names mask when the mask is the huge one', async () => {
    const answer = await refusedEdit({ model: 'gpt-image-1', prompt: 'x', image: await png(rgba), mask: await png(huge, 'mask.png') });
    expectRefused(answer, 400, 'invalid_image_dimensions', 'mask');
  });

  it('refuses a base64 reference image on a generation the same way', async () => {
    const answer = await withoutUpstreamCall(async () => {
      const res = await postJson(gw, '/v1/images/generations', { model: 'gpt-image-1', prompt: 'x', image: [huge.toString('base64')] });
      return { status: res.status, json: res.json };
    });
    expectRefused(answer, 400, 'invalid_image_dimensions', 'image[0]');
  });

  it('refuses a panorama longer than 16384 pixels although its pixel count is small', async () => {
    const answer = await refusedEdit({ model: 'gpt-image-1', prompt: 'x', image: await png(forgedPng(20_000, 100)) });
    expectRefused(answer, 400, 'invalid_image_dimensions', 'image');
  });

  it('holds dall-e-2 variations to 4096x4096', async () => {
    const answer = await refusedVariation({ model: 'dall-e-2', image: await png(forgedPng(5000, 5000)) });
    expectRefused(answer, 400, 'invalid_image_dimensions', 'image');
  });

  it('draws the per-family bounds where the rules say (header objects, no bytes)', () => {
    const gpt = inputRulesFor('gpt-image-1', 'edit');
    const dalle = inputRulesFor('dall-e-2', 'variation');
    if (!gpt || !dalle) throw new Error('both families take inputs');
    const header = (width: number, height: number) => ({ kind: 'png' as const, width, height, hasAlpha: true, complete: true });
    const code = (width: number, height: number, rules: typeof gpt) => imageProblem('image', 1000, header(width, height), rules)?.code ?? null;
    expect(code(16_384, 4096, gpt)).toBeNull();
    expect(code(8192, 8192, gpt)).toBeNull();
    expect(code(16_385, 16, gpt)).toBe('invalid_image_dimensions');
    expect(code(8193, 8192, gpt)).toBe('invalid_image_dimensions');
    expect(code(4096, 4096, dalle)).toBeNull();
    expect(code(4097, 4097, dalle)).toBe('invalid_image_dimensions');
    // The forged file's header is what the gateway reads.
    expect(readImageHeader(huge)).toEqual(header(100_000, 100_000));
  });
});

describe('decoders are capped', () => {
  it('answers 502 with the reason when an upstream image that needs converting is past the decode cap', async () => {
    const res = await postJson(gwBigAnswer, '/v1/images/generations', {
      model: 'gpt-image-1',
      prompt: 'x',
      output_format: 'jpeg',
      response_format: 'b64_json',
    });
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ error: { type: 'server_error', code: 'upstream_invalid_response' } });
    expect((res.json as { error: { message: string } }).error.message).toContain('10000x10000');
  });

  it('the OpenAI simulator refuses an input past its decode cap as a 400 naming the image', async () => {
    const form = formOf({ model: 'gpt-image-1', prompt: 'x', image: new Blob([forgedPng(10_000, 10_000)], { type: 'image/png' }) });
    const answer = await formPost(sim, '/v1/images/edits', form, UPSTREAM_KEY);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_image_dimensions', param: 'image' } });
  });
});

describe('a file past 50 MB is refused while it is still arriving', () => {
  const TOTAL_FILE = 80 * MB;
  /** Sent at full speed: past the 50 MB limit, so the server has what it needs to refuse. */
  const FAST_PART = 52 * MB;
  /** Then 1 MB at a time, slowly, until the answer comes (the old reader waited for all 80 MB). */
  const TRICKLE_MS = 400;

  it('answers 400 naming image while the client still has more than 20 MB to send', async () => {
    const boundary = `----imagegate${Date.now()}`;
    const head = Buffer.from(
      [
        `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt-image-1\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`,
      ].join(''),
      'latin1',
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
    const block = pngHeaded(MB); // a PNG's first bytes, then zeros; the same megabyte is sent 80 times
    const { origin, apiKey } = gw;
    const req = httpRequest(`${origin}/v1/images/edits`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + TOTAL_FILE + tail.length),
      },
    });
    const answered = responseOf(req);
    let sentWhenAnswered: number | undefined;
    let sent = 0;
    void answered.then(() => (sentWhenAnswered ??= sent)).catch(() => undefined);
    try {
      await write(req, head, answered);
      while (sent < TOTAL_FILE && sentWhenAnswered === undefined) {
        await write(req, block, answered);
        sent += block.length;
        if (sent >= FAST_PART) await Promise.race([sleep(TRICKLE_MS), answered]);
      }
      if (sentWhenAnswered === undefined) req.end(tail);
      const { status, body } = await answered;
      expectRefused({ status, json: JSON.parse(body) as unknown }, 400, 'image_too_large', 'image');
      expect(TOTAL_FILE - (sentWhenAnswered ?? sent)).toBeGreaterThan(20 * MB);
    } finally {
      req.destroy();
    }
  }, 20_000);
});

/** The answer to `req`, whenever it comes (before the body is sent, too). */
function responseOf(req: ClientRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    req.on('error', reject);
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.once('error', reject);
    });
  });
}

/** Writes a chunk and waits for the socket to take it, or for the answer (the server may stop reading). */
async function write(req: ClientRequest, chunk: Buffer, answered: Promise<unknown>): Promise<void> {
  if (req.write(chunk)) return;
  await Promise.race([new Promise((resolve) => req.once('drain', resolve)), answered.catch(() => undefined)]);
}

describe('images in form text fields', () => {
  let noise: Buffer;
  beforeAll(async () => {
    noise = await makeNoisePng(400, 400); // ~640 KB, ~850 KB as base64: past the 256 KB of ordinary fields
  });

  it('takes a base64 image far past the ordinary field size and passes its bytes on unchanged', async () => {
    const calls = sim.sim.requests.length;
    const form = formOf({ model: 'gpt-image-1', prompt: 'make it blue', image: noise.toString('base64') });
    const answer = await formPost(gw, '/v1/images/edits', form, gw.apiKey);
    expect(answer.status).toBe(200);
    const forwarded = sim.sim.requests.slice(calls).find((r) => r.path === '/v1/images/edits');
    expect(forwarded?.form?.files.map((f) => ({ field: f.field, sha256: f.sha256 }))).toEqual([{ field: 'image', sha256: sha256(noise) }]);
  });

  it('takes a data URI in image[] the same way', async () => {
    const form = formOf({ model: 'gpt-image-1', prompt: 'make it blue', 'image[]': `data:image/png;base64,${noise.toString('base64')}` });
    expect((await formPost(gw, '/v1/images/edits', form, gw.apiKey)).status).toBe(200);
  });

  it('still refuses an ordinary field past 256 KB', async () => {
    const form = formOf({ model: 'gpt-image-1', prompt: 'p'.repeat(300 * 1024), image: rgba.toString('base64') });
    expectRefused(await withoutUpstreamCall(() => formPost(gw, '/v1/images/edits', form, gw.apiKey)), 400, 'string_above_max_length', 'prompt');
  });

  it('refuses a mask given as text longer than the base64 of 4 MB, naming mask', async () => {
    const form = formOf({ model: 'gpt-image-1', prompt: 'x', image: rgba.toString('base64'), mask: 'A'.repeat(6 * MB) });
    expectRefused(await withoutUpstreamCall(() => formPost(gw, '/v1/images/edits', form, gw.apiKey)), 400, 'image_too_large', 'mask');
  });

  it('counts text images toward the per-request upload total', async () => {
    // Two images of 600 KB each as base64 text: 1.2 MB of images on a 1 MB gateway.
    const text = pngHeaded(600 * 1024).toString('base64');
    const form = new FormData();
    form.append('model', 'gpt-image-1');
    form.append('prompt', 'x');
    form.append('image[]', text);
    form.append('image[]', text);
    expectRefused(await withoutUpstreamCall(() => formPost(gwLimited, '/v1/images/edits', form, gwLimited.apiKey)), 413, 'request_too_large', 'image');
  });
});
