/**
 * Seedream is served by two platforms with one wire format (Ark's image generation API): Volcengine
 * Ark (mainland China, channel kind `ark`) and BytePlus ModelArk (international, channel kind
 * `byteplus`). They differ in their model ids (BytePlus's drop Ark's `doubao-` prefix) and their
 * hosts; the catalogue names Ark's ids (core/models.ts), and a BytePlus channel sends BytePlus's.
 */
import type { Channel } from '../../core/channel.js';
import type { ModelSpec } from '../../core/models.js';

export type SeedreamRegion = 'ark' | 'byteplus';

export interface SeedreamPlatform {
  /** For messages. */
  readonly name: string;
  /** What a channel's base_url is, as in the platform's OpenAI-SDK examples. */
  readonly exampleBaseUrl: string;
  /** The platform's id of a catalogue model (given as Ark's id). */
  readonly modelIds: Readonly<Record<string, string>>;
}

export const SEEDREAM_PLATFORMS: Readonly<Record<SeedreamRegion, SeedreamPlatform>> = {
  ark: {
    name: 'Volcengine Ark',
    exampleBaseUrl: 'https://ark.cn-beijing.volces.com/api/v3',
    modelIds: {},
  },
  byteplus: {
    name: 'BytePlus ModelArk',
    exampleBaseUrl: 'https://ark.ap-southeast.bytepluses.com/api/v3',
    modelIds: {
      'doubao-seedream-5-0-260128': 'seedream-5-0-260128',
      'doubao-seedream-4-5-251128': 'seedream-4-5-251128',
      'doubao-seedream-4-0-250828': 'seedream-4-0-250828',
      'doubao-seedream-3-0-t2i-250415': 'seedream-3-0-t2i-250415',
    },
  },
};

/** The model id this channel's platform knows: the channel's mapping (an endpoint id, ep-...), else the platform's id of the catalogue's. */
export function platformModelId(region: SeedreamRegion, spec: ModelSpec, channel: Channel): string {
  const mapped = channel.modelMap[spec.id]?.upstreamModel;
  if (mapped !== undefined) return mapped;
  return SEEDREAM_PLATFORMS[region].modelIds[spec.upstreamModel] ?? spec.upstreamModel;
}
