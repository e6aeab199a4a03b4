import type { ChannelCall } from '../../core/channel.js';
import type { ImageJob, ProviderResult } from '../../core/job.js';
import { submitAndPoll } from '../async-polling.js';
import { buildGenerationBody } from '../openai/request.js';
import type { AsyncProvider, UpstreamTaskState } from '../provider.js';
import type { Transport } from '../transport.js';
import { parseSubmitResponse, parseTaskResponse } from './response.js';

/**
 * new-api's async image mode (seed 000): the OpenAI request plus `X-New-Api-Async-Task: true`
 * yields a task id; GET {baseUrl}/images/tasks/{id} reports it. baseUrl ends in /v1.
 */
export class NewApiAsyncProvider implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    const { channel } = call;
    const res = await this.transport.send({
      method: 'POST',
      url: `${channel.baseUrl}/images/generations`,
      headers: { 'content-type': 'application/json', 'x-new-api-async-task': 'true', ...auth(call), ...channel.headers },
      // new-api is a relay: it takes the relay extras (watermark, metadata, style) like any relay.
      body: JSON.stringify(buildGenerationBody(job, channel, 'relay')),
      timeoutMs: channel.timeoutMs,
      signal,
    });
    return { upstreamTaskId: parseSubmitResponse(res) };
  }

  async poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const { channel } = call;
    const res = await this.transport.send({
      method: 'GET',
      url: `${channel.baseUrl}/images/tasks/${encodeURIComponent(upstreamTaskId)}`,
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

function auth({ apiKey }: ChannelCall): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}
