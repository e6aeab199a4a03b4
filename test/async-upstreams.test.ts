// The two async upstream kinds (new-api's async mode; the task API), each
// driven over real HTTP against its simulator: submit, poll, generate, failures, resume.
import { decodeBase64 } from '../src/core/image-bytes.js';
import { NO_INPUTS } from '../src/core/image-input.js';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import type { Channel, ChannelCall, ChannelKind } from '../src/core/channel.js';
import type { ImageJob, ProviderResult, UpstreamImage } from '../src/core/job.js';
import { BUILTIN_MODELS } from '../src/core/models.js';
import { UpstreamFailure } from '../src/core/upstream-failure.js';
import { pollUntilDone, submitAndPoll } from '../src/providers/async-polling.js';
import { NewApiAsyncProvider } from '../src/providers/newapi-async/provider.js';
import { parseProgress, parseSubmitResponse, parseTaskResponse } from '../src/providers/newapi-async/response.js';
import type { AsyncProvider, UpstreamTaskState } from '../src/providers/provider.js';
import { aspectRatioForSize } from '../src/providers/task-api/aspect-ratio.js';
import { TaskApiProvider } from '../src/providers/task-api/provider.js';
import { parseTaskResponse as parseTaskApiTask } from '../src/providers/task-api/response.js';
import { HttpTransport } from '../src/providers/transport.js';
import { startNewApiAsyncSimulator, type NewApiAsyncSimulatorOptions } from '../sim/newapi-async.js';
import { startTaskApiSimulator, type TaskApiSimulatorOptions } from '../sim/task-api.js';
import { upstreamFailureOf } from './helpers/upstream-test-kit.js';

const KEY = 'sk-async-upstream-key';
const transport = new HttpTransport();
const toClose: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(toClose.splice(0).map((close) => close()));
});
afterAll(() => transport.close());

function spec(id: string) {
  const found = BUILTIN_MODELS.find((m) => m.id === id);
  if (found === undefined) throw new Error(`no model ${id}`);
  return found;
}

function makeJob(overrides: Partial<ImageJob> = {}): ImageJob {
  return {
    id: `req_${Math.random().toString(36).slice(2)}`,
    operation: 'generate',
    model: spec('gpt-image-2'),
    prompt: 'a lighthouse at dusk',
    inputs: NO_INPUTS,
    n: 1,
    size: '1024x1024',
    quality: 'auto',
    responseFormat: 'url',
    passthrough: {},
    ...overrides,
  };
}

function makeCall(kind: ChannelKind, baseUrl: string, apiKey = KEY, overrides: Partial<Channel> = {}): ChannelCall {
  const channel: Channel = {
    id: `${kind}-test`,
    name: `${kind} test`,
    kind,
    baseUrl,
    apiKeys: [apiKey],
    models: '*',
    modelMap: {},
    priority: 0,
    weight: 1,
    maxConcurrent: 0,
    timeoutMs: 10_000,
    headers: {},
    enabled: true,
    pollIntervalMs: 50,
    ...overrides,
  };
  return { channel, apiKey };
}

const signal = (): AbortSignal => new AbortController().signal;

/** Downloads (or decodes) an upstream image and reports what it really is. */
async function imageFacts(image: UpstreamImage | undefined): Promise<{ format?: string; width?: number; height?: number }> {
  if (image === undefined) throw new Error('no image');
  const bytes = image.kind === 'b64' ? decodeBase64(image.base64) : Buffer.from(await (await fetch(image.url)).arrayBuffer());
  const meta = await sharp(bytes).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}

/**
 * The simulators place a task on its timeline by the wall clock. A test that must see each phase
 * steps that clock through them (only Date is faked; timers and sockets run as ever) instead of
 * hoping its polls land in each window: on a busy machine one poll can take longer than a phase.
 * `at(ms)` sets the clock to that long after the start, where a task submitted in `run` begins.
 */
