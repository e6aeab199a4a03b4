/**
 * Midjourney through a midjourney-proxy, end to end: the official `openai` SDK through the gateway
 * to a midjourney channel whose upstream is the proxy simulator (sim/midjourney-proxy.ts). One
 * imagine is a 2x2 grid: quality standard cuts it in four here (one upstream job), quality hd
 * asks Midjourney's upscales U1..Un (by the grid's buttons on the plus API, by /submit/change on
 * novicezk's); n takes the first n images. The size is the prompt's --ar, the model its version
 * flag; a prompt whose own flags contradict them is a 400. Tasks store the job as it is submitted
 * and resume it after a restart (a SIGKILL included) without submitting anything twice. A banned
 * word or Midjourney's moderation is a content_policy_violation; a full queue and a proxy without
 * accounts fail over; a wrong secret disables the key.
 */
import { toFile } from 'openai';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startMidjourneyProxySimulator, type MidjourneyProxySimulatorOptions, type RunningMidjourneyProxySimulator } from '../sim/midjourney-proxy.js';
import { adminJson } from './helpers/admin.js';
import { newApiAsync, newApiTask, taskApi } from './helpers/async-dialects.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { postJson, startGateway } from './helpers/gateway.js';
import { describeImage } from './helpers/images.js';
import {
  clearPng,
  crashingGateways,
  describeImageAt,
  errorMessage,
  gatewayWith,
  plainPng,
  sharedDatabaseEnv,
  storedUpstreamId as storedJob,
  submitNewApiTask as submitTask,
  refusedKeyScenario,
  keptAliveThenCompleted,
  partialImagesRefused,
  sdkEditStream,
  sdkGenerationStream,
  streamRefusedAndRefunded,
  vendorKit,
} from './helpers/vendor-kit.js';

closeAfterEach();

const SECRET = 'mj-secret-test';
const IMAGINE = '/mj/submit/imagine';

const proxy = vendorKit({
  kind: 'midjourney',
  key: SECRET,
  start: (opts: MidjourneyProxySimulatorOptions) => startMidjourneyProxySimulator({ apiSecret: SECRET, ...opts }),
  baseUrl: (sim) => sim.origin,
  channel: { poll_interval: 0.05 },
});

const bytesOf = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64');

/** The raw pixels of an image, to compare what the gateway answered with a quarter of the proxy's grid. */
async function pixels(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).removeAlpha().raw().toBuffer();
}

/** Quarter `index` (0-3: U1-U4) of the grid the proxy hosted first. */
async function quarterOfGrid(sim: RunningMidjourneyProxySimulator, index: number, width: number, height: number): Promise<Buffer> {
  const grid = Buffer.from(await (await fetch(sim.sim.answeredUrls[0] ?? '')).arrayBuffer());
  return sharp(grid)
    .extract({ left: (index % 2) * width, top: Math.floor(index / 2) * height, width, height })
    .removeAlpha()
    .raw()
    .toBuffer();
}

