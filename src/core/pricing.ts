/**
 * Pricing: what a request reserves before it runs, what it is charged once it has run, and what
 * it cost the operator. Money is integer micro-dollars (1 USD = 1,000,000 micros) so sums are
 * exact; token prices are micros per 1M tokens. Pure: no I/O, no clock.
 *
 * Client prices are OpenAI's list prices (default-prices.ts) overlaid with the operator's
 * `pricing:` section of the config file (YAML, USD, snake_case):
 *
 * ```yaml
 * pricing:
 *   gpt-image-2:                       # a catalogue model or an alias from `models:`
 *     per_image:                       # USD per image, by size then quality
 *       1024x1024: { low: 0.01, medium: 0.04, high: 0.16 }
 *       1536x1024: { high: 0.24 }      # cells left out keep their inherited price
 *       auto: { high: 0.2 }            # optional: size `auto` at this price instead of the worst case
 *                                      # (per-image charges; token reservations still cover the list's worst case)
 *   my-alias:
 *     tokens: { text_input: 5, image_input: 10, image_output: 40 }   # USD per 1M tokens
 *   my-flat-alias:
 *     per_image: { 1024x1024: { medium: 0.05 } }
 *     tokens: null                     # charge per image even when the upstream reports usage
 * ```
 *
 * Sizes are WIDTHxHEIGHT (one of the model's sizes, or any valid custom size where its
 * capabilities take them, as gpt-image-2's do) or `auto`; qualities are the model's
 * (low/medium/high/auto, standard/hd, standard, or an operator model's own such as xhigh);
 * `tokens` needs text_input, image_input and image_output, optionally text_output (else text
 * output tokens are priced as image output), and is refused for models whose capabilities'
 * price units have no `token` (dall-e). USD becomes micros by Math.round(usd * 1e6).
 *
 * Lookups fall back: a model name -> its alias base(s) -> its upstream model -> its family
 * (gpt-image-2-vip -> gpt-image-2; an alias -> its base; gpt-image-1-mini has its own prices).
 * Per-image cells are inherited one by one along that chain, the nearest name winning, and the
 * operator's cells win over the list's for the same name; `tokens` is taken whole from the
 * nearest name that sets it (`null` included).
 *
 * Charging: when the model has token prices and the upstream reported `usage`, the charge is the
 * tokens (OpenAI bills GPT image models by tokens; its per-image table is derived from them).
 * Otherwise it is per delivered image at the size and quality the upstream reported. Either way
 * it is capped at the reservation (see finalPriceMicros). The operator's cost of a cell the list
 * has no price for (a quality or size only an operator's model has) is its client price.
 */
import { DEFAULT_PRICES, gptImage2SizeScale } from './default-prices.js';
import type { ImageJob, ImageUsage } from './job.js';
import { acceptedSizes, acceptsCustomSizes, rulesOwner, type ModelAlias, type ModelCatalogue, type ModelSpec } from './models.js';
import { customSizeProblem, parseSize } from './sizes.js';

/** Micros per 1M tokens. */
export interface TokenPrices {
  readonly textInput: number;
  readonly imageInput: number;
  readonly imageOutput: number;
  /** Text output tokens (gpt-image-1.5/2 report some); unset: priced as image output. */
  readonly textOutput?: number;
}

export interface ModelPrice {
  /** Micros per image, by size (`WxH` or `auto`) then quality. */
  readonly perImage?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** null: never charge by tokens, even when the upstream reports usage. */
  readonly tokens?: TokenPrices | null;
}

/** Model name -> its prices. */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** The size and quality the upstream says it produced, when it says. */
export interface ResolvedOutput {
  readonly size?: string;
  readonly quality?: string;
}

const MILLION = 1_000_000;

/**
 * Reservation estimates for token-priced models (all generous on purpose: an estimate that is
 * short makes the cap bite and the operator pays the difference; one that is long only holds
 * credit for the few seconds the request runs):
 * - prompt: one token per UTF-8 byte (byte-level BPE never has more tokens than bytes) plus
 *   PROMPT_OVERHEAD_TOKENS for whatever the upstream wraps around it;
 * - input images (and the mask): high input fidelity, INPUT_IMAGE_TOKENS_1024 tokens per
 *   1024x1024 scaled by pixel area, larger inputs counted as 2048x2048 (OpenAI's notes: about
 *   135 tokens at low fidelity, 3,050 at high; inputs are downscaled to fit 2048x2048);
 * - streams: PARTIAL_IMAGE_TOKENS image output tokens per partial image (OpenAI documents 100);
 * - all of the above once per image (n): gpt-image-2 is reported to bill n images as n separate
 *   generations, input included (community.openai.com/t/1381388).
 * The per-image part of a token model's reservation is at least the list per-image price
 * scaled by operator image output price / list image output price, so an operator who raises
 * only the token prices still reserves enough for the token charge.
 */
