/**
 * fal's queue API (channel kind `fal`): base_url https://queue.fal.run, the channel's key as
 * `Authorization: Key <key>`. Every job is a queue request: `POST {base}/{app}` with the app's input
 * JSON (parameters.ts), then its `status_url` polled until COMPLETED and its `response_url` read
 * (response.ts). The request is stored by its response_url (a task run reports it through
 * hooks.onSubmitted), so after a restart `resume` polls that request instead of submitting again;
 * its status and cancel URLs are fal's, under it. Every URL is checked to be on the channel's
 * origin before the key goes to it (one that is not, as a proxy in front of fal returns, is rebuilt
 * under the channel's base_url, as fal's own clients build them). A request abandoned (the caller gone, the deadline past; not a
 * shutdown, which resumes it) is cancelled (`PUT {response_url}/cancel`), so fal does not run it
 * for nobody.
 *
 * Which app makes a model is apps.ts: built in for catalogue models (FLUX, Seedream, Imagen 4,
 * Ideogram, Recraft), else the channel's model_map; a model with no app is not accepted.
 */
import type { Channel, ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../../core/job.js';
import { abandoned } from '../../core/run-stop.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { sendToChannel, type TaskRequest } from '../async-task-kit.js';
import { sameOrigin } from '../channel-origin.js';
import { pollUntilDone, submitAndPollWithCleanup } from '../async-polling.js';
import { encodeParameters, refusalOf } from '../parameter-map.js';
import type { AsyncProvider, UpstreamTaskState } from '../provider.js';
import type { Transport, UpstreamResponse } from '../transport.js';
import { falInputsFor, falTargetFor } from './apps.js';
import { falParameterMap } from './parameters.js';
import { failureFromFal, parseResultAnswer, parseStatusAnswer, parseSubmitAnswer, type FalQueueUrls } from './response.js';

/** A cancel is a courtesy to fal: bounded, never waited for by the caller. */
const CANCEL_TIMEOUT_MS = 5_000;

export class FalProvider implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  /** Only where an app id is known: built in, or the channel's model_map, or an operator's model naming one. */
  accepts(job: ImageJob, channel: Channel): boolean {
    return job.operation !== 'variation' && falTargetFor(job, channel) !== undefined;
  }

  /** What the model's app would refuse (its schema's table), as the client's 400. */
  refuses(job: ImageJob): GatewayError | undefined {
    return refusalOf(falParameterMap({ app: '', ...falInputsFor(job) }), job);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks: ProviderHooks = {}): Promise<ProviderResult> {
    return submitAndPollWithCleanup(this, job, call, signal, hooks, (id, err) => this.cancelIfAbandoned(id, call, signal, err));
  }

  /** A request submitted by an earlier run (its response_url stored by the task worker): polled, never submitted again. */
  async resume(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    try {
      return await pollUntilDone(this, upstreamTaskId, call, signal);
    } catch (err) {
      this.cancelIfAbandoned(upstreamTaskId, call, signal, err);
      throw err;
    }
  }

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    const target = falTargetFor(job, call.channel);
    // accepts() keeps a model without an app away; reaching here without one is a routing bug.
    if (!target) throw new UpstreamFailure('protocol', `no fal app is known for ${job.model.id}`);
    const { body, contentType } = encodeParameters(falParameterMap(target), { job, channel: call.channel, stream: false });
    const url = `${call.channel.baseUrl.replace(/\/+$/, '')}/${target.app}`;
    const urls = parseSubmitAnswer(await this.send(call, { method: 'POST', url, raw: { body, contentType } }, signal));
    return { upstreamTaskId: requestUrl(urls, target.app, call.channel) };
  }

  async poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const request = onChannelOrigin(upstreamTaskId, call.channel);
    const status = parseStatusAnswer(await this.send(call, { method: 'GET', url: `${request}/status` }, signal));
    if (status.state !== 'completed') return { status: status.state };
    const resultUrl = status.resultUrl !== undefined && sameOrigin(status.resultUrl, call.channel.baseUrl) ? status.resultUrl : request;
    const res = await this.send(call, { method: 'GET', url: resultUrl }, signal);
    // COMPLETED with a 5xx result: the app itself failed (fal retried it already); asking again changes nothing.
    if (res.status >= 500) return { status: 'failed', reason: failureFromFal(res).message };
    return parseResultAnswer(res);
  }

  private send(call: ChannelCall, request: TaskRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    return sendToChannel(this.transport, call, { ...request, keyHeaders: falKey }, signal);
  }

  /** Cancels a request nobody will come back for, best effort: a cancel that fails is dropped (fal may still run the request). */
  private cancelIfAbandoned(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal, err: unknown): void {
    const deadlinePast = err instanceof UpstreamFailure && err.kind === 'timeout' && !signal.aborted;
    if (!abandoned(signal) && !deadlinePast) return;
    const cancel = { ...call, channel: { ...call.channel, timeoutMs: Math.min(call.channel.timeoutMs, CANCEL_TIMEOUT_MS) } };
    let url: string;
    try {
      url = `${onChannelOrigin(upstreamTaskId, call.channel)}/cancel`;
    } catch {
      return;
    }
    this.send(cancel, { method: 'PUT', url }, AbortSignal.timeout(CANCEL_TIMEOUT_MS)).catch(() => undefined);
  }
}

function falKey(apiKey: string): Record<string, string> {
  return { authorization: `Key ${apiKey}` };
}

/** fal's namespaced apps (`workflows/owner/alias`, `comfy/owner/alias`) have one more segment before their sub-paths. */
const APP_NAMESPACES = ['workflows', 'comfy'];

/**
 * Where a submitted request lives: fal's response_url when it is on the channel's origin, else the
 * same path under the channel's base_url (`{base}/{owner}/{alias}/requests/{id}`, as fal's own
 * clients build it; a proxy in front of fal answers with fal's URLs). The key never leaves the origin.
 */
function requestUrl(urls: FalQueueUrls, app: string, channel: Channel): string {
  if (sameOrigin(urls.responseUrl, channel.baseUrl)) return urls.responseUrl.replace(/\/+$/, '');
  const segments = app.split('/');
  const baseApp = segments.slice(0, APP_NAMESPACES.includes(segments[0] ?? '') ? 3 : 2).join('/');
  return `${channel.baseUrl.replace(/\/+$/, '')}/${baseApp}/requests/${encodeURIComponent(urls.requestId)}`;
}

/** The stored request URL, only on the channel's origin (a channel moved elsewhere, or a bad row, is not followed). */
function onChannelOrigin(url: string, channel: Channel): string {
  if (!sameOrigin(url, channel.baseUrl)) throw new UpstreamFailure('protocol', "the fal request's URL is not on the channel's origin; not followed");
  return url.replace(/\/+$/, '');
}
