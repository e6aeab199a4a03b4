/**
 * Midjourney through a midjourney-proxy server (channel kind `midjourney`): novicezk's
 * midjourney-proxy, trueai-org's fork (the "plus" API), or a relay that exposes their routes
 * (new-api's Midjourney relay). base_url is where the proxy's `/mj` routes start: its origin, or a
 * relay's mode prefix (`https://relay.example/mj-fast`); the channel's key goes in `mj-api-secret`.
 *
 * A job is one imagine (`POST /mj/submit/imagine`), polled (`GET /mj/task/{id}/fetch`) until its
 * 2x2 grid is done; then, by quality (catalogue/midjourney.ts):
 * - standard: the grid is downloaded and cut in four here (grid.ts); the first n are the images;
 * - hd: U1..Un are submitted, by the grid's buttons (`POST /mj/submit/action {taskId, customId}`,
 *   trueai-org's API) or, from a proxy whose tasks carry none, `POST /mj/submit/change {taskId,
 *   action: UPSCALE, index}` (novicezk's), then polled; their image URLs are the images.
 * The proxy's URLs (Discord's CDN) expire: output/ stores the images as soon as they are handed
 * over. notifyHook is never sent: the gateway polls, with backoff, until the job's deadline.
 *
 * Durability: every submission is reported at once (hooks.onSubmitted) as the whole job so far
 * (job-state.ts), so a task stores it before polling on; `resume` polls what is stored and submits
 * only what is not. A proxy answers an upscale asked twice with the first one's id (code 21), so
 * even one submitted just before a crash, before its id was stored, is not a second job.
 */
import type { Channel, ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderHooks, ProviderResult, UpstreamImage } from '../../core/job.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { pollOptionsFor, pollUntil } from '../async-polling.js';
import { sendToChannel, type TaskRequest } from '../async-task-kit.js';
import { encodeParameters, refusalOf } from '../parameter-map.js';
import type { Provider } from '../provider.js';
import type { Transport } from '../transport.js';
import { splitGrid } from './grid.js';
import { decodeJob, encodeJob, type ImageMode, type MidjourneyJob } from './job-state.js';
import { MIDJOURNEY_IMAGINE } from './parameters.js';
import { promptRefusal } from './prompt.js';
import { parseSubmitAnswer, parseTaskAnswer, taskState, type ProxyTask } from './response.js';

type FinishedTask = ProxyTask & { imageUrl: string };

export class MidjourneyProxyProvider implements Provider {
  constructor(readonly transport: Transport) {}

  accepts(job: ImageJob): boolean {
    return job.model.vendor === 'midjourney' && job.operation !== 'variation';
  }

  /** A prompt whose flags contradict the request, or a field Midjourney has no place for: the client's 400. */
  refuses(job: ImageJob): GatewayError | undefined {
    return promptRefusal(job) ?? refusalOf(MIDJOURNEY_IMAGINE, job);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks: ProviderHooks = {}): Promise<ProviderResult> {
    const { body, contentType } = encodeParameters(MIDJOURNEY_IMAGINE, { job, channel: call.channel, stream: false });
    const imagineId = parseSubmitAnswer(
      await this.send(call, { method: 'POST', url: mjUrl(call.channel, '/submit/imagine'), raw: { body, contentType } }, signal),
    );
    const submitted: MidjourneyJob = { mode: modeOf(job), n: Math.min(Math.max(job.n, 1), 4), imagineId, upscales: {} };
    await hooks.onSubmitted?.(encodeJob(submitted));
    return this.finish(submitted, call, signal, hooks);
  }

  /** A job an earlier run submitted (its state stored by the task worker): polled on, nothing submitted twice. */
  resume(stored: string, call: ChannelCall, signal: AbortSignal, hooks: ProviderHooks = {}): Promise<ProviderResult> {
    return this.finish(decodeJob(stored), call, signal, hooks);
  }

