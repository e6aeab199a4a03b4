// The models the OpenAI simulator serves, read from the gateway's own catalogue
// (src/core/models.ts) rather than a list of its own: the catalogue's models that go upstream
// under their own name are the names api.openai.com knows (a relay name such as gpt-image-2-vip
// leaves the gateway as gpt-image-2); in relay mode every catalogue name is served, relay names
// included, as the relays' documents list them. Each brings its rule set, prompt limit, sizes and
// qualities. What is OpenAI's behaviour rather than a model's (which parameters exist, the error
// wording, the default models) stays in params.ts, generation.ts and edits.ts.
import { acceptedSizes, acceptsCustomSizes, BUILTIN_MODELS, type ModelSpec as CatalogueModel } from '../../src/core/models.js';
import type { CustomSizeLimits } from '../../src/core/sizes.js';

/** OpenAI's model families as its API treats them: every GPT image model alike, each dall-e its own. */
export type Family = 'gpt' | 'dall-e-2' | 'dall-e-3';

export interface ModelSpec {
  id: string;
  family: Family;
  maxPromptChars: number;
  /** The enumerated sizes (without `auto`), or any WxH within the custom-size limits. */
  sizes: readonly string[] | { custom: CustomSizeLimits };
  /** `auto` among them. */
  qualities: readonly string[];
}

/** `created` of every /v1/models entry: the catalogue keeps no release dates (the gateway's own list uses one date too). */
export const MODELS_CREATED = 1_698_785_189;

function familyOf(model: CatalogueModel): Family {
  return model.family === 'dall-e-2' || model.family === 'dall-e-3' ? model.family : 'gpt';
}

function specOf(model: CatalogueModel): ModelSpec {
  const limits = model.capabilities.customSizeLimits;
  const sizes = acceptsCustomSizes(model) && limits !== undefined ? { custom: limits } : acceptedSizes(model).filter((size) => size !== 'auto');
  return { id: model.id, family: familyOf(model), maxPromptChars: model.capabilities.maxPromptChars, sizes, qualities: model.capabilities.qualities };
}

/** api.openai.com's models, in the catalogue's order. */
const OFFICIAL_MODELS: readonly ModelSpec[] = BUILTIN_MODELS.filter((model) => model.upstreamModel === model.id).map(specOf);
/** A relay's: the official names and its own (gpt-image-2-vip, gpt-image-2-4k, ...). */
const RELAY_MODELS: readonly ModelSpec[] = BUILTIN_MODELS.map(specOf);

/** The models served: `relay` for a simulator in relay mode. */
export function servedModels(relay: boolean): readonly ModelSpec[] {
  return relay ? RELAY_MODELS : OFFICIAL_MODELS;
}

export function modelIds(relay: boolean): string[] {
  return servedModels(relay).map((model) => model.id);
}

export function modelSpec(model: string, relay: boolean): ModelSpec | undefined {
  return servedModels(relay).find((spec) => spec.id === model);
}

/** Every quality any model takes: what `quality` may be at all (a model's own list is checked after). */
export const ALL_QUALITIES: readonly string[] = [...new Set(RELAY_MODELS.flatMap((model) => model.qualities))];