describe('quality standard: one imagine, its grid cut in four by the gateway', () => {
  it('images.generate n 4 gives the grid’s four images at Midjourney’s 16:9 size; the prompt carries --ar and the version flag', async () => {
    const { gw, sim } = await proxy.one();
    const answer = await gw.client.images.generate({
      model: 'midjourney-v7',
      prompt: 'a lighthouse in a storm',
      size: '1456x816' as never,
      n: 4,
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(4);
    for (const image of answer.data ?? []) expect(await describeImage(bytesOf(image.b64_json))).toEqual({ format: 'png', width: 1456, height: 816 });
    for (const [index, image] of (answer.data ?? []).entries()) {
      expect((await pixels(bytesOf(image.b64_json))).equals(await quarterOfGrid(sim, index, 1456, 816)), `image ${index + 1} is quarter U${index + 1}`).toBe(
        true,
      );
    }
    expect(sim.sim.bodies(IMAGINE)).toEqual([{ prompt: 'a lighthouse in a storm --ar 16:9 --v 7' }]);
    expect(sim.sim.requests.find((r) => r.path === IMAGINE)?.headers['mj-api-secret']).toBe(SECRET);
    expect([sim.sim.imagineSubmits, sim.sim.actionSubmits]).toEqual([1, 0]);
  });

  it('n 1 on `midjourney` (the account’s version): the first quarter, square, the prompt as written; jpeg converted by the gateway', async () => {
    const { gw, sim } = await proxy.one();
    const answer = await gw.client.images.generate({
      model: 'midjourney',
      prompt: 'a koi pond --stylize 250',
      output_format: 'jpeg',
      response_format: 'b64_json',
    } as never);
    const data = (answer as { data: { b64_json: string }[] }).data;
    expect(data).toHaveLength(1);
    expect(await describeImage(bytesOf(data[0]?.b64_json))).toEqual({ format: 'jpeg', width: 1024, height: 1024 });
    expect(sim.sim.bodies(IMAGINE)).toEqual([{ prompt: 'a koi pond --stylize 250' }]);
  });

  it('niji-6 sends --niji 6; a prompt that already says the model’s flag and the size’s --ar does not get them twice', async () => {
    const { gw, sim } = await proxy.one();
    await gw.client.images.generate({ model: 'niji-6', prompt: 'a fox spirit' });
    await gw.client.images.generate({ model: 'niji-6', prompt: 'a fox spirit --ar 2:3 --niji 6', size: '896x1344' as never });
    expect(sim.sim.bodies(IMAGINE).map((b) => b.prompt)).toEqual(['a fox spirit --niji 6', 'a fox spirit --ar 2:3 --niji 6']);
  });
});

describe('quality hd: the grid’s own upscales, one more upstream job per image', () => {
  it('plus API: U1 and U2 by the grid’s buttons (/submit/action with their customId); the images are those quarters', async () => {
    const { gw, sim } = await proxy.one();
    const answer = await gw.client.images.generate({ model: 'midjourney-v7', prompt: 'a red bicycle', quality: 'hd', n: 2, response_format: 'b64_json' });
    expect(answer.data).toHaveLength(2);
    for (const [index, image] of (answer.data ?? []).entries()) {
      expect(await describeImage(bytesOf(image.b64_json))).toEqual({ format: 'png', width: 1024, height: 1024 });
      expect((await pixels(bytesOf(image.b64_json))).equals(await quarterOfGrid(sim, index, 1024, 1024))).toBe(true);
    }
    const grid = sim.sim.requests.find((r) => r.path.endsWith('/fetch'))?.path.split('/')[3];
    const actions = sim.sim.bodies('/mj/submit/action');
    expect(actions).toHaveLength(2);
    expect(actions.map((a) => a.taskId)).toEqual([grid, grid]);
    expect(actions.map((a) => String(a.customId).replace(/::[^:]+$/, ''))).toEqual(['MJ::JOB::upsample::1', 'MJ::JOB::upsample::2']);
    expect([sim.sim.imagineSubmits, sim.sim.upscaleJobs]).toEqual([1, 2]);
  });

  it('novicezk’s proxy (no buttons): /submit/change {taskId, action: UPSCALE, index}', async () => {
    const { gw, sim } = await proxy.one({ flavour: 'classic' });
    const answer = await gw.client.images.generate({ model: 'midjourney', prompt: 'a red bicycle', quality: 'hd', n: 3, size: '1232x928' as never });
    expect(answer.data).toHaveLength(3);
    expect(sim.sim.bodies('/mj/submit/change').map((c) => [c.action, c.index])).toEqual([
      ['UPSCALE', 1],
      ['UPSCALE', 2],
      ['UPSCALE', 3],
    ]);
    expect(sim.sim.bodies('/mj/submit/action')).toHaveLength(0);
  });

  it('the proxy’s image URLs expire (Discord’s CDN): the gateway’s links still serve the images', async () => {
    const { gw, sim } = await proxy.one({ urlTtlMs: 1_000 });
    const answer = await gw.client.images.generate({ model: 'midjourney-v7', prompt: 'a harbour', quality: 'hd', n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await fetch(sim.sim.answeredUrls.at(-1) ?? '')).status).toBe(404);
    const link = answer.data?.[0]?.url ?? '';
    expect(link.startsWith(gw.origin)).toBe(true);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await describeImage(Buffer.from(await res.arrayBuffer()))).toEqual({ format: 'png', width: 1024, height: 1024 });
  });
});

describe('stream: keep-alive while the proxy works, then a completed event per image', () => {
  const slow = () => proxy.one({ taskDurationMs: 700 }, {}, { IMAGEGATE_STREAM_KEEPALIVE: '100ms' });

  it('quality standard, n 2: keep-alive comments while the grid is made, then two completed events, the grid’s first two quarters at the size asked', async () => {
    const { gw, sim } = await slow();
    const stream = await sdkGenerationStream(gw, { model: 'midjourney-v7', prompt: 'a red bicycle', size: '1232x928', n: 2 });
    const events = await keptAliveThenCompleted(stream, { type: 'image_generation.completed', count: 2, size: '1232x928' });
    for (const [index, event] of events.entries()) {
      expect((await pixels(bytesOf(event.b64_json))).equals(await quarterOfGrid(sim, index, 1232, 928))).toBe(true);
    }
    expect(sim.sim.imagineSubmits).toBe(1);
    await partialImagesRefused(gw, { model: 'midjourney', prompt: 'a tower', partial_images: 1 }, () => sim.sim.imagineSubmits);
  });

  it('an edit (image prompt) streams image_edit.completed', async () => {
    const { gw } = await slow();
    const stream = await sdkEditStream(gw, { model: 'midjourney-v7', prompt: 'the same scene at night', image: await plainPng(640, 480) });
    await keptAliveThenCompleted(stream, { type: 'image_edit.completed', decodesTo: { width: 1024, height: 1024 } });
  });

  it('Midjourney’s moderation failing the task after the stream opened: its error event, the credits back', async () => {
    const { gw, sim } = await slow();
    await streamRefusedAndRefunded(gw, { model: 'midjourney', prompt: 'a scene [sim:unsafe-output]' }, () => sim.sim.imagineSubmits);
  });
});

describe('edits are image prompts', () => {
  it('images.edit sends the image as a data URI in base64Array, with the prompt', async () => {
    const { gw, sim } = await proxy.one();
    const image = await plainPng(640, 480);
    const answer = await gw.client.images.edit({
      model: 'midjourney-v7',
      prompt: 'the same scene at night',
      image: await toFile(image, 'scene.png', { type: 'image/png' }),
      n: 2,
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(2);
    const body = sim.sim.bodies(IMAGINE)[0] as { prompt: string; base64Array: string[] };
    expect(body.prompt).toBe('the same scene at night --v 7');
    expect(body.base64Array).toHaveLength(1);
    expect(Buffer.from((body.base64Array[0] ?? '').replace(/^data:image\/png;base64,/, ''), 'base64').equals(image)).toBe(true);
  });

  it('a mask is 400 unsupported_parameter naming mask; nothing is sent', async () => {
    const { gw, sim } = await proxy.one();
    const png = await clearPng(256, 256);
    const err = await gw.client.images
      .edit({
        model: 'midjourney',
        prompt: 'fill it',
        image: await toFile(png, 'in.png', { type: 'image/png' }),
        mask: await toFile(png, 'mask.png', { type: 'image/png' }),
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'mask', code: 'unsupported_parameter' });
    expect(sim.sim.requests).toHaveLength(0);
  });
});

describe('the prompt’s own flags', () => {
  it.each([
    ['an --ar other than the size’s', { model: 'midjourney', prompt: 'a tower --ar 16:9' }, /--ar 16:9 contradicts size 1024x1024 \(1:1\): send size 1456x816/],
    ['a version other than the model’s', { model: 'midjourney-v7', prompt: 'a tower --niji 6' }, /--niji 6 contradicts the model midjourney-v7/],
    ['--repeat', { model: 'midjourney', prompt: 'a tower --repeat 3' }, /one request is one Midjourney imagine/],
  ])('%s: 400 invalid_value naming prompt, nothing sent', async (_what, body, message) => {
    const { gw, sim } = await proxy.one();
    const res = await postJson(gw, '/v1/images/generations', body);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'prompt', code: 'invalid_value', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toMatch(message);
    expect(sim.sim.requests).toHaveLength(0);
  });

  it('a channel’s model_map picks the version: a catalogue name (midjourney-v6.1) or a flag itself (--v 6)', async () => {
    const sim = await proxy.sim();
    const gw = await gatewayWith([
      proxy.channel('mj', sim, { model_map: { 'midjourney-v7': { upstream_model: 'midjourney-v6.1' }, midjourney: { upstream_model: '--v 6' } } }),
    ]);
    await gw.client.images.generate({ model: 'midjourney-v7', prompt: 'a mill' });
    await gw.client.images.generate({ model: 'midjourney', prompt: 'a mill' });
    expect(sim.sim.bodies(IMAGINE).map((b) => b.prompt)).toEqual(['a mill --v 6.1', 'a mill --v 6']);
  });

  it('on `midjourney` a prompt’s version flag is the caller’s choice, passed as written', async () => {
    const { gw, sim } = await proxy.one();
    await gw.client.images.generate({ model: 'midjourney', prompt: 'a tower —v 6.1 --ar 4:3', size: '1232x928' as never });
    expect(sim.sim.bodies(IMAGINE)).toEqual([{ prompt: 'a tower —v 6.1 --ar 4:3' }]);
  });

  it.each([
    ['style', { style: 'vivid' }],
    ['background', { background: 'transparent' }],
    ['watermark', { watermark: false }],
    ['seed', { seed: 42 }],
  ])('%s: 400 unsupported_parameter, nothing sent', async (param, extra) => {
    const { gw, sim } = await proxy.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'midjourney', prompt: 'a tower', ...extra });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param, code: 'unsupported_parameter' } });
    expect(sim.sim.requests).toHaveLength(0);
  });

  it('n 5 is more than one grid: 400 naming n', async () => {
    const { gw, sim } = await proxy.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'midjourney', prompt: 'a tower', n: 5 });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'n' } });
    expect(sim.sim.requests).toHaveLength(0);
  });
});

