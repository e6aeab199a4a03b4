/**
 * Which Replicate model runs a catalogue model, and which input schema it speaks.
 *
 * - Official models (`owner/name`) are run by `POST /v1/models/{owner}/{name}/predictions`,
 *   without a version: the built-in map below, for the catalogue models Replicate serves.
 * - Any other model is run by its version, `POST /v1/predictions {version}`: a channel's model_map
 *   entry `upstreamModel: owner/name:version` (or a bare 64-hex version id). A model_map entry of
 *   the `owner/name` form runs that official model instead of the built-in one.
 * A model neither maps is not accepted by a replicate channel.
 *
 * The input schema follows the model's family (an operator's model based on a FLUX model speaks
 * FLUX's fields); a family with none here is sent the common fields (`generic`).
 *
 * Replicate's prices for the mapped official models (per output image; each model's pricing
 * section on replicate.com and relays quoting them, read 2026-11-30): FLUX1.1 [pro] $0.04, FLUX1.1
 * [pro] Ultra $0.06, Kontext [pro] $0.04, Kontext [max] $0.08, Seedream 4 $0.03, Seedream 4.5 $0.04,
 * Imagen 4 $0.04, Imagen 4 Ultra $0.06, Imagen 4 Fast $0.02, Recraft V3 $0.04, Ideogram V3 Turbo
 * $0.03, Balanced $0.06, Quality $0.09: the vendors' own list prices, which the catalogue holds.
 * FLUX.2 is priced per megapixel of the output and of each input image, each rounded up (pro from
 * $0.015 a megapixel, as a relay's comparison quotes it), where BFL's list (the catalogue's) charges
 * the first megapixel more. The catalogue's prices stand; a channel's cost_ratio says what it
 * really costs, as for any reseller.
 */
import type { Channel } from '../../core/channel.js';
import type { ImageJob } from '../../core/job.js';
import type { ModelFamily } from '../../core/models.js';

/** The input fields a Replicate model takes, by the family of models that share them. */
export type ReplicateSchema = 'flux-pro' | 'flux-ultra' | 'flux-2' | 'flux-kontext' | 'seedream-4' | 'imagen-4' | 'recraft-v3' | 'ideogram-v3' | 'generic';

/** Where a prediction is created. */
export type ReplicateRoute =
  | { readonly kind: 'official'; readonly owner: string; readonly name: string }
  | { readonly kind: 'version'; readonly version: string };

/** Catalogue ids -> Replicate's official models (replicate.com's collection of official models). */
const OFFICIAL_MODELS: Readonly<Record<string, string>> = {
  'flux-2-pro': 'black-forest-labs/flux-2-pro',
  'flux-2-max': 'black-forest-labs/flux-2-max',
  'flux-2-flex': 'black-forest-labs/flux-2-flex',
  'flux-2-klein-4b': 'black-forest-labs/flux-2-klein-4b',
  'flux-2-klein-9b': 'black-forest-labs/flux-2-klein-9b',
  'flux-kontext-pro': 'black-forest-labs/flux-kontext-pro',
  'flux-kontext-max': 'black-forest-labs/flux-kontext-max',
  'flux-1.1-pro': 'black-forest-labs/flux-1.1-pro',
  'flux-1.1-pro-ultra': 'black-forest-labs/flux-1.1-pro-ultra',
  'seedream-4.0': 'bytedance/seedream-4',
  'seedream-4.5': 'bytedance/seedream-4.5',
  'imagen-4.0-generate-001': 'google/imagen-4',
  'imagen-4.0-ultra-generate-001': 'google/imagen-4-ultra',
  'imagen-4.0-fast-generate-001': 'google/imagen-4-fast',
  recraftv3: 'recraft-ai/recraft-v3',
  'ideogram-v3-turbo': 'ideogram-ai/ideogram-v3-turbo',
  'ideogram-v3': 'ideogram-ai/ideogram-v3-balanced',
  'ideogram-v3-quality': 'ideogram-ai/ideogram-v3-quality',
};

/** Each catalogue family's Replicate schema (a lookup, so that a new family is one line). */
const FAMILY_SCHEMAS: Partial<Readonly<Record<ModelFamily, ReplicateSchema>>> = {
  'flux-1.1-pro': 'flux-pro',
  'flux-1.1-pro-ultra': 'flux-ultra',
  'flux-2': 'flux-2',
  'flux-2-flex': 'flux-2',
  'flux-2-klein': 'flux-2',
  'flux-kontext': 'flux-kontext',
  'seedream-4.0': 'seedream-4',
  'seedream-4.5': 'seedream-4',
  'imagen-4': 'imagen-4',
  'imagen-4-fast': 'imagen-4',
  'recraft-v3': 'recraft-v3',
  'ideogram-v3': 'ideogram-v3',
};

const OFFICIAL = /^([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)$/;
const VERSIONED = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*:([0-9a-f]{64})$/;
const BARE_VERSION = /^[0-9a-f]{64}$/;

/** The schema a job's model speaks on Replicate. */
export function schemaOf(job: ImageJob): ReplicateSchema {
  return FAMILY_SCHEMAS[job.model.family] ?? 'generic';
}

/** Where the job's model runs on this channel; undefined: the channel does not know it (or its model_map entry is not a Replicate name). */
export function routeOf(job: ImageJob, channel: Channel): ReplicateRoute | undefined {
  const name = channel.modelMap[job.model.id]?.upstreamModel ?? OFFICIAL_MODELS[job.model.id];
  return name === undefined ? undefined : parseRoute(name);
}

/** `owner/name` (official), `owner/name:version` or a bare version id. */
export function parseRoute(name: string): ReplicateRoute | undefined {
  const official = OFFICIAL.exec(name);
  if (official) return { kind: 'official', owner: official[1] as string, name: official[2] as string };
  const version = VERSIONED.exec(name)?.[1] ?? (BARE_VERSION.test(name) ? name : undefined);
  return version === undefined ? undefined : { kind: 'version', version };
}

/** The path (under base_url) a prediction of this route is created at. */
export function createPath(route: ReplicateRoute): string {
  return route.kind === 'official' ? `/models/${encodeURIComponent(route.owner)}/${encodeURIComponent(route.name)}/predictions` : '/predictions';
}
