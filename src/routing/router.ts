/**
 * Picks the channels that serve a job's model and runs the attempt on them in order, moving on
 * after a retryable failure. (Priorities, weights, health and deadlines come with the channels work.)
 */
import { servesModel, type Channel } from '../core/channel.js';
import { GatewayError } from '../core/errors.js';
import type { ImageJob, ProviderResult } from '../core/job.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { clientErrorFor } from './client-error.js';

export interface AttemptRecord {
  channel: string;
  outcome: 'ok' | string;
  latencyMs: number;
}

export interface RoutedResult {
  result: ProviderResult;
  channel: Channel;
  attempts: AttemptRecord[];
}

export class ChannelRouter {
  constructor(
    private readonly channels: () => readonly Channel[],
    private readonly providers: ProviderRegistry,
    private readonly now: () => number = Date.now,
  ) {}

  candidates(modelId: string): Channel[] {
    return this.channels().filter((c) => servesModel(c, modelId));
  }

  async generate(job: ImageJob, signal: AbortSignal, attempts: AttemptRecord[] = []): Promise<RoutedResult> {
    const candidates = this.candidates(job.model.id);
    if (candidates.length === 0) {
      throw new GatewayError(503, 'server_error', 'no_available_channel', 'model', `No channel currently serves ${job.model.id}.`);
    }
    let last: { failure: UpstreamFailure; channel: Channel } | undefined;
    for (const channel of candidates) {
      const started = this.now();
      try {
        const result = await this.providers[channel.kind].generate(job, channel, signal);
        attempts.push({ channel: channel.name, outcome: 'ok', latencyMs: this.now() - started });
        return { result, channel, attempts };
      } catch (err) {
        if (!(err instanceof UpstreamFailure)) throw err;
        attempts.push({ channel: channel.name, outcome: outcomeOf(err), latencyMs: this.now() - started });
        last = { failure: err, channel };
        if (!err.retryable) break;
      }
    }
    if (!last) throw new Error('unreachable: no attempt was made');
    throw clientErrorFor(last.failure, last.channel.apiKeys);
  }
}

function outcomeOf(failure: UpstreamFailure): string {
  return failure.kind === 'http' ? `http_${failure.status ?? 0}` : failure.kind;
}
