/**
 * The shape of one vendor's part of the model catalogue, kept in its own file here (bfl.ts,
 * ideogram.ts, ...) so that adding a vendor touches one file, not models.ts's shared lists:
 * its families' rules, its models and their list prices. models.ts joins them.
 */
import type { ModelCapabilities, ModelVendor } from '../models.js';

export interface VendorModel<F extends string> {
  /** The public name clients send. */
  readonly id: string;
  readonly family: F;
  readonly description: string;
  /** The model name sent upstream (the vendor's own), when it is not `id`. */
  readonly upstreamModel?: string;
  /** List price per image in US dollars, when the vendor prices per image. */
  readonly usdPerImage?: number;
}

export interface VendorCatalogue<F extends string> {
  readonly vendor: ModelVendor;
  readonly rules: Readonly<Record<F, ModelCapabilities>>;
  readonly models: readonly VendorModel<F>[];
}

/**
 * How a vendor's model (not OpenAI's) sets what only api.openai.com offers: one quality, no
 * backgrounds, moderations, variations, input fidelity or styles, none of OpenAI's own fields
 * upstream, no streaming and no edits unless the family says so, priced per image. A family
 * spreads this first and sets what differs after it.
 */
export const VENDOR_MODEL_DEFAULTS = {
  qualities: [],
  defaultQuality: 'standard',
  autoQualityIsDefault: false,
  backgrounds: [],
  moderations: [],
  streaming: null,
  edits: null,
  variations: null,
  inputFidelity: false,
  styles: [],
  officialFields: { responseFormat: false, style: false },
  priceUnits: ['image'],
} as const satisfies Partial<ModelCapabilities>;

/**
 * `stream: true` on a vendor whose upstream has no stream of its own (a task submitted and polled
 * to its end, or one whole answer): the caller's stream gets keep-alive comments while the
 * upstream works, then one completed event per image, made from the whole answer as on Gemini.
 * No partial images: the upstream makes none.
 */
export const WHOLE_IMAGE_STREAMING = { maxPartialImages: 0, fromWholeAnswer: true } as const satisfies ModelCapabilities['streaming'];
