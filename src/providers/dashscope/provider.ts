/**
 * Alibaba Cloud Model Studio's DashScope API (channel kind `dashscope`): base_url is the region's
 * origin, https://dashscope-intl.aliyuncs.com (international) or https://dashscope.aliyuncs.com
 * (mainland China); the channel's key goes as a bearer token. Each model family speaks one of two
 * endpoints (endpoints.ts):
 * - Qwen-Image and Qwen-Image Edit: multimodal-generation, one synchronous call; a job asking more
 *   images than one call makes is several calls at once (their images joined, in order);
 * - Wan (text-to-image, and the image editor on image2image): image-synthesis, asynchronous
 *   (WanTasks): submit (`X-DashScope-Async: enable`), then poll the task until it ends. The task id is reported as soon as DashScope gives it
 *   (hooks.onSubmitted), so a task run stores it and, after a restart, `resume` polls that task
 *   instead of submitting again.
 * Only DashScope's models go to it (the catalogue's `vendor`), and no variations.
 */
import type { ChannelCall } from '../../core/channel.js';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../../core/job.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { allOrNone } from '../all-or-none.js';
import { sendToChannel } from '../async-task-kit.js';
import { pollUntilDone, submitAndPoll } from '../async-polling.js';
import { encodeParameters, refusalOf, type EncodedParams, type ParameterMap } from '../parameter-map.js';
import type { AsyncProvider, Provider, UpstreamTaskState } from '../provider.js';
import type { Transport } from '../transport.js';
import { dashscopeUrl, endpointOf, IMAGE2IMAGE_PATH, MULTIMODAL_PATH, TASKS_PATH, TEXT2IMAGE_PATH, type DashScopeEndpoint } from './endpoints.js';
import { dashscopeMask } from './mask.js';
import { DASHSCOPE_IMAGE2IMAGE, DASHSCOPE_MULTIMODAL, DASHSCOPE_TEXT2IMAGE } from './parameters.js';
import { parseMultimodalAnswer, parseSubmitAnswer, parseTaskAnswer } from './response.js';

export class DashScopeProvider implements Provider {
  /** Wan's submit-then-poll, apart: only the text2image families are tasks (Qwen-Image answers at once). */
  private readonly wanTasks: WanTasks;

  constructor(private readonly transport: Transport) {
    this.wanTasks = new WanTasks(transport);
  }

  accepts(job: ImageJob): boolean {
    return job.model.vendor === 'dashscope' && endpointOf(job.model.family) !== undefined && job.operation !== 'variation';
  }

  /** What DashScope would refuse (its table's refusals; an edit model without its input image), as the client's 400. */
  refuses(job: ImageJob): GatewayError | undefined {
    const endpoint = endpointOf(job.model.family);
    if (endpoint === undefined) return undefined;
    if (endpoint.needsInputImage && job.inputs.images.length === 0) {
      return invalidRequest('image', 'missing_required_parameter', `${job.model.id} edits an input image: send one (image), or use qwen-image to generate.`);
    }
    return refusalOf(parameterMap(endpoint), job);
  }

  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult> {
    const endpoint = endpointFor(job);
    if (endpoint.api === 'multimodal') return this.generateInCalls(job, endpoint, call, signal);
    return submitAndPoll(this.wanTasks, job, call, signal, hooks);
  }

  /** A Wan task submitted by an earlier run (its id stored by the task worker): polled, never submitted again. */
  resume(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    return pollUntilDone(this.wanTasks, upstreamTaskId, call, signal);
  }

  /** One call per `maxNPerCall` images, at once; the first failure stops the others (their images would be thrown away). */
  private async generateInCalls(job: ImageJob, endpoint: DashScopeEndpoint, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const counts = imagesPerCall(job.n, endpoint.maxNPerCall);
    if (counts.length === 1) return this.multimodalCall(job, call, signal);
    const results = await allOrNone(counts, signal, (n, each) => this.multimodalCall({ ...job, n }, call, each));
    return { images: results.flatMap((result) => result.images) };
  }

  private async multimodalCall(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const { body } = encodeParameters(DASHSCOPE_MULTIMODAL, { job, channel: call.channel, stream: false });
    const url = dashscopeUrl(call.channel.baseUrl, MULTIMODAL_PATH);
    return parseMultimodalAnswer(await sendToChannel(this.transport, call, { method: 'POST', url, raw: json(body) }, signal));
  }
}

/** Wan's image-synthesis tasks (text2image, image2image): submit and poll apart, so the task id can be stored between them. */
class WanTasks implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    const editing = endpointFor(job).api === 'image2image';
    const mask = editing && job.inputs.mask ? await dashscopeMask(job.inputs.mask) : undefined;
    const sent = mask ? { ...job, inputs: { ...job.inputs, mask } } : job;
    const { body } = encodeParameters(editing ? DASHSCOPE_IMAGE2IMAGE : DASHSCOPE_TEXT2IMAGE, { job: sent, channel: call.channel, stream: false });
    const url = dashscopeUrl(call.channel.baseUrl, editing ? IMAGE2IMAGE_PATH : TEXT2IMAGE_PATH);
    const res = await sendToChannel(this.transport, call, { method: 'POST', url, headers: { 'x-dashscope-async': 'enable' }, raw: json(body) }, signal);
    return { upstreamTaskId: parseSubmitAnswer(res) };
  }

  async poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const url = dashscopeUrl(call.channel.baseUrl, `${TASKS_PATH}/${encodeURIComponent(upstreamTaskId)}`);
    return parseTaskAnswer(await sendToChannel(this.transport, call, { method: 'GET', url }, signal));
  }

  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult> {
    return submitAndPoll(this, job, call, signal, hooks);
  }

  resume(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    return pollUntilDone(this, upstreamTaskId, call, signal);
  }
}

function endpointFor(job: ImageJob): DashScopeEndpoint {
  const endpoint = endpointOf(job.model.family);
  // accepts() keeps other vendors' models away; reaching here without an endpoint is a routing bug.
  if (endpoint === undefined) throw new UpstreamFailure('protocol', `${job.model.id} is not a DashScope model`);
  return endpoint;
}

const PARAMETER_MAPS: Readonly<Record<DashScopeEndpoint['api'], ParameterMap>> = {
  multimodal: DASHSCOPE_MULTIMODAL,
  text2image: DASHSCOPE_TEXT2IMAGE,
  image2image: DASHSCOPE_IMAGE2IMAGE,
};

function parameterMap(endpoint: DashScopeEndpoint): ParameterMap {
  return PARAMETER_MAPS[endpoint.api];
}

function json(body: EncodedParams['body']): { body: EncodedParams['body']; contentType: string } {
  return { body, contentType: 'application/json' };
}

/** n split into calls of at most `max` images: 5 by 2 -> [2, 2, 1]. */
export function imagesPerCall(n: number, max: number): number[] {
  const counts: number[] = [];
  for (let left = n; left > 0; left -= max) counts.push(Math.min(left, max));
  return counts.length > 0 ? counts : [1];
}