async function withSteppedClock<T>(run: (at: (offsetMs: number) => void) => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    const start = Date.now();
    return await run((offsetMs) => vi.setSystemTime(start + offsetMs));
  } finally {
    vi.useRealTimers();
  }
}

/**
 * The task's state at each moment (`at`, ms after submission), then, from the last, until it is
 * final: an upstream that renders in the background may finish a little after its clock says.
 */
async function pollAt(
  provider: AsyncProvider,
  id: string,
  call: ChannelCall,
  at: (offsetMs: number) => void,
  offsets: readonly number[],
): Promise<UpstreamTaskState[]> {
  const states: UpstreamTaskState[] = [];
  for (const offset of offsets) {
    at(offset);
    states.push(await provider.poll(id, call, signal()));
  }
  for (let i = 0; i < 400 && states.at(-1)?.status !== 'succeeded' && states.at(-1)?.status !== 'failed'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 15));
    states.push(await provider.poll(id, call, signal()));
  }
  return states;
}

/** Consecutive duplicates removed. */
function runs<T>(values: readonly T[]): T[] {
  return values.filter((v, i) => i === 0 || values[i - 1] !== v);
}

function imagesOf(state: UpstreamTaskState | undefined): ProviderResult {
  if (state?.status !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(state)}`);
  return state.result;
}

/** What a shared test needs from either describe's `start()`. */
interface AsyncUpstream {
  sim: { failPolls(count: number): void; readonly polls: number; readonly submits: number };
  call: ChannelCall;
  provider: AsyncProvider;
}

/** Both task simulators take the same poll faults; both providers must ride them out alike. */
function itSurvivesTransientPollErrors(start: () => Promise<AsyncUpstream>): void {
  it('survives transient 500s on the task query', async () => {
    const { sim, call, provider } = await start();
    sim.failPolls(3);
    const result = await provider.generate(makeJob(), call, signal());
    expect(result.images).toHaveLength(1);
    expect(sim.polls).toBeGreaterThanOrEqual(4);
    expect(sim.submits).toBe(1);
  });
}

/** The channel's timeout bounds each request; the call's deadline bounds the polling. */
function itPollsUntilTheDeadline(start: (opts: { taskDurationMs: number }) => Promise<AsyncUpstream>): void {
  it('polls a task longer than the channel timeout until the call deadline, submitting once', async () => {
    const { sim, call, provider } = await start({ taskDurationMs: 1_500 });
    const shortTimeout: ChannelCall = { ...call, channel: { ...call.channel, timeoutMs: 500 }, deadlineAt: Date.now() + 10_000 };
    const result = await provider.generate(makeJob(), shortTimeout, signal());
    expect(result.images).toHaveLength(1);
    expect(sim.submits).toBe(1);
  });
}

// ---------------------------------------------------------------------------

describe('new-api async mode', () => {
  async function start(opts: NewApiAsyncSimulatorOptions = {}) {
    const running = await startNewApiAsyncSimulator({ apiKey: KEY, ...opts });
    toClose.push(running.close);
    return { ...running, call: makeCall('newapi-async', running.baseURL), provider: new NewApiAsyncProvider(transport) };
  }

  it('submits once with the async header, the key and the OpenAI body', async () => {
    const { sim, call, provider } = await start();
    const { upstreamTaskId } = await provider.submit(makeJob({ watermark: false }), call, signal());
    expect(upstreamTaskId).toMatch(/^task_/);
    expect(sim.submits).toBe(1);
    expect(sim.taskCount).toBe(1);
    const req = sim.requests[0];
    expect(req?.headers['x-new-api-async-task']).toBe('true');
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req?.json).toMatchObject({ model: 'gpt-image-2', prompt: 'a lighthouse at dusk', n: 1, size: '1024x1024', watermark: false });
  });

  it('reports submitted -> queued -> in_progress -> succeeded on the wire', async () => {
    const { origin, call, provider } = await start({ taskDurationMs: 1000 });
    const seen = await withSteppedClock(async (at) => {
      const { upstreamTaskId } = await provider.submit(makeJob(), call, signal());
      const views: { status: string; progress: string }[] = [];
      // Submitted for the first 10% of the task's time, queued until 25%, then in progress.
      for (const offset of [0, 99, 100, 249, 250, 500, 750, 999, 1000, 1500]) {
        at(offset);
        const res = await fetch(`${origin}/v1/images/tasks/${upstreamTaskId}`, { headers: { authorization: `Bearer ${KEY}` } });
        type View = { status: string; progress: string; image_urls: string[]; result_url: string };
        const body = (await res.json()) as { code: string; data: View };
        expect(body.code).toBe('success');
        views.push({ status: body.data.status, progress: body.data.progress });
        if (body.data.status === 'succeeded') {
          expect(body.data.image_urls).toHaveLength(1);
          expect(body.data.result_url).toBe(body.data.image_urls[0]);
        }
      }
      return views;
    });
    expect(seen.map((s) => s.status)).toEqual([
      'submitted',
      'submitted',
      'queued',
      'queued',
      'in_progress',
      'in_progress',
      'in_progress',
      'in_progress',
      'succeeded',
      'succeeded',
    ]);
    const progress = seen.map((s) => parseProgress(s.progress) ?? -1);
    expect(progress).toEqual([0, 0, 0, 0, 10, 36, 63, 89, 100, 100]); // never goes backwards
  });

  it('maps the task to pending/running with progress, then to images that are real', async () => {
    const { call, provider } = await start({ taskDurationMs: 600 });
    const states = await withSteppedClock(async (at) => {
      const { upstreamTaskId } = await provider.submit(makeJob(), call, signal());
      return pollAt(provider, upstreamTaskId, call, at, [0, 100, 149, 150, 300, 599, 600]);
    });
    expect(runs(states.map((s) => s.status))).toEqual(['pending', 'running', 'succeeded']);
    expect(states.filter((s) => s.status === 'running')).toHaveLength(3);
    const running = states.filter((s) => s.status === 'running');
    expect(running.every((s) => 'progress' in s && typeof s.progress === 'number' && s.progress >= 10 && s.progress < 100)).toBe(true);
    const result = imagesOf(states.at(-1));
    expect(result.images[0]?.kind).toBe('url');
    expect(await imageFacts(result.images[0])).toEqual({ format: 'png', width: 1024, height: 1024 });
  });

  it('generate() submits once and returns the finished images', async () => {
    const { sim, call, provider } = await start();
    const result = await provider.generate(makeJob({ size: '1536x1024' }), call, signal());
    expect(result.images).toHaveLength(1);
    expect(await imageFacts(result.images[0])).toEqual({ format: 'png', width: 1536, height: 1024 });
    expect(sim.submits).toBe(1);
  });

  it('takes inline b64 images from the task when the upstream gives them', async () => {
    const { call, provider } = await start({ inlineResults: true });
    const result = await provider.generate(makeJob(), call, signal());
    expect(result.images[0]?.kind).toBe('b64');
    expect(await imageFacts(result.images[0])).toEqual({ format: 'png', width: 1024, height: 1024 });
  });

  it('parses the task shapes the simulator does not produce', () => {
    const res = (body: unknown, status = 200) => ({ status, headers: {}, body: Buffer.from(JSON.stringify(body)) });
    const ok = (data: unknown) => res({ code: 'success', message: 'success', data });
    const png = 'iVBORw0KGgo=';
    // An embedded OpenAI answer: its images win over the URLs, and its usage comes along.
    const usage = { total_tokens: 7, input_tokens: 1, output_tokens: 6 };
    const embedded = parseTaskResponse(ok({ status: 'succeeded', image_urls: ['https://cdn/x.png'], data: { data: [{ b64_json: png }], usage } }));
    expect(imagesOf(embedded)).toEqual({ images: [{ kind: 'b64', base64: [Buffer.from(png)] }], usage });
    // Only result_url: one url image.
    expect(imagesOf(parseTaskResponse(ok({ status: 'succeeded', image_urls: [], result_url: 'https://cdn/y.png' }))).images).toEqual([
      { kind: 'url', url: 'https://cdn/y.png' },
    ]);
    expect(parseTaskResponse(ok({ status: 'failed', fail_reason: '' }))).toEqual({ status: 'failed', reason: 'upstream task failed' });
    const kinds = [
      ok({ status: 'succeeded', image_urls: [], result_url: '' }),
      ok({ status: 'weird' }),
      res({ code: 'error', message: 'nope', data: null }),
      res('not an object'),
    ].map((r) => {
      try {
        parseTaskResponse(r);
        return 'no error';
      } catch (err) {
        return err instanceof UpstreamFailure ? err.kind : 'other';
      }
    });
    expect(kinds).toEqual(['protocol', 'protocol', 'protocol', 'protocol']);
    // A relay that ignores the async header answers images: no task to poll.
    const sync = (() => {
      try {
        return parseSubmitResponse(res({ created: 1, data: [{ url: 'https://cdn/z.png' }] }));
      } catch (err) {
        return err instanceof UpstreamFailure ? err.message : 'other';
      }
    })();
    expect(sync).toMatch(/ignored the async header/);
  });

  it('a failed task is task_failed with the upstream reason, not retryable', async () => {
    const { sim, call, provider } = await start();
    sim.failNext('content moderation: prompt rejected');
    const err = await upstreamFailureOf(provider.generate(makeJob(), call, signal()));
    expect(err.kind).toBe('task_failed');
    expect(err.message).toBe('content moderation: prompt rejected');
    expect(err.retryable).toBe(false);
    expect(sim.submits).toBe(1);
  });

  itSurvivesTransientPollErrors(start);
  itPollsUntilTheDeadline(start);

  it('a single poll 500 surfaces as a retryable http failure', async () => {
    const { sim, call, provider } = await start();
    const { upstreamTaskId } = await provider.submit(makeJob(), call, signal());
    sim.failPolls(1, 503);
    const err = await upstreamFailureOf(provider.poll(upstreamTaskId, call, signal()));
    expect([err.kind, err.status, err.retryable]).toEqual(['http', 503, true]);
  });

  it('gives up with timeout when the deadline is shorter than the task', async () => {
    const { sim, call, provider } = await start({ taskDurationMs: 5000 });
    const started = Date.now();
    const err = await upstreamFailureOf(
      submitAndPoll(provider, makeJob(), call, signal(), {}, { intervalMs: 50, maxIntervalMs: 100, backoff: 1.5, deadlineMs: 400 }),
    );
    expect(err.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(sim.submits).toBe(1);
  });

  it('resumes from the stored task id alone, without submitting again', async () => {
    const { sim, call, provider } = await start();
    const { upstreamTaskId } = await provider.submit(makeJob(), call, signal());
    // A fresh provider and transport: what a restarted gateway has.
    const restarted = new HttpTransport();
    try {
      const result = await pollUntilDone(new NewApiAsyncProvider(restarted), upstreamTaskId, call, signal());
      expect(await imageFacts(result.images[0])).toMatchObject({ format: 'png' });
    } finally {
      await restarted.close();
    }
    expect(sim.submits).toBe(1);
    expect(sim.taskCount).toBe(1);
  });

  it('a wrong key is a non-retryable 401 on submit and on poll', async () => {
    const { sim, baseURL, provider } = await start();
    const bad = makeCall('newapi-async', baseURL, 'sk-wrong');
    const err = await upstreamFailureOf(provider.submit(makeJob(), bad, signal()));
    expect([err.kind, err.status, err.retryable]).toEqual(['http', 401, false]);
    expect(err.upstreamError?.code).toBe('invalid_api_key');
    expect(sim.taskCount).toBe(0);
    const pollErr = await upstreamFailureOf(provider.poll('task_whatever', bad, signal()));
    expect(pollErr.status).toBe(401);
  });

  it('rejects at submit what the relay would reject, in OpenAI envelope', async () => {
    const { sim, call, provider } = await start();
    const err = await upstreamFailureOf(provider.submit(makeJob({ size: '1000x1000' }), call, signal()));
    expect([err.kind, err.status]).toEqual(['http', 400]);
    expect(err.upstreamError).toMatchObject({ code: 'invalid_value', param: 'size' });
    expect(sim.taskCount).toBe(0);
  });

  it('an unknown task id is a 404 task_not_exist', async () => {
    const { call, provider } = await start();
    const err = await upstreamFailureOf(provider.poll('task_nope', call, signal()));
    expect([err.kind, err.status]).toEqual(['http', 404]);
    expect(err.upstreamError).toEqual({ message: 'task_not_exist', code: 'task_not_exist' });
  });

  it('without the async header it is a plain OpenAI relay', async () => {
    const { sim, baseURL } = await start();
    const res = await fetch(`${baseURL}/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'gpt-image-2', prompt: 'sync', size: '1024x1024' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { url: string }[] };
    expect(await imageFacts({ kind: 'url', url: body.data[0]?.url ?? '' })).toMatchObject({ format: 'png', width: 1024 });
    expect(sim.submits).toBe(0);
  });

  it('parses progress strings', () => {
    expect([parseProgress('45%'), parseProgress('0%'), parseProgress('100%'), parseProgress(''), parseProgress(undefined)]).toEqual([
      45,
      0,
      100,
      undefined,
      undefined,
    ]);
  });
});

