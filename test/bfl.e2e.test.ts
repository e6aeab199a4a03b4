/**
 * Black Forest Labs' FLUX API as a vendor, end to end: the official `openai` SDK through the
 * gateway to a bfl channel whose upstream is the BFL simulator (sim/bfl.ts). Every FLUX model is
 * a BFL task: submitted with the key in `x-key`, then polled at its polling_url until Ready,
 * inside the request for the OpenAI dialect and by the task worker for the async dialects, whose
 * stored polling_url is resumed after a crash and never submitted again. result.sample expires
 * (10 minutes at BFL): the gateway stores the image at once; one already gone when fetched is a
 * 502 (a failed task), credits back, never a second generation. A moderated task is the client's 400
 * content_policy_violation with BFL's reasons; 402 and 429 fail over; 401 disables the key; a 422
 * is the client's 400 naming the field; what BFL cannot do is a 400 before any call. A polling_url
 * off BFL's hosts and the channel's origin never sees the key.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { startBflSimulator, type BflSimulatorOptions } from '../sim/bfl.js';
import { DEFAULT_PRICES } from '../src/core/default-prices.js';
import { mayCarryKey, pollUrlFor, storedTaskRef } from '../src/providers/bfl/polling.js';
import { adminJson, settledCredits } from './helpers/admin.js';
import { newApiTask, taskApi } from './helpers/async-dialects.js';
import { closeAfterEach, onCleanup } from './helpers/cleanup.js';
import { postJson } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  clearPng,
  crashingGateways,
  describeBase64 as b64Image,
  describeImageAt,
  disabledReason,
  gatewayWith,
  plainPng as png,
  storedUpstreamId,
  submitNewApiTask,
  resumedAfterCrash,
  keptAliveThenCompleted,
  sdkEditStream,
  sdkGenerationStream,
  streamRefusedAndRefunded,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const KEY = 'bfl-test-key';

const bfl = vendorKit({
  kind: 'bfl',
  key: KEY,
  start: (opts: BflSimulatorOptions) => startBflSimulator({ apiKey: KEY, taskDurationMs: 100, ...opts }),
  baseUrl: (sim) => sim.origin,
  channel: { poll_interval: 0.05 },
});

const errorOf = (res: { json?: Record<string, unknown> | undefined }) => (res.json?.error ?? {}) as Record<string, unknown>;

describe('FLUX.2: width and height, x-key, submitted once and polled', () => {
  it('images.generate gives a real JPEG of the size asked; BFL gets width, height, output_format and its own fields, the key in x-key', async () => {
    const { gw, sim } = await bfl.one();
    const answer = await gw.client.images.generate({
      model: 'flux-2-pro',
      prompt: 'a lighthouse on a cliff',
      size: '1248x832' as never,
      response_format: 'b64_json',
      seed: 42,
      safety_tolerance: 3,
      prompt_upsampling: false,
    } as never);
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 1248, height: 832 });
    expect(answer).toMatchObject({ size: '1248x832', output_format: 'jpeg' });
    expect(sim.sim.bodies()).toEqual([
      { prompt: 'a lighthouse on a cliff', width: 1248, height: 832, output_format: 'jpeg', seed: 42, safety_tolerance: 3, prompt_upsampling: false },
    ]);
    expect(sim.sim.submits).toBe(1);
    const submit = sim.sim.requests.find((r) => r.method === 'POST');
    expect(submit?.path).toBe('/v1/flux-2-pro');
    expect(submit?.headers['x-key']).toBe(KEY);
    expect(submit?.headers.authorization).toBeUndefined();
    const polls = sim.sim.requests.filter((r) => r.method === 'GET' && r.path === '/v1/get_result');
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const poll of polls) expect(poll.headers['x-key']).toBe(KEY);
    // The sample is fetched like any image URL: BFL's delivery host never sees the key.
    const download = sim.sim.requests.find((r) => r.path.startsWith('/results/'));
    expect(download?.headers['x-key']).toBeUndefined();
    expect(download?.headers.authorization).toBeUndefined();
  });

  it('a custom size within FLUX.2’s limits is made; one that is not a multiple of 16 is 400 naming size, nothing sent', async () => {
    const { gw, sim } = await bfl.one();
    const answer = await gw.client.images.generate({ model: 'flux-2-klein-4b', prompt: 'a kite', size: '1040x640' as never, response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 1040, height: 640 });
    const before = sim.sim.requests.length;
    const bad = await postJson(gw, '/v1/images/generations', { model: 'flux-2-klein-4b', prompt: 'a kite', size: '1000x600' });
    expect(bad.status).toBe(400);
    expect(errorOf(bad)).toMatchObject({ param: 'size' });
    expect(sim.sim.requests.length).toBe(before);
  });

  it('flex takes steps and guidance; output_format png is asked as png, webp as png and converted by the gateway', async () => {
    const { gw, sim } = await bfl.one();
    const answer = await gw.client.images.generate({
      model: 'flux-2-flex',
      prompt: 'a poster that reads SALE',
      output_format: 'png',
      response_format: 'b64_json',
      steps: 30,
      guidance: 5,
    } as never);
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1024, height: 1024 });
    expect(sim.sim.bodies('flux-2-flex').at(-1)).toEqual({
      prompt: 'a poster that reads SALE',
      width: 1024,
      height: 1024,
      output_format: 'png',
      steps: 30,
      guidance: 5,
    });
    const webp = await gw.client.images.generate({ model: 'flux-2-max', prompt: 'a fox', output_format: 'webp', response_format: 'b64_json' } as never);
    expect(await b64Image(webp.data?.[0]?.b64_json)).toEqual({ format: 'webp', width: 1024, height: 1024 });
    expect(sim.sim.bodies('flux-2-max').at(-1)).toMatchObject({ output_format: 'png' });
  });

  it('images.edit with two reference images sends input_image and input_image_2 as base64; size auto keeps the first input’s size', async () => {
    const { gw, sim } = await bfl.one();
    const answer = await gw.client.images.edit({
      model: 'flux-2-pro',
      prompt: 'the cat from image 1 in the room from image 2',
      image: [
        await toFile(await png(640, 480), 'cat.png', { type: 'image/png' }),
        await toFile(await png(320, 320, '#a37'), 'room.png', { type: 'image/png' }),
      ],
      size: 'auto',
      response_format: 'b64_json',
    });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 640, height: 480 });
    const body = sim.sim.bodies('flux-2-pro').at(-1) ?? {};
    expect(Object.keys(body).sort()).toEqual(['input_image', 'input_image_2', 'output_format', 'prompt']);
    expect(await describeImage(Buffer.from(String(body.input_image), 'base64'))).toEqual({ format: 'png', width: 640, height: 480 });
    expect(await describeImage(Buffer.from(String(body.input_image_2), 'base64'))).toEqual({ format: 'png', width: 320, height: 320 });
  });

  it('klein takes at most 4 reference images: a fifth is a 400 before any call; a mask is 400 unsupported_parameter', async () => {
    const { gw, sim } = await bfl.one();
    const five = await Promise.all(Array.from({ length: 5 }, async (_, i) => toFile(await png(64, 64), `in${i}.png`, { type: 'image/png' })));
    const tooMany = await gw.client.images.edit({ model: 'flux-2-klein-9b', prompt: 'a collage', image: five }).catch((err: unknown) => err);
    expect(tooMany).toMatchObject({ status: 400 });
    const masked = await gw.client.images
      .edit({
        model: 'flux-2-pro',
        prompt: 'fill the sky',
        image: await toFile(await png(256, 256), 'in.png', { type: 'image/png' }),
        mask: await toFile(await clearPng(256, 256), 'mask.png', { type: 'image/png' }),
      })
      .catch((err: unknown) => err);
    expect(masked).toMatchObject({ status: 400, param: 'mask', code: 'unsupported_parameter' });
    expect(sim.sim.requests).toHaveLength(0);
  });
});

describe('Kontext and FLUX1.1: aspect ratios, one input image', () => {
  it('Kontext edits one image: aspect_ratio not sent (size auto), the answer has BFL’s Kontext resolution nearest the input’s shape', async () => {
    const { gw, sim } = await bfl.one();
    const answer = await gw.client.images.edit({
      model: 'flux-kontext-pro',
      prompt: 'make it night',
      image: await toFile(await png(640, 480), 'street.png', { type: 'image/png' }),
      response_format: 'b64_json',
    });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1184, height: 880 });
    const body = sim.sim.bodies('flux-kontext-pro').at(-1) ?? {};
    expect(Object.keys(body).sort()).toEqual(['input_image', 'output_format', 'prompt']);
    expect(body.output_format).toBe('png');
  });

  it('Kontext text-to-image at 1392x752 sends aspect_ratio 16:9; Ultra at 2752x1536 sends 16:9 and raw', async () => {
    const { gw, sim } = await bfl.one();
    const kontext = await gw.client.images.generate({ model: 'flux-kontext-max', prompt: 'a valley', size: '1392x752' as never, response_format: 'b64_json' });
    expect(await b64Image(kontext.data?.[0]?.b64_json)).toEqual({ format: 'png', width: 1392, height: 752 });
    expect(sim.sim.bodies('flux-kontext-max').at(-1)).toEqual({ prompt: 'a valley', aspect_ratio: '16:9', output_format: 'png' });
    // Kontext takes webp itself (FLUX.2 does not: there it is asked as png and converted).
    const webp = await gw.client.images.generate({
      model: 'flux-kontext-pro',
      prompt: 'a valley',
      output_format: 'webp',
      response_format: 'b64_json',
    } as never);
    expect(await b64Image(webp.data?.[0]?.b64_json)).toEqual({ format: 'webp', width: 1024, height: 1024 });
    expect(sim.sim.bodies('flux-kontext-pro').at(-1)).toEqual({ prompt: 'a valley', output_format: 'webp' });
    const ultra = await gw.client.images.generate({
      model: 'flux-1.1-pro-ultra',
      prompt: 'a wide canyon',
      size: '2752x1536' as never,
      response_format: 'b64_json',
      raw: true,
    } as never);
    expect(await b64Image(ultra.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 2752, height: 1536 });
    expect(sim.sim.bodies('flux-pro-1.1-ultra').at(-1)).toEqual({ prompt: 'a wide canyon', aspect_ratio: '16:9', output_format: 'jpeg', raw: true });
  });

  it('FLUX1.1 [pro] goes to /v1/flux-pro-1.1 with width and height (multiples of 32)', async () => {
    const { gw, sim } = await bfl.one();
    const answer = await gw.client.images.generate({ model: 'flux-1.1-pro', prompt: 'a bridge', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toEqual({ format: 'jpeg', width: 1024, height: 768 });
    expect(sim.sim.bodies('flux-pro-1.1')).toEqual([{ prompt: 'a bridge', width: 1024, height: 768, output_format: 'jpeg' }]);
  });
});

describe('result.sample expires: the gateway stores the image when the task is Ready', () => {
  it('the url answer is the gateway’s link, which still works after BFL’s sample URL is gone', async () => {
    const { gw, sim } = await bfl.one({ sampleTtlMs: 800 });
    const answer = await gw.client.images.generate({ model: 'flux-2-pro', prompt: 'a harbour at dawn', size: '832x1248' as never });
    const link = answer.data?.[0]?.url ?? '';
    expect(link.startsWith(gw.origin)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect((await fetch(sim.sim.samples.at(-1) ?? '')).status).toBe(404);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'jpeg', width: 832, height: 1248 });
  });
});

describe('result.sample already gone when the gateway fetches it (a run resumed after BFL’s 10 minutes)', () => {
  it('the sync request is 502 upstream_invalid_response and a task fails with that reason, credits back both times; BFL is not asked to generate again', async () => {
    const { gw, sim } = await bfl.one({ sampleTtlMs: 0 });
    const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'expired samples', credits: 1 });
    const asKey = { ...gw, apiKey: String(created.key) };

    const sync = await postJson(asKey, '/v1/images/generations', { model: 'flux-2-pro', prompt: 'a harbour at dusk' });
    expect(sync.status).toBe(502);
    expect(errorOf(sync)).toMatchObject({ code: 'upstream_invalid_response', type: 'server_error', message: expect.stringMatching(/could not be downloaded/) });
    // BFL answered its sample URL's 404 to the gateway's fetch: the URL had been handed out.
    expect((await fetch(sim.sim.samples.at(-1) ?? '')).status).toBe(404);

    const id = await submitNewApiTask(asKey, { model: 'flux-2-pro', prompt: 'a harbour at night' });
    const view = await newApiTask(asKey, id);
    expect(view?.status).toBe('failed');
    expect(view?.fail_reason).toMatch(/could not be downloaded/);
    expect(sim.sim.submits).toBe(2);

    expect(await settledCredits(gw.origin, String(created.id), 1)).toBe(1);
    // Both were charged up front and given back, not left uncharged.
    const ledger = (await adminJson(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}/ledger`)) as { data: { kind: string }[] };
    expect(ledger.data.filter((e) => e.kind === 'reserve')).toHaveLength(2);
  });
});

describe('the async dialects: a task run stores the polling_url', () => {
  it("new-api's async dialect: submitted once, polled, succeeds with the image's link; the stored upstream id is BFL's polling_url", async () => {
    const { gw, sim } = await bfl.one({ taskDurationMs: 300 });
    const id = await submitNewApiTask(gw, { model: 'flux-2-pro', prompt: 'a city of glass', size: '1360x768' });
    const view = await newApiTask(gw, id);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'jpeg', width: 1360, height: 768 });
    expect(sim.sim.submits).toBe(1);
    const stored = await storedUpstreamId(gw.origin, id);
    expect(stored).toMatch(new RegExp(`^${sim.origin}/v1/get_result\\?id=`));
  });

  it('the task API dialect: aspect_ratio 16:9 is FLUX.2’s 1280x720, seed passed through', async () => {
    const { gw, sim } = await bfl.one();
    const view = await taskApi(gw, { model: 'flux-2-klein-9b', prompt: 'a tall lighthouse', aspect_ratio: '16:9', seed: 11 });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.bodies('flux-2-klein-9b').at(-1)).toMatchObject({ width: 1280, height: 720, seed: 11 });
  });

  it('a gateway SIGKILLed while the BFL task is polled: a new one on the same database finishes it, with one submission', async () => {
    const sim = await bfl.sim();
    const gateways = await crashingGateways([bfl.channel('bfl', sim)], { name: 'bfl crash', credits: 1 }, { IMAGEGATE_TASK_POLL: '100ms' });
    const body = { model: 'flux-2-pro', prompt: 'a slow sunrise' };
    const { view, storedId: pollingUrl, pollsBefore } = await resumedAfterCrash(gateways, sim, body, 60_000);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(sim.sim.submits).toBe(1);
    expect(sim.sim.polls).toBeGreaterThan(pollsBefore);
    const lastPoll = sim.sim.requests.filter((r) => r.method === 'GET' && r.path === '/v1/get_result').at(-1);
    expect(`${sim.origin}${lastPoll?.path}${lastPoll?.query}`).toBe(pollingUrl);
    expect(await describeImageAt(view?.image_urls[0])).toEqual({ format: 'jpeg', width: 1024, height: 1024 });
  }, 180_000); // two starts of a child gateway, each up to a minute or more on a busy machine
});

describe('the key goes only to the channel’s origin or BFL’s hosts', () => {
  it('a polling_url on another host is never followed: the gateway polls its own base’s get_result?id= and stores the bare id', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const elsewhere = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"Pending"}');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => elsewhere.close(() => resolve())));
    const { gw, sim } = await bfl.one({ pollingBaseUrl: `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}` });
    const id = await submitNewApiTask(gw, { model: 'flux-2-pro', prompt: 'a quiet bay' });
    const view = await newApiTask(gw, id);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(seen).toHaveLength(0);
    const stored = await storedUpstreamId(gw.origin, id);
    expect(stored).toMatch(/^[0-9a-f-]{36}$/);
    const polls = sim.sim.requests.filter((r) => r.method === 'GET' && r.path === '/v1/get_result');
    expect(polls.length).toBeGreaterThan(0);
    for (const poll of polls) expect(poll.query).toBe(`?id=${stored}`);
  });

  it.each([
    ['https://api.us1.bfl.ai/v1/get_result?id=a', true],
    ['https://api.bfl.ai/v1/get_result?id=a', true],
    ['https://bfl.ai/v1/get_result?id=a', true],
    ['http://api.bfl.ai/v1/get_result?id=a', false],
    ['https://api.bfl.ai.evil.example/v1/get_result?id=a', false],
    ['https://evilbfl.ai/v1/get_result?id=a', false],
    ['https://user:pw@api.bfl.ai/v1/get_result?id=a', false],
    ['https://api.eu.bfl.ai:8443/x', true],
    ['https://relay.example/v1/get_result?id=a', false],
  ])('%s may carry the key: %s', (url, allowed) => {
    expect(mayCarryKey(new URL(url), 'https://api.eu.bfl.ai')).toBe(allowed);
  });

  it('a stored ref that is an untrusted URL is polled at the channel’s base by its id; a trusted one as it is', () => {
    expect(pollUrlFor('https://evil.example/v1/get_result?id=abc', 'https://api.bfl.ai')).toBe('https://api.bfl.ai/v1/get_result?id=abc');
    expect(pollUrlFor('https://api.us1.bfl.ai/v1/get_result?id=abc', 'https://api.bfl.ai')).toBe('https://api.us1.bfl.ai/v1/get_result?id=abc');
    expect(pollUrlFor('abc', 'https://api.eu.bfl.ai/')).toBe('https://api.eu.bfl.ai/v1/get_result?id=abc');
    expect(storedTaskRef('abc', 'https://evil.example/v1/get_result?id=abc', 'https://api.bfl.ai')).toBe('abc');
    expect(storedTaskRef('abc', 'https://api.us1.bfl.ai/v1/get_result?id=abc', 'https://api.bfl.ai')).toBe('https://api.us1.bfl.ai/v1/get_result?id=abc');
  });
});

describe("BFL's refusals and failures", () => {
  it.each([
    ['[sim:moderated]', 'BFL moderated the request'],
    ['[sim:content-moderated]', 'BFL moderated the generated image'],
  ])('a task %s is the client’s 400 content_policy_violation with BFL’s reasons, submitted once', async (marker, said) => {
    const { gw, sim } = await bfl.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-2-pro', prompt: `a scene ${marker}` });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'content_policy_violation', type: 'invalid_request_error' });
    expect(String(errorOf(res).message)).toContain(said);
    expect(String(errorOf(res).message)).toContain('Derivative Works Filter');
    expect(sim.sim.submits).toBe(1);
  });

  it('a task that ends in Error is the client’s upstream_task_failed, not retried', async () => {
    const { gw, sim } = await bfl.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-2-pro', prompt: 'a scene [sim:error]' });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(errorOf(res)).toMatchObject({ code: 'upstream_task_failed' });
    expect(sim.sim.submits).toBe(1);
  });

  it('a poll answered 503 is ridden out: the task is polled again, never submitted twice', async () => {
    const { gw, sim } = await bfl.one();
    sim.sim.enqueuePollFault({ status: 503, detail: 'Service Unavailable' }, { status: 502, detail: 'Bad Gateway' });
    const answer = await gw.client.images.generate({ model: 'flux-2-pro', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'jpeg' });
    expect(sim.sim.submits).toBe(1);
    expect(sim.sim.polls).toBeGreaterThanOrEqual(3);
  });

  it('a task BFL no longer knows (Task not found) fails the task, naming why, without submitting again', async () => {
    const { gw, sim } = await bfl.one();
    sim.sim.hold();
    const id = await submitNewApiTask(gw, { model: 'flux-2-pro', prompt: 'a lost task' });
    await expect.poll(() => sim.sim.polls, { timeout: 10_000 }).toBeGreaterThan(0);
    sim.sim.forgetTasks();
    const view = await newApiTask(gw, id);
    expect(view?.status).toBe('failed');
    expect(view?.fail_reason).toContain('does not know the task');
    expect(sim.sim.submits).toBe(1);
  });

  it('a 422 from BFL is the client’s 400 naming the field', async () => {
    const { gw } = await bfl.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-2-pro', prompt: 'a harbour', safety_tolerance: 9 });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ param: 'safety_tolerance' });
    expect(String(errorOf(res).message)).toContain('safety_tolerance');
  });

  it('402 (out of credits) and 429 (too many active tasks) fail over to the next channel', async () => {
    const broke = await bfl.sim();
    const busy = await bfl.sim();
    const spare = await bfl.sim();
    broke.sim.enqueueFault({ status: 402, detail: 'Insufficient credits' });
    busy.sim.enqueueFault({ status: 429, detail: 'Too many active tasks', retryAfterSeconds: 5 });
    const gw = await gatewayWith([bfl.channel('broke', broke, { priority: 20 }), bfl.channel('busy', busy, { priority: 10 }), bfl.channel('spare', spare)]);
    const answer = await gw.client.images.generate({ model: 'flux-2-pro', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await b64Image(answer.data?.[0]?.b64_json)).toMatchObject({ format: 'jpeg' });
    expect([broke.sim.submits, busy.sim.submits, spare.sim.submits]).toEqual([1, 1, 1]);
    expect(spare.sim.polls).toBeGreaterThan(0);
  });

  it('a wrong key (401) or a forbidden one (403) is disabled; the next channel serves and the bad ones are not tried again', async () => {
    const wrongKey = await bfl.sim({ apiKey: 'the-real-key' });
    const forbidden = await bfl.sim();
    forbidden.sim.enqueueFault({ status: 403, detail: 'Forbidden' });
    const good = await bfl.sim();
    const gw = await gatewayWith([
      bfl.channel('wrong-key', wrongKey, { priority: 20 }),
      bfl.channel('forbidden', forbidden, { priority: 10 }),
      bfl.channel('good', good),
    ]);
    await gw.client.images.generate({ model: 'flux-2-pro', prompt: 'a harbour' });
    expect(good.sim.submits).toBe(1);
    expect([await disabledReason(gw, 'wrong-key'), await disabledReason(gw, 'forbidden')]).toEqual([
      expect.stringMatching(/401/),
      expect.stringMatching(/403/),
    ]);
    const before = wrongKey.sim.requests.length + forbidden.sim.requests.length;
    await gw.client.images.generate({ model: 'flux-2-klein-4b', prompt: 'again' });
    expect(wrongKey.sim.requests.length + forbidden.sim.requests.length).toBe(before);
  });
});

describe('what BFL cannot do is refused, naming the field, before any call', () => {
  it.each([
    ['quality', { quality: 'hd' }],
    ['background', { background: 'transparent' }],
    ['style', { style: 'vivid' }],
    ['partial_images', { stream: true, partial_images: 1 }],
    ['moderation', { moderation: 'low' }],
    ['metadata', { metadata: { team: 'a' } }],
    ['n', { n: 2 }],
    ['steps', { steps: 20 }],
    ['webhook_url', { webhook_url: 'https://example.com/hook' }],
  ])('%s: 400, nothing sent', async (param, extra) => {
    const { gw, sim } = await bfl.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'flux-2-pro', prompt: 'a harbour', ...extra });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ param });
    expect(sim.sim.requests).toHaveLength(0);
  });
});

describe('stream: keep-alive while the task runs, then the completed event', () => {
  const slow = () => bfl.one({ taskDurationMs: 700 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('a generation: keep-alive comments while BFL works, then one completed event with the image at the size asked, in the format it reports', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'flux-2-pro', prompt: 'a lighthouse', size: '1248x832' });
    await keptAliveThenCompleted(stream, { type: 'image_generation.completed', size: '1248x832', format: 'jpeg' });
    expect(sim.sim.submits).toBe(1);
  });

  it('an edit (Kontext) streams image_edit.completed, in the input’s shape', async () => {
    const { gw } = await slow();
    const stream = await sdkEditStream(gw, { model: 'flux-kontext-pro', prompt: 'make it night', image: await png(640, 480) });
    await keptAliveThenCompleted(stream, { type: 'image_edit.completed', decodesTo: { width: 1184, height: 880 } });
  });

  it('a task moderated after the stream opened is its error event (content_policy_violation), and the credits come back', async () => {
    const { gw, sim } = await slow();
    await streamRefusedAndRefunded(gw, { model: 'flux-2-pro', prompt: 'a scene [sim:moderated]' }, () => sim.sim.submits);
  });
});

describe('list prices (BFL pricing, 2026-11-30)', () => {
  const cell = (model: string, size: string) => DEFAULT_PRICES[model]?.perImage?.[size]?.standard;

  it('FLUX.2 per megapixel: the first at one rate, the rest at another (1024x1024 is one megapixel)', () => {
    expect([cell('flux-2-pro', '1024x1024'), cell('flux-2-pro', '2048x2048')]).toEqual([30_000, 75_000]);
    expect([cell('flux-2-max', '1024x1024'), cell('flux-2-max', '2048x2048')]).toEqual([70_000, 160_000]);
    expect([cell('flux-2-flex', '1024x1024'), cell('flux-2-klein-4b', '2048x2048'), cell('flux-2-klein-9b', '2048x2048')]).toEqual([50_000, 17_000, 21_000]);
  });

  it('FLUX.1 per image, at every size', () => {
    expect([
      cell('flux-kontext-pro', 'auto'),
      cell('flux-kontext-max', '1392x752'),
      cell('flux-1.1-pro', '1440x1440'),
      cell('flux-1.1-pro-ultra', '2752x1536'),
    ]).toEqual([40_000, 80_000, 40_000, 60_000]);
  });

  it('/v1/models lists the FLUX models of a bfl channel, with their capabilities', async () => {
    const sim = await bfl.sim();
    const gw = await gatewayWith([bfl.channel('bfl', sim, { models: '*' })]);
    const ids = (await gw.client.models.list()).data.map((m) => m.id);
    expect(ids.filter((id) => id.startsWith('flux'))).toEqual([
      'flux-2-pro',
      'flux-2-max',
      'flux-2-flex',
      'flux-2-klein-4b',
      'flux-2-klein-9b',
      'flux-kontext-pro',
      'flux-kontext-max',
      'flux-1.1-pro',
      'flux-1.1-pro-ultra',
    ]);
    const pro = (await gw.client.models.retrieve('flux-2-pro')) as unknown as { capabilities: Record<string, unknown> };
    expect(pro.capabilities).toMatchObject({ custom_sizes: { edge_multiple: 16, max_pixels: 2048 * 2048 }, max_n: 1, edits: { max_images: 8 } });
  });
});
