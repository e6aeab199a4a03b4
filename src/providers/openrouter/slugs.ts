/**
 * Which OpenRouter model (its slug, `vendor/name`) makes a catalogue model, and what OpenRouter
 * charges for it. An OpenRouter channel takes a model only where a slug is known: the channel's
 * model_map entry (`upstream_model`, e.g. `gpt-image-1: {upstream_model: openai/gpt-5-image}`),
 * else this built-in table.
 *
 * The table is keyed by the vendor's own model name (a catalogue model's `upstreamModel`), so an
 * operator's alias of a catalogue model is mapped too, and FLUX models are found by Black Forest
 * Labs' own endpoint names whatever ids the catalogue gives them.
 *
 * Prices: OpenRouter's model list (`GET /api/v1/models`, each model's `pricing`) and its model
 * pages, read on 2026-11-30. OpenRouter passes on the vendor's price, so each equals the
 * catalogue's list price for the model (core/default-prices.ts), and no separate price is kept:
 * - google/gemini-2.5-flash-image: $0.30/M input, $2.50/M text output, $30/M image output
 *   (1,290 tokens an image: $0.039);
 * - google/gemini-3-pro-image-preview: $2/M input, $12/M text output, $120/M image output
 *   ($0.134 an image at 1K and 2K, $0.24 at 4K);
 * - bytedance-seed/seedream-4.5: $0.04 an image;
 * - black-forest-labs/flux.2-*: per megapixel as BFL prices them (flux.2-pro: $0.03 the first
 *   output megapixel, $0.015 each further one and each input megapixel).
 * OpenAI's image models are on OpenRouter only as GPT-5 Image and GPT-5 Image Mini (a chat model
 * drawing with GPT Image 1: $10/M input, $10/M text output, $40/M image output for
 * openai/gpt-5-image), not under the catalogue's gpt-image ids; a channel maps them by model_map.
 */
import type { Channel } from '../../core/channel.js';
import type { ModelSpec } from '../../core/models.js';

export interface OpenRouterModel {
  readonly slug: string;
  /**
   * Whether the model answers text beside its images: its `modalities` are then ["image", "text"];
   * an image-only model (FLUX, Seedream) is asked for ["image"] alone, as OpenRouter refuses text
   * from it. The model list's output_modalities, once fetched, says it for every slug.
   */
  readonly answersText: boolean;
}

const gemini = (slug: string): OpenRouterModel => ({ slug, answersText: true });
const imageOnly = (slug: string): OpenRouterModel => ({ slug, answersText: false });

/** The vendor's own model name -> OpenRouter's model. */
const BUILT_IN: Readonly<Record<string, OpenRouterModel>> = {
  'gemini-2.5-flash-image': gemini('google/gemini-2.5-flash-image'),
  'gemini-3-pro-image-preview': gemini('google/gemini-3-pro-image-preview'),
  // Seedream 4.5 by its Volcengine Ark id (the catalogue's upstream model) and its plain name.
  'doubao-seedream-4-5-251128': imageOnly('bytedance-seed/seedream-4.5'),
  'seedream-4.5': imageOnly('bytedance-seed/seedream-4.5'),
  // FLUX.2 by Black Forest Labs' endpoint names (POST /v1/{model} on BFL's API).
  'flux-2-pro': imageOnly('black-forest-labs/flux.2-pro'),
  'flux-2-max': imageOnly('black-forest-labs/flux.2-max'),
  'flux-2-flex': imageOnly('black-forest-labs/flux.2-flex'),
  'flux-2-klein-4b': imageOnly('black-forest-labs/flux.2-klein-4b'),
};

/** The OpenRouter model a channel sends for a catalogue model; undefined: the channel cannot serve it. */
export function openRouterModel(spec: ModelSpec, channel: Channel): OpenRouterModel | undefined {
  const mapped = channel.modelMap[spec.id]?.upstreamModel;
  if (mapped !== undefined) return BUILT_IN_BY_SLUG.get(mapped) ?? { slug: mapped, answersText: true };
  return BUILT_IN[spec.id] ?? BUILT_IN[spec.upstreamModel];
}

const BUILT_IN_BY_SLUG = new Map(Object.values(BUILT_IN).map((m) => [m.slug, m]));
