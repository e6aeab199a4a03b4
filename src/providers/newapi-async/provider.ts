import type { ChannelCall } from '../../core/channel.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../../core/job.js';
import { sendToChannel, type TaskRequest } from '../async-task-kit.js';
import { pollUntilDone, submitAndPoll } from '../async-polling.js';
import { buildImagesRequest } from '../openai/request.js';
import type { AsyncProvider, UpstreamTaskState } from '../provider.js';
import type { Transport } from '../transport.js';
import { parseSubmitResponse, parseTaskResponse } from './response.js';

/**
 * new-api's async image mode (the new-api async dialect): the OpenAI request plus `X-New-Api-Async-Task: true`
 * yields a task id; GET {baseUrl}/images/tasks/{id} reports it. baseUrl ends in /v1.
 */
export class NewApiAsyncProvider implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    // new-api is a relay: it takes the relay extras (watermark, metadata, style) like any relay.
    const wire = buildImagesRequest(job, call.channel, 'relay');
    const submit: TaskRequest = {
      method: 'POST',
      url: `${call.channel.baseUrl}/${wire.path}`,
      headers: { 'x-new-api-async-task': 'true' },
      raw: { body: wire.body, contentType: wire.contentType },
    };
    return { upstreamTaskId: parseSubmitResponse(await sendToChannel(this.transport, call, submit, signal)) };
  }

  async poll(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const url = `${call.channel.baseUrl}/images/tasks/${encodeURIComponent(upstreamTaskId)}`;
    return parseTaskResponse(await sendToChannel(this.transport, call, { method: 'GET', url }, signal));
  }

  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult> {
    return submitAndPoll(this, job, call, signal, hooks);
  }

  resume(upstreamTaskId: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    return pollUntilDone(this, upstreamTaskId, call, signal);
  }
}
