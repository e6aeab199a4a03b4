import type { ChannelCall } from '../../core/channel.js';
import type { ImageJob, ProviderResult } from '../../core/job.js';
import { submitAndPoll } from '../async-polling.js';
import type { AsyncProvider, UpstreamTaskState } from '../provider.js';
import type { Transport } from '../transport.js';
import { buildTaskBody } from './request.js';
import { parseCreateResponse, parseTaskResponse } from './response.js';

const ENDPOINT = '/api/v1/images/generations';

/** The task API of seed 002: create a task, then poll it by id. baseUrl is the API origin. */
export class TaskApiProvider implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    const { channel } = call;
    const res = await this.transport.send({
      method: 'POST',
      url: endpoint(channel.baseUrl),
      headers: { 'content-type': 'application/json', ...auth(call), ...channel.headers },
      body: JSON.stringify(buildTaskBody(job, channel)),
      timeoutMs: channel.timeoutMs,
      signal,
    });
    return { upstreamTaskId: parseCreateResponse(res) };
  }

  async poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const { channel } = call;
    const res = await this.transport.send({
      method: 'GET',
      url: `${endpoint(channel.baseUrl)}?task_id=${encodeURIComponent(upstreamTaskId)}`,
      headers: { ...auth(call), ...channel.headers },
      timeoutMs: channel.timeoutMs,
      signal,
    });
    return parseTaskResponse(res);
  }

  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    return submitAndPoll(this, job, call, signal);
  }
}

/** baseUrl is an origin; tolerate a trailing slash. */
function endpoint(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${ENDPOINT}`;
}

function auth({ apiKey }: ChannelCall): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}