  private async finish(job: MidjourneyJob, call: ChannelCall, signal: AbortSignal, hooks: ProviderHooks): Promise<ProviderResult> {
    const grid = await this.untilDone(job.imagineId, call, signal);
    if (job.mode === 'split') {
      const quarters = await splitGrid(await this.download(grid.imageUrl, call, signal), job.n);
      return { images: quarters.map((png): UpstreamImage => ({ kind: 'b64', base64: [Buffer.from(png.toString('base64'))] })) };
    }
    let upscales = job.upscales;
    for (let index = 1; index <= job.n; index++) {
      if (upscales[index] !== undefined) continue;
      const id = await this.submitUpscale(grid, index, call, signal);
      upscales = { ...upscales, [index]: id };
      await hooks.onSubmitted?.(encodeJob({ ...job, upscales }));
    }
    const done = await Promise.all(Array.from({ length: job.n }, (_, i) => this.untilDone(upscales[i + 1] ?? '', call, signal)));
    return { images: done.map((task): UpstreamImage => ({ kind: 'url', url: task.imageUrl })) };
  }

  /**
   * U<index>, asked (after the channel's poll interval, as a poll) until the proxy takes it: the
   * grid is made and paid for, so a full queue (code 23) or a proxy briefly away is waited out,
   * with the polls' backoff, until the deadline.
   * A submission whose answer was lost is answered the second time with the same task (code 21).
   */
  private submitUpscale(grid: FinishedTask, index: number, call: ChannelCall, signal: AbortSignal): Promise<string> {
    const request = upscaleRequest(call.channel, grid, index);
    return pollUntil(
      async (submitSignal) => ({ status: 'succeeded', result: parseSubmitAnswer(await this.send(call, request, submitSignal)) }),
      `midjourney-proxy's U${index} of ${grid.id}`,
      signal,
      pollOptionsFor(call),
    );
  }

  /** One proxy task polled until it succeeds (its image and buttons), with the channel's backoff, until the job's deadline. */
  private untilDone(id: string, call: ChannelCall, signal: AbortSignal): Promise<FinishedTask> {
    const url = mjUrl(call.channel, `/task/${encodeURIComponent(id)}/fetch`);
    return pollUntil(
      async (pollSignal) => taskState(parseTaskAnswer(await this.send(call, { method: 'GET', url }, pollSignal)), id),
      `midjourney-proxy task ${id}`,
      signal,
      pollOptionsFor(call),
    );
  }

  /** The grid, from wherever the proxy hosts it (Discord's CDN, the proxy's own storage): no key sent there. */
  private async download(url: string, call: ChannelCall, signal: AbortSignal): Promise<Buffer> {
    const protocol = URL.canParse(url) ? new URL(url).protocol : '';
    if (protocol !== 'http:' && protocol !== 'https:') throw new UpstreamFailure('protocol', `midjourney-proxy's grid URL is not http(s): ${url}`);
    const res = await this.transport.send({ method: 'GET', url, headers: { accept: 'image/*' }, timeoutMs: call.channel.timeoutMs, signal });
    if (res.status !== 200) throw new UpstreamFailure('protocol', `midjourney-proxy's grid could not be downloaded (${res.status})`);
    return res.body;
  }

  private send(call: ChannelCall, request: TaskRequest, signal: AbortSignal) {
    return sendToChannel(this.transport, call, { ...request, keyHeaders: (key) => ({ 'mj-api-secret': key }) }, signal);
  }
}

/** quality hd: Midjourney's own upscales; anything else (standard): the grid split. */
function modeOf(job: ImageJob): ImageMode {
  return job.quality === 'hd' ? 'hd' : 'split';
}

/** U<index> of a grid: by its button (the plus API) when the task has buttons, else the older change call. */
function upscaleRequest(channel: Channel, grid: FinishedTask, index: number): TaskRequest {
  const customId = grid.customIds.find((id) => id.startsWith(`MJ::JOB::upsample::${index}::`));
  if (customId !== undefined) return { method: 'POST', url: mjUrl(channel, '/submit/action'), json: { taskId: grid.id, customId } };
  if (grid.customIds.length > 0) throw new UpstreamFailure('protocol', `midjourney-proxy's grid ${grid.id} has no U${index} button`);
  return { method: 'POST', url: mjUrl(channel, '/submit/change'), json: { taskId: grid.id, action: 'UPSCALE', index } };
}

/** base_url is where `/mj` starts (the proxy's origin, or a relay's `/mj-fast`...). */
function mjUrl(channel: Channel, path: string): string {
  return `${channel.baseUrl.replace(/\/+$/, '')}/mj${path}`;
}
