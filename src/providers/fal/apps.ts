/**
 * Which fal app makes a catalogue model (the typed endpoint map of fal's JS client, @fal-ai/client,
 * and fal's Imagen 4 pages, read 2026-11-30), and with which
 * input schema (schemas.ts). A model whose edits fal serves from another app names it (`edit`).
 * A channel's `model_map` entry names any other app (`upstreamModel` = the fal app id, e.g.
 * `fal-ai/flux/dev`), and so may an operator's model whose `upstreamModel` is a fal app id; its
 * schema is its family's where the gateway knows one, else the common one (`generic`). An
 * operator's alias of a catalogue model (its upstream name kept) goes to the base's app.
 *
 * fal's own prices for these apps are not the catalogue's: a model's price is its maker's list
 * price (core/default-prices.ts), and a channel's cost_ratio covers fal's difference. What fal
 * charges, as pages quoting fal's price list give it (read 2026-11-30): FLUX.2 [pro] from $0.03 a
 * megapixel, Recraft V3 $0.04 (a fal usage notes page); Kontext [pro] $0.04, [max] $0.08, FLUX1.1
 * [pro] $0.04, Ultra $0.06 (OpenAI-HK's fal price list); Ideogram 3.0 Balanced $0.06 (LiteLLM's fal
 * provider page): the makers' prices, or near them.
 */
import type { Channel } from '../../core/channel.js';
import type { ImageJob } from '../../core/job.js';
import { BUILTIN_MODELS } from '../../core/models.js';
import { FAL_SCHEMAS, type FalSchema, type FalSchemaName } from './schemas.js';

export interface FalApp {
  /** The app that generates from the prompt. */
  readonly app: string;
  /** The app that takes input images, when it is another one. */
  readonly edit?: string;
  readonly schema: FalSchemaName;
  /** Input fields the model fixes (Ideogram's rendering speed). */
  readonly params?: Readonly<Record<string, unknown>>;
}

const flux2 = (app: string): FalApp => ({ app, edit: `${app}/edit`, schema: 'flux-2' });

/** Catalogue id -> fal app. FLUX ids are BFL's catalogue's (core/catalogue/bfl.ts). */
export const FAL_APPS: Readonly<Record<string, FalApp>> = {
  'flux-2-pro': flux2('fal-ai/flux-2-pro'),
  'flux-2-max': flux2('fal-ai/flux-2-max'),
  'flux-2-flex': flux2('fal-ai/flux-2-flex'),
  'flux-2-klein-4b': flux2('fal-ai/flux-2/klein/4b'),
  'flux-2-klein-9b': flux2('fal-ai/flux-2/klein/9b'),
  'flux-kontext-pro': { app: 'fal-ai/flux-pro/kontext/text-to-image', edit: 'fal-ai/flux-pro/kontext', schema: 'flux-kontext' },
  'flux-kontext-max': { app: 'fal-ai/flux-pro/kontext/max/text-to-image', edit: 'fal-ai/flux-pro/kontext/max', schema: 'flux-kontext' },
  'flux-1.1-pro': { app: 'fal-ai/flux-pro/v1.1', schema: 'flux' },
  'flux-1.1-pro-ultra': { app: 'fal-ai/flux-pro/v1.1-ultra', schema: 'flux-ultra' },
  'seedream-4.0': { app: 'fal-ai/bytedance/seedream/v4/text-to-image', edit: 'fal-ai/bytedance/seedream/v4/edit', schema: 'seedream' },
  'seedream-4.5': { app: 'fal-ai/bytedance/seedream/v4.5/text-to-image', edit: 'fal-ai/bytedance/seedream/v4.5/edit', schema: 'seedream' },
  'imagen-4.0-generate-001': { app: 'fal-ai/imagen4/preview', schema: 'imagen4' },
  'imagen-4.0-fast-generate-001': { app: 'fal-ai/imagen4/preview/fast', schema: 'imagen4' },
  'imagen-4.0-ultra-generate-001': { app: 'fal-ai/imagen4/preview/ultra', schema: 'imagen4' },
  'ideogram-v3-turbo': { app: 'fal-ai/ideogram/v3', schema: 'ideogram-v3', params: { rendering_speed: 'TURBO' } },
  'ideogram-v3': { app: 'fal-ai/ideogram/v3', schema: 'ideogram-v3', params: { rendering_speed: 'BALANCED' } },
  'ideogram-v3-quality': { app: 'fal-ai/ideogram/v3', schema: 'ideogram-v3', params: { rendering_speed: 'QUALITY' } },
  recraftv3: { app: 'fal-ai/recraft/v3/text-to-image', schema: 'recraft-v3' },
};

