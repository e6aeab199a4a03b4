/**
 * OpenRouter's model list, `GET {base_url}/models?output_modalities=image`: the capability
 * descriptor it publishes for each model that makes images (architecture.input_modalities and
 * output_modalities, supported_parameters, pricing). Read once per channel and kept (refreshed
 * after LIST_TTL_MS), always in the background: a request never waits for it, and a list that
 * cannot be fetched changes nothing but what the gateway can refuse early (tried again after
 * RETRY_AFTER_MS). With it the provider knows, before any call, that OpenRouter has no such
 * model, that the model makes no images or takes no input images, and whether it answers text.
 */
import type { ChannelCall } from '../../core/channel.js';
import { channelPool, type Transport } from '../transport.js';

export interface OpenRouterDescriptor {
  readonly slug: string;
  readonly inputModalities: readonly string[];
  readonly outputModalities: readonly string[];
  readonly supportedParameters: readonly string[];
  /** OpenRouter's prices as it writes them: USD per token or per unit, as decimal strings. */
  readonly pricing: Readonly<Record<string, string>>;
}

/** What the channel's list says about a slug: not known yet (or unreadable), listed, or not listed. */
export type DescriptorLookup =
  | { readonly state: 'unknown' }
  | { readonly state: 'listed'; readonly model: OpenRouterDescriptor }
  | { readonly state: 'absent' };

const LIST_TTL_MS = 6 * 60 * 60 * 1000;
const RETRY_AFTER_MS = 60 * 1000;

interface ChannelList {
  models?: ReadonlyMap<string, OpenRouterDescriptor>;
  fetchedAt?: number;
  failedAt?: number;
  fetching?: Promise<void>;
}

export class OpenRouterModelList {
  private readonly lists = new Map<string, ChannelList>();

  constructor(
    private readonly transport: Transport,
    private readonly now: () => number = Date.now,
  ) {}

  /** The channel's descriptor of a slug as known now; starts (in the background) a fetch of the list when due. */
  lookup(call: ChannelCall, slug: string): DescriptorLookup {
    const list = this.listOf(call);
    this.refreshIfDue(list, call);
    if (!list.models) return { state: 'unknown' };
    const model = list.models.get(slug);
    return model ? { state: 'listed', model } : { state: 'absent' };
  }

  private listOf({ channel }: ChannelCall): ChannelList {
    const key = `${channel.id}\n${channel.baseUrl}`;
    let list = this.lists.get(key);
    if (!list) {
      list = {};
      this.lists.set(key, list);
    }
    return list;
  }

  private refreshIfDue(list: ChannelList, call: ChannelCall): void {
    if (list.fetching) return;
    const now = this.now();
    if (list.failedAt !== undefined && now - list.failedAt < RETRY_AFTER_MS) return;
    if (list.fetchedAt !== undefined && now - list.fetchedAt < LIST_TTL_MS) return;
    list.fetching = this.fetch(call)
      .then((models) => {
        list.models = models;
        list.fetchedAt = this.now();
        delete list.failedAt;
      })
      .catch(() => {
        // A list that cannot be read refuses nothing: the last one read (if any) stays.
        list.failedAt = this.now();
      })
      .finally(() => {
        delete list.fetching;
      });
  }

  private async fetch({ channel, apiKey }: ChannelCall): Promise<ReadonlyMap<string, OpenRouterDescriptor>> {
    const res = await this.transport.send({
      method: 'GET',
      url: `${channel.baseUrl.replace(/\/+$/, '')}/models?output_modalities=image`,
      headers: { accept: 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...channel.headers },
      timeoutMs: channel.timeoutMs,
      pool: channelPool(channel),
    });
    if (res.status < 200 || res.status >= 300) throw new Error(`OpenRouter's model list answered ${res.status}`);
    const data = objectOf(JSON.parse(res.body.toString('utf8')))?.data;
    if (!Array.isArray(data)) throw new Error("OpenRouter's model list has no data array");
    const models = new Map<string, OpenRouterDescriptor>();
    for (const entry of data) {
      const model = descriptorOf(entry);
      if (model) models.set(model.slug, model);
    }
    return models;
  }
}

function descriptorOf(value: unknown): OpenRouterDescriptor | undefined {
  const entry = objectOf(value);
  if (!entry || typeof entry.id !== 'string') return undefined;
  const architecture = objectOf(entry.architecture);
  const pricing = Object.entries(objectOf(entry.pricing) ?? {}).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as const] : []));
  return {
    slug: entry.id,
    inputModalities: strings(architecture?.input_modalities),
    outputModalities: strings(architecture?.output_modalities),
    supportedParameters: strings(entry.supported_parameters),
    pricing: Object.fromEntries(pricing),
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
