import type { ChannelCall } from '../../core/channel.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../../core/job.js';
import { sendToChannel, type TaskRequest } from '../async-task-kit.js';
import { pollUntilDone, submitAndPoll } from '../async-polling.js';
import type { AsyncProvider, UpstreamTaskState } from '../provider.js';
import type { Transport } from '../transport.js';
import { buildTaskBody } from './request.js';
import { parseCreateResponse, parseTaskResponse } from './response.js';

const ENDPOINT = '/api/v1/images/generations';

/** The task API dialect: create a task, then poll it by id. baseUrl is the API origin. */
export class TaskApiProvider implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  /** The task API takes reference images as public URLs only, and has no variations or masks. */
  accepts(job: ImageJob): boolean {
    if (job.operation === 'generate') return true;
    return job.operation === 'edit' && !job.inputs.mask && job.inputs.images.every((image) => image.sourceUrl !== undefined);
  }

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    const create: TaskRequest = { method: 'POST', url: endpoint(call.channel.baseUrl), raw: buildTaskBody(job, call.channel) };
    return { upstreamTaskId: parseCreateResponse(await sendToChannel(this.transport, call, create, signal)) };
  }

  async poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const url = `${endpoint(call.channel.baseUrl)}?task_id=${encodeURIComponent(upstreamTaskId)}`;
    return parseTaskResponse(await sendToChannel(this.transport, call, { method: 'GET', url }, signal));
  }

  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult> {
    return submitAndPoll(this, job, call, signal, hooks);
  }

  resume(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    return pollUntilDone(this, upstreamTaskId, call, signal);
  }
}

/** baseUrl is an origin; tolerate a trailing slash. */
function endpoint(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${ENDPOINT}`;
}