export const PROMPT_OVERHEAD_TOKENS = 64;
export const INPUT_IMAGE_TOKENS_1024 = 3_050;
const INPUT_IMAGE_MAX_PIXELS = 2048 * 2048;
export const PARTIAL_IMAGE_TOKENS = 100;

/** One model's prices after inheritance. */
interface EffectivePrice {
  readonly perImage: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly tokens: TokenPrices | undefined;
}

interface ReportedTokens {
  textInput: number;
  imageInput: number;
  imageOutput: number;
  textOutput: number;
}

/** One price table seen through the fallback chain, memoized per model name. */
class PriceView {
  private readonly cache = new Map<string, EffectivePrice>();

  constructor(
    /** Nearest last: later layers win for the same model name. */
    private readonly layers: readonly PriceTable[],
    private readonly chainOf: (spec: ModelSpec) => readonly string[],
  ) {}

  price(spec: ModelSpec): EffectivePrice {
    const cached = this.cache.get(spec.id);
    if (cached) return cached;
    const perImage = new Map<string, Map<string, number>>();
    let tokens: TokenPrices | null | undefined;
    // Farthest first, so nearer names overwrite.
    for (const name of [...this.chainOf(spec)].reverse()) {
      for (const layer of this.layers) {
        const entry = Object.hasOwn(layer, name) ? layer[name] : undefined;
        if (!entry) continue;
        for (const [size, row] of Object.entries(entry.perImage ?? {})) {
          const cells = perImage.get(size) ?? new Map<string, number>();
          for (const [quality, micros] of Object.entries(row)) cells.set(quality, micros);
          perImage.set(size, cells);
        }
        if (entry.tokens !== undefined) tokens = entry.tokens;
      }
    }
    const price: EffectivePrice = { perImage, tokens: tokens ?? undefined };
    this.cache.set(spec.id, price);
    return price;
  }
}

export class Pricing {
  private readonly client: PriceView;
  private readonly list: PriceView;
  private readonly aliasBase = new Map<string, string>();

  /**
   * @param overrides the operator's prices (Config.pricing; undefined: list prices only).
   * @param catalogue the model catalogue (with the config's aliases): every override must name one of its models.
   * @param aliases the config's model aliases (Config.modelAliases): how an alias falls back to its base.
   *   Without them an alias still falls back to its upstream model and family, which is wrong only
   *   for an alias whose upstream_model is not a priced name.
   * @param defaults the list prices (DEFAULT_PRICES).
   */
  constructor(overrides: PriceTable | undefined, catalogue: ModelCatalogue, aliases: readonly ModelAlias[] = [], defaults: PriceTable = DEFAULT_PRICES) {
    const own = overrides ?? {};
    for (const name of Object.keys(own)) {
      if (!catalogue.get(name)) throw new Error(`pricing names unknown model '${name}'`);
    }
    for (const alias of aliases) this.aliasBase.set(alias.name, alias.base);
    const chain = (spec: ModelSpec): readonly string[] => this.chain(spec);
    this.client = new PriceView([defaults, own], chain);
    this.list = new PriceView([defaults], chain);
  }

  /**
   * What to reserve before the request runs: `n` images at the job's size and quality, the
   * most expensive applicable price where either is `auto` (unless the table prices `auto`
   * itself); custom gpt-image-2 sizes scale the 1024x1024 price by the output tokens OpenAI's
   * calculator gives each. Token-priced models add the input, prompt and partial-image
   * estimates above, and reserve at least the list per-image price scaled by how far the
   * operator's image output token price is above the list's.
   */
  maxPriceMicros(job: ImageJob): number {
    return this.reserve(job, job.n);
  }

