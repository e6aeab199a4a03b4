/**
 * Black Forest Labs' FLUX API (channel kind `bfl`): base_url is BFL's origin, https://api.bfl.ai
 * (global) or https://api.eu.bfl.ai / https://api.us.bfl.ai (regional); the channel's key goes in
 * `x-key`, never as a bearer token. Every model is an asynchronous task: `POST /v1/{model}` (the
 * model's BFL endpoint) answers `{id, polling_url}`, then `GET polling_url` until it is Ready. The
 * task's polling_url (where the key may go, polling.ts) is reported as its upstream id as soon as
 * BFL gives it (hooks.onSubmitted), so a task run stores it and, after a restart, `resume` polls
 * that task in its region instead of submitting again. The result's URL expires in 10 minutes:
 * output/ downloads and stores the image as soon as the task is Ready. One image per task.
 * Only BFL's models go to it (the catalogue's `vendor`), and no variations.
 */
import type { Channel, ChannelCall } from '../../core/channel.js';
import { upstreamModelFor } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../../core/job.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { sendToChannel, type TaskRequest } from '../async-task-kit.js';
import { pollUntilDone, submitAndPoll } from '../async-polling.js';
import { encodeParameters, refusalOf, type ParameterMap } from '../parameter-map.js';
import type { AsyncProvider, UpstreamTaskState } from '../provider.js';
import type { Transport } from '../transport.js';
import { bflTableOf } from './parameters.js';
import { pollUrlFor, storedTaskRef } from './polling.js';
import { parseResultAnswer, parseSubmitAnswer } from './response.js';

/** BFL's key header. */
const keyHeaders = (apiKey: string): Record<string, string> => ({ 'x-key': apiKey });

export class BflProvider implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  accepts(job: ImageJob, _channel?: Channel): boolean {
    return job.model.vendor === 'bfl' && bflTableOf(job.model.family) !== undefined && job.operation !== 'variation';
  }

  /** What BFL would refuse (its table's refusals), as the client's 400 before any call. */
  refuses(job: ImageJob): GatewayError | undefined {
    const table = bflTableOf(job.model.family);
    return table === undefined ? undefined : refusalOf(table, job);
  }

  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult> {
    return submitAndPoll(this, job, call, signal, hooks);
  }

  /** A task submitted by an earlier run (its polling_url stored by the task worker): polled, never submitted again. */
  resume(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    return pollUntilDone(this, upstreamTaskId, call, signal);
  }

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    const { body, contentType } = encodeParameters(tableFor(job), { job, channel: call.channel, stream: false });
    const endpoint = upstreamModelFor(call.channel, job.model.id, job.model.upstreamModel);
    const url = `${origin(call.channel)}/v1/${encodeURIComponent(endpoint)}`;
    const res = await this.send(call, { method: 'POST', url, raw: { body, contentType } }, signal);
    const { id, pollingUrl } = parseSubmitAnswer(res);
    return { upstreamTaskId: storedTaskRef(id, pollingUrl, origin(call.channel)) };
  }

  async poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const url = pollUrlFor(upstreamTaskId, origin(call.channel));
    return parseResultAnswer(await this.send(call, { method: 'GET', url }, signal));
  }

  private send(call: ChannelCall, request: TaskRequest, signal: AbortSignal) {
    return sendToChannel(this.transport, call, { ...request, keyHeaders }, signal);
  }
}

function tableFor(job: ImageJob): ParameterMap {
  const table = bflTableOf(job.model.family);
  // accepts() keeps other vendors' models away; reaching here without a table is a routing bug.
  if (table === undefined) throw new UpstreamFailure('protocol', `${job.model.id} is not a BFL model`);
  return table;
}

/** The channel's base_url as an origin without a trailing slash (BFL's paths all start at /v1). */
function origin(channel: Channel): string {
  return channel.baseUrl.replace(/\/+$/, '');
}