describe('the task dialects: a task per imagine, polled by the worker', () => {
  it("new-api's async dialect: submitted, polled, succeeded with the four images' links", async () => {
    const { gw, sim } = await proxy.one();
    const view = await newApiAsync(gw, { model: 'midjourney-v6.1', prompt: 'a quiet forest', n: 4, size: '816x1456' });
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(view?.image_urls).toHaveLength(4);
    expect(await describeImageAt(view?.image_urls[3])).toEqual({ format: 'png', width: 816, height: 1456 });
    expect(sim.sim.bodies(IMAGINE)).toEqual([{ prompt: 'a quiet forest --ar 9:16 --v 6.1' }]);
  });

  it('the task API dialect: aspect_ratio 3:2 is Midjourney’s 1344x896 (--ar 3:2); a ratio the dialect does not know is a 400, nothing sent', async () => {
    const { gw, sim } = await proxy.one();
    const view = await taskApi(gw, { model: 'midjourney-v7', prompt: 'a wide valley', aspect_ratio: '3:2' });
    expect(view?.state, view?.failMsg ?? '').toBe('completed');
    expect(sim.sim.bodies(IMAGINE).at(-1)).toEqual({ prompt: 'a wide valley --ar 3:2 --v 7' });
    expect(await describeImageAt(view?.resultUrls?.[0])).toEqual({ format: 'png', width: 1344, height: 896 });
    const before = sim.sim.requests.length;
    const refused = await fetch(`${gw.origin}/api/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'midjourney-v7', prompt: 'a wide valley', aspect_ratio: '5:3' }),
    });
    expect(((await refused.json()) as { code: number }).code).toBe(400);
    expect(sim.sim.requests.length).toBe(before);
  });
});

describe('a task stopped mid-way resumes its stored job, submitting nothing twice', () => {
  /** Gateways on one database directory, each able to take over the last one's task. */
  const restartable = (sim: RunningMidjourneyProxySimulator) => sharedDatabaseEnv([proxy.channel('mj', sim)]);

  it('quality standard: stopped while the grid is drawn, the next gateway polls the stored imagine and splits it', async () => {
    const sim = await proxy.sim();
    sim.sim.hold('imagine');
    const env = await restartable(sim);
    const first = await startGateway(env);
    const id = await submitTask(first, { model: 'midjourney-v7', prompt: 'a slow sunrise', n: 2 });
    await expect.poll(() => storedJob(first.origin, id), { timeout: 10_000 }).toMatch(/^split:2:\d+$/);
    await expect.poll(() => sim.sim.polls, { timeout: 10_000 }).toBeGreaterThan(0);
    await first.close();
    sim.sim.release();
    const second = later(await startGateway(env));
    const view = await newApiTask(second, id, first.apiKey);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(view?.image_urls).toHaveLength(2);
    expect([sim.sim.imagineSubmits, sim.sim.actionSubmits]).toEqual([1, 0]);
  }, 60_000);

  it('quality hd: stopped while U2’s answer is awaited (made upstream, not stored): U1 is not asked again, U2 is answered by the proxy’s code 21', async () => {
    const sim = await proxy.sim();
    const env = await restartable(sim);
    sim.sim.hold('upscale');
    const first = await startGateway(env);
    // U1 answers, U2 is made but its answer never comes.
    sim.sim.hangNextActions(1, 1);
    const id = await submitTask(first, { model: 'midjourney-v7', prompt: 'three boats', quality: 'hd', n: 3 });
    await expect.poll(() => sim.sim.upscaleJobs, { timeout: 10_000 }).toBe(2);
    await expect.poll(() => storedJob(first.origin, id), { timeout: 10_000 }).toMatch(/^hd:3:\d+:U1=\d+$/);
    await first.close();
    sim.sim.release();
    const second = later(await startGateway(env));
    const view = await newApiTask(second, id, first.apiKey);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(view?.image_urls).toHaveLength(3);
    expect(await storedJob(second.origin, id)).toMatch(/^hd:3:\d+:U1=\d+:U2=\d+:U3=\d+$/);
    const asked = sim.sim.bodies('/mj/submit/action').map((a) => String(a.customId).split('::')[3]);
    expect(asked).toEqual(['1', '2', '2', '3']);
    expect([sim.sim.imagineSubmits, sim.sim.upscaleJobs]).toEqual([1, 3]);
  }, 60_000);

  it('a stored job the proxy no longer knows (restarted without its task store) fails the task with that reason, nothing resubmitted', async () => {
    const sim = await proxy.sim();
    sim.sim.hold('imagine');
    const env = await restartable(sim);
    const first = await startGateway(env);
    const id = await submitTask(first, { model: 'midjourney', prompt: 'a lost grid' });
    await expect.poll(() => storedJob(first.origin, id), { timeout: 10_000 }).toMatch(/^split:1:\d+$/);
    await first.close();
    sim.sim.forget();
    const second = later(await startGateway(env));
    const view = await newApiTask(second, id, first.apiKey);
    expect(view?.status).toBe('failed');
    expect(view?.fail_reason).toMatch(/does not know task \d+/);
    expect(sim.sim.imagineSubmits).toBe(1);
  }, 60_000);

  it('SIGKILL while the grid is polled, and again while its upscales are: a third gateway finishes the task with one imagine and one job per upscale', async () => {
    const sim = await proxy.sim({ taskDurationMs: 200 });
    sim.sim.hold();
    const gateways = await crashingGateways([proxy.channel('mj', sim)], { name: 'mj crash', credits: 1 });
    const crash = async () => {
      const polled = sim.sim.polls;
      await expect.poll(() => sim.sim.polls, { timeout: 30_000 }).toBeGreaterThan(polled + 1);
      await gateways.kill();
    };
    const id = await submitTask(gateways.caller(), { model: 'midjourney', prompt: 'a paper lantern', quality: 'hd', n: 2 });
    await expect.poll(() => storedJob(gateways.current.origin, id), { timeout: 60_000 }).toMatch(/^hd:2:\d+$/);
    await crash();
    // The grid finishes; its upscales, submitted by the resumed run, are held.
    sim.sim.release();
    sim.sim.hold('upscale');
    await gateways.restart();
    await expect.poll(() => storedJob(gateways.current.origin, id), { timeout: 60_000 }).toMatch(/^hd:2:\d+:U1=\d+:U2=\d+$/);
    await crash();
    sim.sim.release();
    await gateways.restart();
    const view = await newApiTask(gateways.caller(), id, gateways.apiKey, 2_400);
    expect(view?.status, view?.fail_reason).toBe('succeeded');
    expect(view?.image_urls).toHaveLength(2);
    expect([sim.sim.imagineSubmits, sim.sim.actionSubmits, sim.sim.upscaleJobs]).toEqual([1, 2, 2]);
    // Charged once, for two hd images ($0.075 each).
    const origin = gateways.current.origin;
    const ledger = (await adminJson(origin, 'GET', `/admin/api/keys/${gateways.keyId}/ledger`)).data as {
      kind: string;
      request_id: string | null;
    }[];
    expect(ledger.filter((e) => e.request_id === id).map((e) => e.kind)).toEqual(['reserve', 'release']);
    expect(Number((await adminJson(origin, 'GET', `/admin/api/keys/${gateways.keyId}`)).balance_micros)).toBe(1_000_000 - 2 * 75_000);
  }, 300_000); // three starts of a child gateway, each up to a minute or more on a busy machine
});

describe('the proxy’s refusals and failures', () => {
  it('code 24 (a banned word) is the client’s 400 content_policy_violation naming the word; nothing retried', async () => {
    const { gw, sim } = await proxy.one();
    const res = await postJson(gw, '/v1/images/generations', { model: 'midjourney', prompt: 'something [sim:unsafe]' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'content_policy_violation', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain('banned word: unsafe');
    expect(sim.sim.imagineSubmits).toBe(1);
  });

  it('Midjourney’s moderation failing the task is a content_policy_violation too; another failure is the task’s, with the proxy’s reason', async () => {
    const { gw, sim } = await proxy.one();
    const banned = await postJson(gw, '/v1/images/generations', { model: 'midjourney', prompt: 'a scene [sim:unsafe-output]' });
    expect(banned.status).toBe(400);
    expect(banned.json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect(errorMessage(banned)).toContain('Banned prompt detected');
    const failed = await postJson(gw, '/v1/images/generations', { model: 'midjourney', prompt: 'a scene [sim:fail]' });
    expect(failed.status).toBe(502);
    expect(failed.json).toMatchObject({ error: { code: 'upstream_task_failed' } });
    expect(errorMessage(failed)).toContain('[Invalid parameter]');
    expect(sim.sim.imagineSubmits).toBe(2);
  });

  it('code 23 (queue full) and code 3 (no account) fail over to the next channel; code 22 (queued) is a task like any', async () => {
    const full = await proxy.sim();
    const empty = await proxy.sim();
    const queued = await proxy.sim({ queueDepth: 3 });
    full.sim.enqueueCode({ code: 23, description: '队列已满，请稍后尝试' });
    empty.sim.enqueueCode({ code: 3, description: '无可用的账号实例' });
    const gw = await gatewayWith([
      proxy.channel('full', full, { priority: 20 }),
      proxy.channel('empty', empty, { priority: 10 }),
      proxy.channel('queued', queued),
    ]);
    const answer = await gw.client.images.generate({ model: 'midjourney', prompt: 'a harbour', response_format: 'b64_json' });
    expect(await describeImage(bytesOf(answer.data?.[0]?.b64_json))).toMatchObject({ format: 'png', width: 1024, height: 1024 });
    expect([full.sim.imagineSubmits, empty.sim.imagineSubmits, queued.sim.imagineSubmits]).toEqual([1, 1, 1]);
  });

  it('code 4 (the proxy’s validation) is the client’s 400 with its words, naming the field it speaks of; not failed over', async () => {
    const { gw, sim } = await proxy.one();
    sim.sim.enqueueCode({ code: 4, description: 'base64格式错误' });
    const res = await postJson(gw, '/v1/images/generations', { model: 'midjourney', prompt: 'a harbour' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'image', type: 'invalid_request_error' } });
    expect(errorMessage(res)).toContain('base64格式错误');
    expect(sim.sim.imagineSubmits).toBe(1);
  });

  it('a wrong mj-api-secret (401) disables that key; the next channel serves and the bad one is not tried again', async () => {
    await refusedKeyScenario(proxy, {
      refusing: { apiSecret: 'the-real-secret' },
      model: 'midjourney',
      name: 'wrong-secret',
      served: (s) => s.sim.imagineSubmits,
      asked: (s) => s.sim.requests.length,
    });
  });
});

describe('an upscale the proxy cannot take at once', () => {
  it('a full queue (code 23) for U1 is waited out: asked again, one job per upscale, the images delivered', async () => {
    const { gw, sim } = await proxy.one();
    sim.sim.enqueueCode({ code: 23, description: '队列已满，请稍后尝试', on: 'action' });
    const done = await gw.client.images.generate({ model: 'midjourney', prompt: 'two kites', quality: 'hd', n: 2, response_format: 'b64_json' });
    expect(done.data).toHaveLength(2);
    expect([sim.sim.imagineSubmits, sim.sim.actionSubmits, sim.sim.upscaleJobs]).toEqual([1, 3, 2]);
  });
});