  /**
   * What to charge: the reported tokens when the model is token-priced and `usage` is
   * well-formed, else `delivered` images at the upstream's reported size/quality (the job's
   * for whichever it did not report, or reported with no price). 0 when nothing was delivered.
   *
   * Never more than the reservation for the images actually delivered
   * (maxPriceMicros of the job with n = delivered, which is at most maxPriceMicros(job)): the
   * reservation is what the key agreed to pay before the request ran, so anything above it
   * (an upstream that used more tokens than estimated, a relay that answered a larger size)
   * is the operator's to absorb, not the client's surprise.
   */
  finalPriceMicros(job: ImageJob, delivered: number, usage?: ImageUsage, resolved?: ResolvedOutput): number {
    const count = deliveredCount(job, delivered);
    if (count === 0) return 0;
    return Math.min(this.charged(this.client, job, count, usage, resolved), this.reserve(job, count));
  }

  /**
   * The operator's cost: the same computation against the list prices (no operator
   * overrides), times the channel's cost ratio (a reseller at 80% of list is 0.8), rounded to
   * whole micros. Not capped: it is what the upstream bills, whatever the client was charged,
   * so margin = finalPriceMicros - costMicros may be negative.
   */
  costMicros(job: ImageJob, delivered: number, usage?: ImageUsage, resolved?: ResolvedOutput, costRatio = 1): number {
    if (!Number.isFinite(costRatio) || costRatio < 0) throw new RangeError(`costRatio must be a finite number >= 0, not ${costRatio}`);
    const count = deliveredCount(job, delivered);
    if (count === 0) return 0;
    // A cell the list lacks (a quality or size only an operator's model has) costs its client price.
    const cost = this.actual(this.list, job, count, usage, resolved) ?? this.charged(this.client, job, count, usage, resolved);
    return Math.round(cost * costRatio);
  }

  /**
   * The sizes and qualities of a model that have no client price (`WxH/quality`, `custom sizes/quality`):
   * such a request could not be reserved. Empty for every built-in model; the config checks its own.
   */
  unpricedCells(spec: ModelSpec): string[] {
    const price = this.client.price(spec);
    const { capabilities } = spec;
    const sizes = [...new Set([...acceptedSizes(spec), spec.defaults.size ?? capabilities.defaultSize])];
    const qualities = [...new Set([...capabilities.qualities, spec.defaults.quality ?? capabilities.defaultQuality])];
    const missing: string[] = [];
    for (const quality of qualities) {
      for (const size of sizes) if (cellPrice(spec, price, size, quality) === undefined) missing.push(`${size}/${quality}`);
      // Custom sizes are priced from the 1024x1024 cell (flat-priced models: from their listed sizes, checked above).
      if (acceptsCustomSizes(spec) && !flatPerImage(spec) && quality !== 'auto' && price.perImage.get('1024x1024')?.get(quality) === undefined) {
        missing.push(`custom sizes/${quality} (priced from 1024x1024)`);
      }
    }
    return [...new Set(missing)];
  }

  /** A model's prices after fallbacks (client prices, or the list's), e.g. for a price list. */
  priceOf(spec: ModelSpec, which: 'client' | 'list' = 'client'): ModelPrice {
    const price = (which === 'client' ? this.client : this.list).price(spec);
    const perImage: Record<string, Record<string, number>> = {};
    for (const [size, cells] of price.perImage) perImage[size] = Object.fromEntries(cells);
    return { perImage, tokens: price.tokens ?? null };
  }

  /** The names a model's prices come from, nearest first. */
  private chain(spec: ModelSpec): string[] {
    const names = [spec.id];
    let name = spec.id;
    for (let base = this.aliasBase.get(name); base !== undefined && !names.includes(base); base = this.aliasBase.get(name)) {
      names.push(base);
      name = base;
    }
    for (const next of [spec.upstreamModel, spec.family]) if (!names.includes(next)) names.push(next);
    return names;
  }

  private reserve(job: ImageJob, count: number): number {
    const price = this.client.price(job.model);
    const each = this.reservePerImage(job.model, price, job.size, job.quality);
    const tokens = price.tokens;
    if (!tokens) return count * each;
    const images = job.inputs.mask ? [...job.inputs.images, job.inputs.mask] : job.inputs.images;
    const imageTokens = images.reduce((sum, image) => sum + inputImageTokens(image.width, image.height), 0);
    const textTokens = utf8Length(job.prompt) + PROMPT_OVERHEAD_TOKENS;
    const partialTokens = (job.stream?.partialImages ?? 0) * PARTIAL_IMAGE_TOKENS;
    const extra = tokenMicros(tokens, { textInput: textTokens, imageInput: imageTokens, imageOutput: partialTokens, textOutput: 0 });
    return count * (each + extra);
  }

