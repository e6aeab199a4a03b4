/**
 * The channels routing sees: a snapshot of the store, refreshed on every local change and on a
 * timer (so changes made by other instances arrive within the interval). With no channel defined
 * anywhere, the demo channel serves everything.
 */
import { servesModel, type Channel } from '../core/channel.js';
import { keyFingerprint, type ChannelStore, type StoredChannel } from './channel-store.js';

export class ChannelRegistry {
  private snapshot: readonly StoredChannel[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ChannelStore,
    private readonly demoChannel: Channel,
  ) {}

  async refresh(): Promise<void> {
    const stored = await this.store.list();
    this.snapshot = stored.length > 0 ? stored : [demoEntry(this.demoChannel)];
  }

  all(): readonly StoredChannel[] {
    return this.snapshot;
  }

  isDemoOnly(): boolean {
    return this.snapshot.length === 1 && this.snapshot[0]?.channel.kind === 'demo';
  }

  /**
   * Whether the gateway serves the model: some channel the operator has enabled lists it (or
   * serves `*`), however that channel is doing now (a circuit open, its keys refused: those are
   * 503s, not "no such model"). What /v1/models lists, and what a request may name.
   */
  serves(modelId: string): boolean {
    return this.snapshot.some((s) => s.channel.enabled && servesModel(s.channel, modelId));
  }

  /** Served, and only by demo channels: /v1/models labels it. */
  servedByDemoOnly(modelId: string): boolean {
    const serving = this.snapshot.filter((s) => s.channel.enabled && servesModel(s.channel, modelId));
    return serving.length > 0 && serving.every((s) => s.channel.kind === 'demo');
  }

  /**
   * For the readiness probe: throws, saying why, unless some channel can take requests (enabled,
   * not turned off by the gateway, with a key left).
   */
  checkServing(): void {
    const out: string[] = [];
    for (const s of this.snapshot) {
      const keysLeft = s.channel.apiKeys.length === 0 || s.channel.apiKeys.some((k) => s.disabledKeys[keyFingerprint(k)] === undefined);
      if (!s.channel.enabled) out.push(`${s.channel.name}: disabled`);
      else if (s.disabledReason !== null) out.push(`${s.channel.name}: turned off by the gateway (${s.disabledReason})`);
      else if (!keysLeft) out.push(`${s.channel.name}: every key refused upstream`);
      else return;
    }
    throw new Error(`no enabled channel (${out.join('; ')})`);
  }

  /** Enabled channels serving the model, each with only the keys still in use. */
  usableFor(modelId: string): Channel[] {
    const out: Channel[] = [];
    for (const s of this.snapshot) {
      if (!s.channel.enabled || s.disabledReason !== null || !servesModel(s.channel, modelId)) continue;
      const apiKeys = s.channel.apiKeys.filter((k) => s.disabledKeys[keyFingerprint(k)] === undefined);
      if (s.channel.apiKeys.length > 0 && apiKeys.length === 0) continue;
      out.push({ ...s.channel, apiKeys });
    }
    return out;
  }

  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function demoEntry(channel: Channel): StoredChannel {
  return { channel, source: 'config', disabledReason: null, disabledKeys: {}, createdAt: 0, updatedAt: 0 };
}