// ---------------------------------------------------------------------------

describe('task API', () => {
  async function start(opts: TaskApiSimulatorOptions = {}, channel: Partial<Channel> = {}) {
    const running = await startTaskApiSimulator({ apiKey: KEY, ...opts });
    toClose.push(running.close);
    return { ...running, call: makeCall('task-api', running.origin, KEY, channel), provider: new TaskApiProvider(transport) };
  }

  it('submits once with the task API body: mapped model, aspect ratio, passthrough fields, no n', async () => {
    const { sim, call, provider } = await start({}, { modelMap: { 'gpt-image-2': { upstreamModel: 'gpt-image-2-beta' } } });
    const job = makeJob({
      size: '3840x2160',
      n: 2,
      quality: 'high',
      passthrough: { nsfw_checker: true, image_urls: ['https://example.com/a.png'], callback_url: 'https://evil.example/hook' },
    });
    const { upstreamTaskId } = await provider.submit(job, call, signal());
    expect(upstreamTaskId).toMatch(/^cl[0-9a-f]+$/);
    expect(sim.submits).toBe(1);
    expect(sim.requests[0]?.path).toBe('/api/v1/images/generations');
    expect(sim.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sim.requests[0]?.json).toEqual({
      model: 'gpt-image-2-beta',
      prompt: 'a lighthouse at dusk',
      aspect_ratio: '16:9',
      nsfw_checker: true,
      image_urls: ['https://example.com/a.png'],
    });
  });

  it('reports pending -> processing -> completed with ms timestamps on the wire', async () => {
    const { origin, call, provider } = await start({ taskDurationMs: 800 });
    const states: string[] = [];
    let last: { createTime?: number; completeTime?: number; resultUrls?: string[] } = {};
    await withSteppedClock(async (at) => {
      const { upstreamTaskId } = await provider.submit(makeJob(), call, signal());
      const look = async () => {
        const res = await fetch(`${origin}/api/v1/images/generations?task_id=${upstreamTaskId}`, {
          headers: { authorization: `Bearer ${KEY}` },
        });
        type View = { state: string; createTime?: number; completeTime?: number; resultUrls?: string[] };
        const body = (await res.json()) as { code: number; data: View };
        expect(body.code).toBe(200);
        states.push(body.data.state);
        last = body.data;
      };
      // Pending for the first 20% of the task's time; completed once its time is up and its images exist.
      for (const offset of [0, 159, 160, 500, 799, 800]) {
        at(offset);
        await look();
      }
      for (let i = 0; i < 300 && states.at(-1) !== 'completed'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 15));
        await look();
      }
    });
    expect(states.slice(0, 5)).toEqual(['pending', 'pending', 'processing', 'processing', 'processing']);
    expect(runs(states)).toEqual(['pending', 'processing', 'completed']);
    expect(last.createTime).toBeGreaterThan(1_600_000_000_000); // ms, not s
    expect((last.completeTime ?? 0) - (last.createTime ?? 0)).toBeGreaterThanOrEqual(800);
    expect(last.resultUrls).toHaveLength(1);
  });

  it('maps states for the poller and hosts real images', async () => {
    const { call, provider } = await start({ taskDurationMs: 500 });
    const states = await withSteppedClock(async (at) => {
      const { upstreamTaskId } = await provider.submit(makeJob({ size: '1024x1536' }), call, signal());
      return pollAt(provider, upstreamTaskId, call, at, [0, 99, 100, 300, 499, 500]);
    });
    expect(states.slice(0, 5).map((s) => s.status)).toEqual(['pending', 'pending', 'running', 'running', 'running']);
    expect(runs(states.map((s) => s.status))).toEqual(['pending', 'running', 'succeeded']);
    const result = imagesOf(states.at(-1));
    expect(await imageFacts(result.images[0])).toEqual({ format: 'png', width: 1024, height: 1536 }); // 2:3
  });

  it('generate() submits once and returns the finished images', async () => {
    const { sim, call, provider } = await start();
    const result = await provider.generate(makeJob({ size: '2048x1152' }), call, signal());
    expect(result.images).toHaveLength(1);
    expect(await imageFacts(result.images[0])).toEqual({ format: 'png', width: 1536, height: 864 }); // 16:9
    expect(sim.submits).toBe(1);
  });

  it('a failed task is task_failed with failMsg', async () => {
    const { sim, call, provider } = await start();
    sim.failNext('Content policy violation');
    const err = await upstreamFailureOf(provider.generate(makeJob(), call, signal()));
    expect([err.kind, err.message, err.retryable]).toEqual(['task_failed', 'Content policy violation', false]);
    expect(sim.submits).toBe(1);
  });

  itSurvivesTransientPollErrors(start);
  itPollsUntilTheDeadline(start);

  it('gives up with timeout when the deadline is shorter than the task', async () => {
    const { sim, call, provider } = await start({ taskDurationMs: 5000 });
    const err = await upstreamFailureOf(
      submitAndPoll(provider, makeJob(), call, signal(), {}, { intervalMs: 50, maxIntervalMs: 100, backoff: 1.5, deadlineMs: 400 }),
    );
    expect(err.kind).toBe('timeout');
    expect(sim.submits).toBe(1);
  });

  it('resumes from the stored task id alone, without submitting again', async () => {
    const { sim, call, provider } = await start();
    const { upstreamTaskId } = await provider.submit(makeJob(), call, signal());
    await new Promise((resolve) => setTimeout(resolve, 400)); // the "restart": the task finished meanwhile
    const result = await pollUntilDone(new TaskApiProvider(transport), upstreamTaskId, call, signal());
    expect(await imageFacts(result.images[0])).toMatchObject({ format: 'png' });
    expect(sim.submits).toBe(1);
    expect(sim.taskCount).toBe(1);
  });

  it('a wrong key is a non-retryable 401 carrying code and msg', async () => {
    const { sim, origin, provider } = await start();
    const err = await upstreamFailureOf(provider.submit(makeJob(), makeCall('task-api', origin, 'sk-wrong'), signal()));
    expect([err.kind, err.status, err.retryable]).toEqual(['http', 401, false]);
    expect(err.upstreamError).toEqual({ message: 'Invalid API key', code: '401' });
    expect(sim.taskCount).toBe(0);
  });

  it('out of credits is a 402 http failure', async () => {
    const { sim, call, provider } = await start({ credits: 1 });
    await provider.submit(makeJob(), call, signal());
    const err = await upstreamFailureOf(provider.submit(makeJob(), call, signal()));
    expect([err.kind, err.status, err.upstreamError]).toEqual(['http', 402, { message: 'Insufficient credits', code: '402' }]);
    expect(sim.taskCount).toBe(1);
  });

  it('validates aspect_ratio and the 16-reference limit with 400s', async () => {
    const { sim, call, provider } = await start({}, { modelMap: { 'gpt-image-2': { params: { aspect_ratio: '5:4' } } } });
    const ratioErr = await upstreamFailureOf(provider.submit(makeJob(), call, signal()));
    expect([ratioErr.status, ratioErr.upstreamError?.message]).toEqual([400, expect.stringContaining('Invalid aspect_ratio')]);
    const plain = makeCall('task-api', call.channel.baseUrl);
    const urls = Array.from({ length: 17 }, (_, i) => `https://example.com/${i}.png`);
    const refsErr = await upstreamFailureOf(provider.submit(makeJob({ passthrough: { image_urls: urls } }), plain, signal()));
    expect([refsErr.status, refsErr.upstreamError?.message]).toEqual([400, 'image_urls accepts at most 16 images']);
    await provider.submit(makeJob({ passthrough: { image_urls: urls.slice(0, 16) } }), plain, signal());
    expect(sim.taskCount).toBe(1);
  });

  it('an unknown task id is a 404', async () => {
    const { call, provider } = await start();
    const err = await upstreamFailureOf(provider.poll('cl-missing', call, signal()));
    expect([err.kind, err.status, err.upstreamError?.message]).toEqual(['http', 404, 'Task not found']);
  });

  it('parses the answer shapes the simulator does not produce', () => {
    const res = (body: unknown, status = 200) => ({ status, headers: {}, body: Buffer.from(JSON.stringify(body)) });
    const outcome = (r: ReturnType<typeof res>): unknown => {
      try {
        return parseTaskApiTask(r);
      } catch (err) {
        return err instanceof UpstreamFailure ? [err.kind, err.status ?? null] : 'other';
      }
    };
    // HTTP 200 with an error code inside: the code is the status.
    expect(outcome(res({ code: 402, msg: 'Insufficient credits' }))).toEqual(['http', 402]);
    expect(outcome(res({ code: 'oops', msg: 'x' }))).toEqual(['protocol', null]);
    expect(outcome(res({ code: 200, msg: 'success', data: { state: 'completed', resultUrls: null } }))).toEqual(['protocol', null]);
    expect(outcome(res({ code: 200, msg: 'success', data: { state: 'failed', failMsg: 'nsfw', failCode: 'NSFW' } }))).toEqual({
      status: 'failed',
      reason: 'nsfw',
      code: 'NSFW',
    });
    expect(outcome(res({ code: 200, msg: 'success', data: { state: 'failed', failMsg: null } }))).toEqual({
      status: 'failed',
      reason: 'upstream task failed',
    });
  });

  it('maps OpenAI sizes to the nearest supported aspect ratio', () => {
    const table: Record<string, string> = {
      auto: '1:1',
      '1024x1024': '1:1',
      '2048x2048': '1:1',
      '1536x1024': '3:2',
      '1024x1536': '2:3',
      '1792x1024': '16:9',
      '1024x1792': '9:16',
      '2048x1152': '16:9',
      '3840x2160': '16:9',
      '2160x3840': '9:16',
      '1280x960': '4:3',
      '960x1280': '3:4',
      '1280x1024': '4:3',
      '3072x1024': '16:9',
      nonsense: '1:1',
    };
    for (const [size, ratio] of Object.entries(table)) expect([size, aspectRatioForSize(size)]).toEqual([size, ratio]);
  });
});