  private reservePerImage(spec: ModelSpec, price: EffectivePrice, size: string, quality: string): number {
    const own = cellPrice(spec, price, size, quality);
    const listPrice = this.list.price(spec);
    const listCell = cellPrice(spec, listPrice, size, quality);
    let scaled: number | undefined;
    if (price.tokens && listPrice.tokens && listCell !== undefined && listPrice.tokens.imageOutput > 0) {
      scaled = mulDivCeil(listCell, price.tokens.imageOutput, listPrice.tokens.imageOutput);
    }
    if (own === undefined && scaled === undefined) throw new Error(`no price for ${spec.id} at size ${size}, quality ${quality}`);
    return Math.max(own ?? 0, scaled ?? 0);
  }

  private charged(view: PriceView, job: ImageJob, count: number, usage: ImageUsage | undefined, resolved: ResolvedOutput | undefined): number {
    const micros = this.actual(view, job, count, usage, resolved);
    if (micros === undefined) throw new Error(`no price for ${job.model.id} at size ${job.size}, quality ${job.quality}`);
    return micros;
  }

  /** What `count` images cost in `view`; undefined when it has no price for them. */
  private actual(view: PriceView, job: ImageJob, count: number, usage: ImageUsage | undefined, resolved: ResolvedOutput | undefined): number | undefined {
    const price = view.price(job.model);
    const reported = price.tokens && usage ? readUsage(usage, job.inputs.images.length > 0) : undefined;
    if (price.tokens && reported) return tokenMicros(price.tokens, reported);
    // What the upstream reported, each half falling back to what was asked when it has no price.
    const size = resolved?.size ?? job.size;
    const quality = resolved?.quality ?? job.quality;
    const each =
      cellPrice(job.model, price, size, quality) ??
      cellPrice(job.model, price, job.size, quality) ??
      cellPrice(job.model, price, size, job.quality) ??
      cellPrice(job.model, price, job.size, job.quality);
    return each === undefined ? undefined : count * each;
  }
}

/**
 * One image's price at a size and quality: the table's cell; else, for `auto`, the most
 * expensive applicable cell; else, for a custom size (models with custom sizes), the 1024x1024
 * cell scaled by output tokens (gpt-image-2's calculator), or, for a model billed per image alone,
 * the most expensive of its listed sizes' cells. Undefined when none applies (a size or
 * quality the model does not have).
 */
function cellPrice(spec: ModelSpec, price: EffectivePrice, size: string, quality: string): number | undefined {
  const exact = price.perImage.get(size)?.get(quality);
  if (exact !== undefined) return exact;
  const rules = spec.capabilities;
  if (quality === 'auto') {
    return maxDefined(
      pricedQualities(rules)
        .filter((q) => q !== 'auto')
        .map((q) => cellPrice(spec, price, size, q)),
    );
  }
  if (size === 'auto') {
    return maxDefined(
      acceptedSizes(spec)
        .filter((s) => s !== 'auto')
        .map((s) => cellPrice(spec, price, s, quality)),
    );
  }
  if (!rules.customSizes) return undefined;
  // A model billed per image only (no token unit: Seedream's) costs the same at any size it takes.
  if (flatPerImage(spec)) return maxDefined(acceptedSizes(spec).map((s) => price.perImage.get(s)?.get(quality)));
  const dims = parseSize(size);
  const reference = price.perImage.get('1024x1024')?.get(quality);
  if (!dims || reference === undefined) return undefined;
  const scale = gptImage2SizeScale(quality, dims.width, dims.height);
  return mulDivCeil(reference, scale.tokens, scale.referenceTokens);
}

/** Billed per image alone (no token prices): a custom size costs what its listed sizes cost, not gpt-image-2's token scale. */
function flatPerImage(spec: ModelSpec): boolean {
  return !spec.capabilities.priceUnits.includes('token');
}

/** The qualities a model's prices are under: its own, or (a model without quality levels, Recraft's) its default alone. */
function pricedQualities(rules: ModelSpec['capabilities']): readonly string[] {
  return rules.qualities.length > 0 ? rules.qualities : [rules.defaultQuality];
}

function maxDefined(values: readonly (number | undefined)[]): number | undefined {
  let max: number | undefined;
  for (const value of values) if (value !== undefined && (max === undefined || value > max)) max = value;
  return max;
}