/** The same apps by the catalogue model's upstream name, so that an operator's alias of a model (a `models:` entry on its base) finds its app. */
const APPS_BY_UPSTREAM: ReadonlyMap<string, FalApp> = new Map(
  BUILTIN_MODELS.flatMap((model) => {
    const app = FAL_APPS[model.id];
    return app ? [[model.upstreamModel, app] as const] : [];
  }),
);

/** A model's built-in app: its own, or its base's (an alias keeps the base's upstream name). */
function builtInApp(job: ImageJob): FalApp | undefined {
  return FAL_APPS[job.model.id] ?? APPS_BY_UPSTREAM.get(job.model.upstreamModel);
}

/** The schema an operator's app of a known family speaks (its base model's); FLUX families are BFL's (core/catalogue/bfl.ts). */
const FAMILY_SCHEMAS: Readonly<Record<string, FalSchemaName>> = {
  'flux-2': 'flux-2',
  'flux-2-flex': 'flux-2',
  'flux-2-klein': 'flux-2',
  'flux-kontext': 'flux-kontext',
  'flux-1.1-pro': 'flux',
  'flux-1.1-pro-ultra': 'flux-ultra',
  'seedream-4.0': 'seedream',
  'seedream-4.5': 'seedream',
  'imagen-4': 'imagen4',
  'imagen-4-fast': 'imagen4',
  'recraft-v3': 'recraft-v3',
  'ideogram-v3': 'ideogram-v3',
};

/** What one job sends: to which app, in which schema, with which fixed fields. */
export interface FalTarget {
  readonly app: string;
  readonly schema: FalSchema;
  readonly params: Readonly<Record<string, unknown>>;
}

/**
 * A fal app id: owner/name and optional sub-paths, each segment plain (no `..`, no query), so
 * that it stays a path under the channel's origin.
 */
const APP_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)+$/;

export function isFalAppId(value: string): boolean {
  return APP_ID.test(value) && !value.split('/').includes('..');
}

/** The schema a job's app speaks and the input fields its model fixes, wherever its app id comes from. */
export function falInputsFor(job: ImageJob): Omit<FalTarget, 'app'> {
  const builtIn = builtInApp(job);
  return { schema: FAL_SCHEMAS[builtIn?.schema ?? FAMILY_SCHEMAS[job.model.family] ?? 'generic'], params: builtIn?.params ?? {} };
}

/** The app a job goes to on a channel: the channel's model_map, else the built-in map, else an operator's model naming a fal app; none: the channel does not serve it. */
export function falTargetFor(job: ImageJob, channel: Channel): FalTarget | undefined {
  const inputs = falInputsFor(job);
  const mapped = channel.modelMap[job.model.id]?.upstreamModel;
  if (mapped !== undefined) return isFalAppId(mapped) ? { app: mapped, ...inputs } : undefined;
  const builtIn = builtInApp(job);
  if (builtIn) return { app: job.inputs.images.length > 0 && builtIn.edit ? builtIn.edit : builtIn.app, ...inputs };
  return isFalAppId(job.model.upstreamModel) ? { app: job.model.upstreamModel, ...inputs } : undefined;
}
