/** An upstream account the gateway can send jobs to. */
export type ChannelKind = 'openai' | 'openai-compatible' | 'demo';

export interface ModelMapping {
  /** The model name this channel's upstream knows. */
  upstreamModel?: string;
  /** Parameters forced for this model on this channel (e.g. `size: 3840x2160`). */
  params?: Record<string, unknown>;
}

export interface Channel {
  readonly id: string;
  readonly name: string;
  readonly kind: ChannelKind;
  /** Ends in /v1 for OpenAI-style upstreams. */
  readonly baseUrl: string;
  readonly apiKeys: readonly string[];
  /** Public model ids served; `*` serves the whole catalogue. */
  readonly models: readonly string[] | '*';
  readonly modelMap: Readonly<Record<string, ModelMapping>>;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
}

export function servesModel(channel: Channel, modelId: string): boolean {
  return channel.models === '*' || channel.models.includes(modelId);
}