/** ceil(a * b / c) for non-negative integers, exact (BigInt) whatever their size. */
function mulDivCeil(a: number, b: number, c: number): number {
  const divisor = BigInt(c);
  return Number((BigInt(a) * BigInt(b) + divisor - 1n) / divisor);
}

/** Tokens at micros-per-1M prices, rounded up to whole micros. */
function tokenMicros(prices: TokenPrices, tokens: ReportedTokens): number {
  const total =
    BigInt(tokens.textInput) * BigInt(prices.textInput) +
    BigInt(tokens.imageInput) * BigInt(prices.imageInput) +
    BigInt(tokens.imageOutput) * BigInt(prices.imageOutput) +
    BigInt(tokens.textOutput) * BigInt(prices.textOutput ?? prices.imageOutput);
  return Number((total + BigInt(MILLION) - 1n) / BigInt(MILLION));
}

/**
 * The token counts of an upstream's usage, or undefined when it is not usable (then the
 * per-image price applies). Without input_tokens_details, input tokens are image tokens when
 * the job had input images, text tokens otherwise; without output_tokens_details, all output
 * tokens are image tokens.
 */
function readUsage(usage: ImageUsage, hasImages: boolean): ReportedTokens | undefined {
  if (!isCount(usage.input_tokens) || !isCount(usage.output_tokens)) return undefined;
  const input = usage.input_tokens_details;
  const output = usage.output_tokens_details;
  const [textInput, imageInput] =
    isObject(input) && isCount(input.text_tokens) && isCount(input.image_tokens)
      ? [input.text_tokens, input.image_tokens]
      : hasImages
        ? [0, usage.input_tokens]
        : [usage.input_tokens, 0];
  const [imageOutput, textOutput] =
    isObject(output) && isCount(output.image_tokens) && isCount(output.text_tokens) ? [output.image_tokens, output.text_tokens] : [usage.output_tokens, 0];
  return { textInput, imageInput, imageOutput, textOutput };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deliveredCount(job: ImageJob, delivered: number): number {
  if (!Number.isInteger(delivered) || delivered < 0) throw new RangeError(`delivered must be a whole number >= 0, not ${delivered}`);
  return Math.min(delivered, job.n);
}

function inputImageTokens(width: number, height: number): number {
  return Math.max(1, mulDivCeil(INPUT_IMAGE_TOKENS_1024, Math.min(width * height, INPUT_IMAGE_MAX_PIXELS), 1024 * 1024));
}

/** UTF-8 length without allocating. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

// ---------------------------------------------------------------------------
// The config file's `pricing:` section

/** A bad `pricing:` entry; `field` is its path below `pricing` (e.g. `gpt-image-2.per_image.1024x1024.high`). */
export class PricingConfigError extends Error {
  override name = 'PricingConfigError';

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The most USD one price may be: keeps every sum a safe integer of micros. */
const MAX_USD = 1_000_000;

export function usdToMicros(usd: number): number {
  return Math.round(usd * MILLION);
}

/** 166650 -> "$0.16665"; whole cents keep two decimals ("$1.50"). */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  const fraction = String(abs % MILLION)
    .padStart(6, '0')
    .replace(/0+$/, '');
  return `${sign}$${Math.floor(abs / MILLION)}.${fraction.padEnd(2, '0')}`;
}

/**
 * The `pricing:` mapping of the config file (see the top of this file) as a PriceTable in
 * micros. `modelSpec` answers for built-in models and the config's aliases; it decides which
 * sizes and qualities a name may price. Throws PricingConfigError.
 */
export function parsePriceTable(value: unknown, modelSpec: (name: string) => ModelSpec | undefined): PriceTable {
  if (!isObject(value)) throw new PricingConfigError('', 'must be a mapping of model names to prices');
  const table: Record<string, ModelPrice> = {};
  for (const [name, entry] of Object.entries(value)) {
    const spec = modelSpec(name);
    if (!spec) throw new PricingConfigError(name, 'unknown model (price a built-in model or a name from models:)');
    table[name] = parseModelPrice(name, spec, entry);
  }
  return table;
}

function parseModelPrice(field: string, spec: ModelSpec, value: unknown): ModelPrice {
  if (!isObject(value)) throw new PricingConfigError(field, 'must be a mapping with per_image and/or tokens');
  for (const key of Object.keys(value)) {
    if (key !== 'per_image' && key !== 'tokens') throw new PricingConfigError(`${field}.${key}`, 'unknown key (use per_image or tokens)');
  }
  if (!('per_image' in value) && !('tokens' in value)) throw new PricingConfigError(field, 'sets neither per_image nor tokens');
  const price: { perImage?: Record<string, Record<string, number>>; tokens?: TokenPrices | null } = {};
  if ('per_image' in value) price.perImage = parsePerImage(`${field}.per_image`, spec, value.per_image);
  if ('tokens' in value) price.tokens = parseTokens(`${field}.tokens`, spec, value.tokens);
  return price;
}

function parsePerImage(field: string, spec: ModelSpec, value: unknown): Record<string, Record<string, number>> {
  if (!isObject(value) || Object.keys(value).length === 0) {
    throw new PricingConfigError(field, 'must be a mapping of sizes (WIDTHxHEIGHT or auto) to { quality: USD }');
  }
  const rules = spec.capabilities;
  const table: Record<string, Record<string, number>> = {};
  for (const [size, row] of Object.entries(value)) {
    const where = `${field}.${size}`;
    const problem = sizeProblem(spec, size);
    if (problem) throw new PricingConfigError(where, problem);
    if (!isObject(row) || Object.keys(row).length === 0) {
      throw new PricingConfigError(where, `must be a mapping of qualities (${rules.qualities.join(', ')}) to USD`);
    }
    const cells: Record<string, number> = {};
    const qualities = pricedQualities(rules);
    for (const [quality, usd] of Object.entries(row)) {
      if (!qualities.includes(quality)) {
        throw new PricingConfigError(`${where}.${quality}`, `unknown quality for ${ownerName(spec)} (use ${qualities.join(', ')})`);
      }
      cells[quality] = parseUsd(`${where}.${quality}`, usd);
    }
    table[size] = cells;
  }
  return table;
}

function sizeProblem(spec: ModelSpec, size: string): string | null {
  if (size === 'auto') return null;
  const dims = parseSize(size);
  if (!dims) return 'a size must be WIDTHxHEIGHT or auto';
  const rules = spec.capabilities;
  if (rules.sizes.includes(size)) return null;
  if (!rules.customSizes) return `not a size of ${ownerName(spec)} (use ${rules.sizes.join(', ')})`;
  const problem = rules.customSizeLimits ? customSizeProblem(dims, rules.customSizeLimits) : null;
  return problem ? `not a valid ${rulesOwner(spec).name} size: ${problem}` : null;
}

const TOKEN_FIELDS = { text_input: 'textInput', image_input: 'imageInput', image_output: 'imageOutput', text_output: 'textOutput' } as const;

function parseTokens(field: string, spec: ModelSpec, value: unknown): TokenPrices | null {
  if (!spec.capabilities.priceUnits.includes('token')) {
    throw new PricingConfigError(field, `${ownerName(spec)} ${rulesOwner(spec).isFamily ? 'are' : 'is'} priced per image only`);
  }
  if (value === null) return null;
  if (!isObject(value)) {
    throw new PricingConfigError(field, 'must be a mapping { text_input, image_input, image_output } of USD per 1M tokens, or null');
  }
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(TOKEN_FIELDS, key)) {
      throw new PricingConfigError(`${field}.${key}`, `unknown key (use ${Object.keys(TOKEN_FIELDS).join(', ')})`);
    }
  }
  for (const key of ['text_input', 'image_input', 'image_output'] as const) {
    if (value[key] === undefined) throw new PricingConfigError(`${field}.${key}`, 'is required (USD per 1M tokens)');
  }
  return {
    textInput: parseUsd(`${field}.text_input`, value.text_input),
    imageInput: parseUsd(`${field}.image_input`, value.image_input),
    imageOutput: parseUsd(`${field}.image_output`, value.image_output),
    ...(value.text_output !== undefined ? { textOutput: parseUsd(`${field}.text_output`, value.text_output) } : {}),
  };
}

/** Whose sizes and qualities a price may name: "gpt-image-1 models", or an operator's model by its id. */
function ownerName(spec: ModelSpec): string {
  const owner = rulesOwner(spec);
  return owner.isFamily ? `${owner.name} models` : owner.name;
}

function parseUsd(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_USD) {
    const shown = typeof value === 'number' || value === null || value === undefined ? String(value) : JSON.stringify(value);
    throw new PricingConfigError(field, `must be a number of USD from 0 to ${MAX_USD} (got ${shown})`);
  }
  return usdToMicros(value);
}
