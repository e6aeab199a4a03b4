/**
 * The model catalogue: every public model name, the family whose rules it follows, the
 * upstream model it becomes, and the defaults it fills in. Pure data plus lookups.
 */
export type ModelFamily = 'gpt-image-2' | 'gpt-image-1' | 'dall-e-2' | 'dall-e-3';

export interface FamilyRules {
  /** Enumerated sizes (besides custom WxH where `customSizes`). */
  readonly sizes: readonly string[];
  /** gpt-image-2 accepts any WxH within its limits. */
  readonly customSizes: boolean;
  readonly defaultSize: string;
  readonly qualities: readonly string[];
  readonly defaultQuality: string;
  readonly maxPromptChars: number;
  readonly maxN: number;
  /** output_format, output_compression, background, moderation, stream: GPT image models only. */
  readonly gptOptions: boolean;
  readonly transparentBackground: boolean;
  /** dall-e-3's style enum; undefined means style is passed through untouched. */
  readonly styles?: readonly string[];
}

const GPT_SIZES = ['auto', '1024x1024', '1536x1024', '1024x1536'] as const;
const GPT_QUALITIES = ['auto', 'low', 'medium', 'high'] as const;

export const FAMILY_RULES: Readonly<Record<ModelFamily, FamilyRules>> = {
  'gpt-image-2': {
    sizes: [...GPT_SIZES, '2048x2048', '2048x1152', '3840x2160', '2160x3840'],
    customSizes: true,
    defaultSize: 'auto',
    qualities: GPT_QUALITIES,
    defaultQuality: 'auto',
    maxPromptChars: 32_000,
    maxN: 10,
    gptOptions: true,
    transparentBackground: false,
  },
  'gpt-image-1': {
    sizes: GPT_SIZES,
    customSizes: false,
    defaultSize: 'auto',
    qualities: GPT_QUALITIES,
    defaultQuality: 'auto',
    maxPromptChars: 32_000,
    maxN: 10,
    gptOptions: true,
    transparentBackground: true,
  },
  'dall-e-2': {
    sizes: ['256x256', '512x512', '1024x1024'],
    customSizes: false,
    defaultSize: '1024x1024',
    qualities: ['standard', 'auto'],
    defaultQuality: 'standard',
    maxPromptChars: 1_000,
    maxN: 10,
    gptOptions: false,
    transparentBackground: false,
  },
  'dall-e-3': {
    sizes: ['1024x1024', '1792x1024', '1024x1792'],
    customSizes: false,
    defaultSize: '1024x1024',
    qualities: ['standard', 'hd', 'auto'],
    defaultQuality: 'standard',
    maxPromptChars: 4_000,
    maxN: 1,
    gptOptions: false,
    transparentBackground: false,
    styles: ['vivid', 'natural'],
  },
};

export interface ModelSpec {
  /** The public name clients send. */
  readonly id: string;
  readonly family: ModelFamily;
  /** The model name sent to an OpenAI upstream unless a channel maps it otherwise. */
  readonly upstreamModel: string;
  readonly description: string;
  /** Sizes this name accepts when narrower than its family (the -1k/-2k/-4k relay names). */
  readonly sizes?: readonly string[];
  /** Filled in when the client leaves the field out (or sends `auto` for size on a sized name). */
  readonly defaults: { readonly size?: string; readonly quality?: string };
  /** Parameters always sent upstream for this name, overriding the client's. */
  readonly fixedParams: Readonly<Record<string, unknown>>;
}

function model(
  id: string,
  family: ModelFamily,
  description: string,
  extra: Partial<Pick<ModelSpec, 'upstreamModel' | 'sizes' | 'defaults' | 'fixedParams'>> = {},
): ModelSpec {
  return {
    id,
    family,
    description,
    upstreamModel: extra.upstreamModel ?? id,
    defaults: extra.defaults ?? {},
    fixedParams: extra.fixedParams ?? {},
    ...(extra.sizes ? { sizes: extra.sizes } : {}),
  };
}

const relayName = (id: string, description: string, extra: Parameters<typeof model>[3] = {}): ModelSpec =>
  model(id, 'gpt-image-2', description, { upstreamModel: 'gpt-image-2', ...extra });

/** Every model name OpenAI and the relay gateways' documents use. */
export const BUILTIN_MODELS: readonly ModelSpec[] = [
  model('gpt-image-2', 'gpt-image-2', 'GPT Image 2'),
  model('gpt-image-2-2026-04-21', 'gpt-image-2', 'GPT Image 2 snapshot 2026-04-21'),
  relayName('gpt-image-2-vip', 'GPT Image 2 (relay name: vip line)'),
  relayName('gpt-image-2-pro', 'GPT Image 2 (relay name: pro line)'),
  relayName('gpt-image-2-beta', 'GPT Image 2 (relay name: beta)'),
  relayName('gpt-image-2-1k', 'GPT Image 2 at 1K sizes, quality medium by default', {
    sizes: ['1024x1024', '1536x1024', '1024x1536'],
    defaults: { size: '1024x1024', quality: 'medium' },
  }),
  relayName('gpt-image-2-2k', 'GPT Image 2 at 2K sizes, quality medium by default', {
    sizes: ['2048x2048', '2048x1152'],
    defaults: { size: '2048x2048', quality: 'medium' },
  }),
  relayName('gpt-image-2-4k', 'GPT Image 2 at 4K sizes, quality medium by default', {
    sizes: ['3840x2160', '2160x3840'],
    defaults: { size: '3840x2160', quality: 'medium' },
  }),
  model('gpt-image-1.5', 'gpt-image-1', 'GPT Image 1.5'),
  model('gpt-image-1', 'gpt-image-1', 'GPT Image 1'),
  model('gpt-image-1-mini', 'gpt-image-1', 'GPT Image 1 mini'),
  model('dall-e-3', 'dall-e-3', 'DALL·E 3'),
  model('dall-e-2', 'dall-e-2', 'DALL·E 2'),
];

/** Missing `model` means gpt-image-2 (as new-api relays document it), not OpenAI's dall-e-2. */
export const DEFAULT_MODEL = 'gpt-image-2';

/** An operator's extra name from the config file: public name -> a catalogue model plus fixed parameters. */
export interface ModelAlias {
  name: string;
  /** The catalogue model whose rules apply. */
  base: string;
  upstreamModel?: string;
  description?: string;
  params?: Record<string, unknown>;
}

export class ModelCatalogue {
  private readonly byId = new Map<string, ModelSpec>();

  constructor(models: readonly ModelSpec[]) {
    for (const spec of models) this.byId.set(spec.id, spec);
  }

  static withAliases(aliases: readonly ModelAlias[]): ModelCatalogue {
    const catalogue = new ModelCatalogue(BUILTIN_MODELS);
    for (const alias of aliases) catalogue.byId.set(alias.name, catalogue.aliasSpec(alias));
    return catalogue;
  }

  get(id: string): ModelSpec | undefined {
    return this.byId.get(id);
  }

  list(): ModelSpec[] {
    return [...this.byId.values()];
  }

  private aliasSpec(alias: ModelAlias): ModelSpec {
    const base = this.byId.get(alias.base);
    if (!base) throw new Error(`model alias '${alias.name}' names unknown base model '${alias.base}'`);
    return {
      ...base,
      id: alias.name,
      description: alias.description ?? `${base.description} (alias)`,
      upstreamModel: alias.upstreamModel ?? base.upstreamModel,
      fixedParams: { ...base.fixedParams, ...alias.params },
    };
  }
}
