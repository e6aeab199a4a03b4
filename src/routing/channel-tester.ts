/**
 * One small real generation on a channel, to see whether it works and how fast: for the admin
 * API's test button, the CLI, and the optional periodic tests (which also feed the breakers).
 */
import type { Channel } from '../core/channel.js';
import type { ImageJob } from '../core/job.js';
import { NO_INPUTS } from '../core/image-input.js';
import { acceptedSizes, DEFAULT_MODEL, type ModelCatalogue, type ModelSpec } from '../core/models.js';
import { UpstreamFailure } from '../core/upstream-failure.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ChannelBreakers } from './circuit-breaker.js';
import type { ChannelRegistry } from './channel-registry.js';
import { sanitizeUpstreamMessage } from './client-error.js';

export interface ChannelTestResult {
  ok: boolean;
  model: string;
  latencyMs: number;
  /** What went wrong (sanitized of keys), when not ok. */
  error?: string;
  testedAt: number;
}

const TEST_PROMPT = 'imagegate channel test: a small red circle on white';

export class ChannelTester {
  private readonly last = new Map<string, ChannelTestResult>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly providers: ProviderRegistry,
    private readonly catalogue: ModelCatalogue,
    private readonly breakers: ChannelBreakers | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async test(channel: Channel): Promise<ChannelTestResult> {
    const job = this.testJob(channel);
    const started = this.now();
    const signal = AbortSignal.timeout(channel.timeoutMs);
    let result: ChannelTestResult;
    try {
      const out = await this.providers[channel.kind].generate(job, { channel, apiKey: channel.apiKeys[0] }, signal);
      result = { ok: out.images.length > 0, model: job.model.id, latencyMs: this.now() - started, testedAt: started };
      await this.breakers?.onSuccess(channel.id);
    } catch (err) {
      const error = err instanceof UpstreamFailure ? err.message : 'unexpected error';
      result = { ok: false, model: job.model.id, latencyMs: this.now() - started, error: sanitizeUpstreamMessage(error, channel.apiKeys), testedAt: started };
      if (err instanceof UpstreamFailure && err.retryable) await this.breakers?.onFailure(channel.id, error);
    }
    this.last.set(channel.id, result);
    return result;
  }

  lastResult(channelId: string): ChannelTestResult | undefined {
    return this.last.get(channelId);
  }

  /** Tests every usable channel every `intervalMs`, one channel at a time. */
  start(registry: ChannelRegistry, intervalMs: number, onError: (err: unknown) => void): void {
    const round = async () => {
      for (const stored of registry.all()) {
        if (stored.channel.enabled && stored.disabledReason === null && stored.channel.kind !== 'demo') await this.test(stored.channel);
      }
    };
    this.timer = setInterval(() => void round().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * The cheapest request the channel serves: its first model its kind takes (a `*` channel: the
   * default model, else the first catalogue model its kind takes, e.g. a Recraft model on a recraft
   * channel), smallest size, lowest quality.
   */
  private testJob(channel: Channel): ImageJob {
    const served = channel.models === '*' ? [DEFAULT_MODEL, ...this.catalogue.list().map((m) => m.id)] : channel.models;
    const jobs = served.flatMap((id) => {
      const model = this.catalogue.get(id);
      return model ? [this.jobFor(channel, model)] : [];
    });
    const provider = this.providers[channel.kind];
    const job = jobs.find((j) => provider.accepts?.(j, channel) ?? true) ?? jobs[0];
    if (job) return job;
    const fallback = this.catalogue.get(DEFAULT_MODEL);
    if (!fallback) throw new Error(`the catalogue has no ${DEFAULT_MODEL}`);
    return this.jobFor(channel, fallback);
  }

  private jobFor(channel: Channel, model: ModelSpec): ImageJob {
    const rules = model.capabilities;
    const size = acceptedSizes(model).find((s) => s !== 'auto') ?? rules.defaultSize;
    const quality = rules.qualities.includes('low') ? 'low' : rules.defaultQuality;
    return {
      id: `channel-test-${channel.id}`,
      operation: 'generate',
      model,
      prompt: TEST_PROMPT,
      inputs: NO_INPUTS,
      n: 1,
      size,
      quality,
      responseFormat: 'b64_json',
      passthrough: {},
    };
  }
}
