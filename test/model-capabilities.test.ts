/**
 * Model capabilities as data: every rule is a field of the catalogue (core/models.ts), an
 * operator declares a model of its own in the config file (a base's capabilities plus
 * overrides, with clear errors), requests are judged and priced by those fields, answers fill
 * their defaults from them (core/resolved-parameters.ts), and no code outside the catalogue
 * compares a family name or a model id.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { GatewayError } from '../src/core/errors.js';
import { parseImageRequest, type ImageEndpoint } from '../src/core/image-request.js';
import type { ImageJob } from '../src/core/job.js';
import { BUILTIN_MODELS, describeCapabilities, FAMILY_RULES, ModelCatalogue, type ModelSpec } from '../src/core/models.js';
import { Pricing } from '../src/core/pricing.js';
import { resolveParameters } from '../src/core/resolved-parameters.js';

const dir = mkdtempSync(join(tmpdir(), 'imagegate-capabilities-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** loadConfig with a YAML file of this text. */
function configFrom(yaml: string): Config {
  const path = join(dir, `config-${++files}.yaml`);
  writeFileSync(path, yaml);
  return loadConfig({ IMAGEGATE_CONFIG: path });
}

function configError(yaml: string): string {
  try {
    configFrom(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError, but the config loaded');
}

/** A new dated model on gpt-image-2 with a quality tier above high, priced by the operator. */
const XHIGH = `
models:
  - name: gpt-image-2-2026-09-01
    base: gpt-image-2
    upstream_model: gpt-image-2-2026-09-01
    description: GPT Image 2 snapshot 2026-09-01
    capabilities:
      qualities: [auto, low, medium, high, xhigh]
pricing:
  gpt-image-2-2026-09-01:
    per_image:
      1024x1024: { xhigh: 0.5 }
      1536x1024: { xhigh: 0.4 }
      1024x1536: { xhigh: 0.4 }
      2048x2048: { xhigh: 0.9 }
      2048x1152: { xhigh: 0.8 }
      3840x2160: { xhigh: 1.2 }
      2160x3840: { xhigh: 1.2 }
`;

function parse(catalogue: ModelCatalogue, body: Record<string, unknown>, endpoint: ImageEndpoint = 'generations'): ImageJob {
  return parseImageRequest({ endpoint, body }, catalogue, 'req_caps').job;
}

function refusal(catalogue: ModelCatalogue, body: Record<string, unknown>, endpoint: ImageEndpoint = 'generations'): GatewayError {
  try {
    parse(catalogue, body, endpoint);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error(`expected a refusal of ${JSON.stringify(body)}`);
}

describe('a config-declared model with a new quality tier', () => {
  const config = configFrom(XHIGH);
  const catalogue = ModelCatalogue.withAliases(config.modelAliases);
  const pricing = new Pricing(config.pricing, catalogue, config.modelAliases);
  const spec = catalogue.get('gpt-image-2-2026-09-01') as ModelSpec;

  it('is its own model: the base family label, its own upstream name and qualities, the rest inherited', () => {
    expect(spec).toMatchObject({ family: 'gpt-image-2', upstreamModel: 'gpt-image-2-2026-09-01', description: 'GPT Image 2 snapshot 2026-09-01' });
    expect(spec.capabilities.qualities).toEqual(['auto', 'low', 'medium', 'high', 'xhigh']);
    expect(spec.capabilities).toEqual({ ...FAMILY_RULES['gpt-image-2'], qualities: ['auto', 'low', 'medium', 'high', 'xhigh'] });
    // The built-in family is untouched.
    expect(FAMILY_RULES['gpt-image-2'].qualities).toEqual(['auto', 'low', 'medium', 'high']);
  });

  it('accepts quality xhigh, which its base refuses', () => {
    expect(parse(catalogue, { model: spec.id, prompt: 'a comet', quality: 'xhigh' }).quality).toBe('xhigh');
    expect(refusal(catalogue, { model: 'gpt-image-2', prompt: 'a comet', quality: 'xhigh' })).toMatchObject({ status: 400, param: 'quality' });
  });

  it('prices xhigh at the operator price, custom sizes scaled from 1024x1024, the base qualities at the list price', () => {
    const xhigh = parse(catalogue, { model: spec.id, prompt: 'a comet', quality: 'xhigh', size: '1024x1024' });
    expect(pricing.maxPriceMicros(xhigh)).toBeGreaterThanOrEqual(500_000);
    expect(pricing.finalPriceMicros(xhigh, 1)).toBe(500_000);
    expect(pricing.finalPriceMicros({ ...xhigh, size: '2048x1152' }, 1)).toBe(800_000);
    // A custom size costs as gpt-image-2's calculator scales it (at its highest known quality).
    const custom = pricing.finalPriceMicros({ ...xhigh, size: '1536x864' }, 1);
    expect(custom).toBeGreaterThan(0);
    expect(custom).toBeLessThan(500_000);
    // auto reserves the dearest quality, xhigh included.
    expect(pricing.maxPriceMicros({ ...xhigh, quality: 'auto' })).toBeGreaterThanOrEqual(500_000);
    const medium = parse(catalogue, { model: spec.id, prompt: 'a comet', quality: 'medium', size: '1024x1024' });
    expect(pricing.finalPriceMicros(medium, 1)).toBe(52_680); // gpt-image-2's list price, by the family fallback
    // The operator's cost of a cell the list lacks is its client price.
    expect(pricing.costMicros(xhigh, 1, undefined, undefined, 0.5)).toBe(250_000);
    expect(pricing.unpricedCells(spec)).toEqual([]);
  });

  it('shows its capabilities with the new tier', () => {
    expect(describeCapabilities(spec)).toMatchObject({ family: 'gpt-image-2', qualities: ['auto', 'low', 'medium', 'high', 'xhigh'], default_quality: 'auto' });
  });

  it('without a price for its new tier, the config fails naming what to add', () => {
    const message = configError(XHIGH.slice(0, XHIGH.indexOf('pricing:')));
    expect(message).toBe(
      'IMAGEGATE_CONFIG: models[0] (gpt-image-2-2026-09-01): no price for auto/xhigh, 1024x1024/xhigh, 1536x1024/xhigh, 1024x1536/xhigh, ' +
        '2048x2048/xhigh, 2048x1152/xhigh, 3840x2160/xhigh, 2160x3840/xhigh, custom sizes/xhigh (priced from 1024x1024) (size/quality); ' +
        'set them under pricing.gpt-image-2-2026-09-01.per_image (USD per image, by size then quality)',
    );
  });
});

describe('config-declared models: overrides and their errors', () => {
  const config = configFrom(`
models:
  - name: square-only
    base: gpt-image-1
    capabilities:
      sizes: [1024x1024, 2048x2048]
      default_size: 1024x1024
      max_n: 2
      output_formats: [png, webp]
      backgrounds: [opaque, auto]
      streaming: false
      edits: { max_images: 2 }
      styles: [comic, photo]
  - name: no-inputs
    base: gpt-image-2-4k
    capabilities:
      edits: false
      qualities: [low, high]
      default_quality: low
  - name: dalle-plain
    base: dall-e-2
    capabilities:
      variations: false
pricing:
  square-only:
    per_image:
      2048x2048: { low: 0.02, medium: 0.08, high: 0.3 }
`);
  const catalogue = ModelCatalogue.withAliases(config.modelAliases);
  const ok = { prompt: 'a lighthouse' };

  it('its own sizes: exactly those, priced; aspect ratios pick the nearest', () => {
    expect(parse(catalogue, { ...ok, model: 'square-only' }).size).toBe('1024x1024');
    expect(parse(catalogue, { ...ok, model: 'square-only', size: '2048x2048' }).size).toBe('2048x2048');
    expect(refusal(catalogue, { ...ok, model: 'square-only', size: '1536x1024' })).toMatchObject({ status: 400, code: 'invalid_value', param: 'size' });
    expect(refusal(catalogue, { ...ok, model: 'square-only', size: 'auto' })).toMatchObject({ status: 400, param: 'size' });
    const square = catalogue.get('square-only') as ModelSpec;
    expect(square.capabilities.customSizes).toBe(false);
    expect(square.capabilities.aspectRatioSizes).toBeUndefined();
    expect(new Pricing(config.pricing, catalogue, config.modelAliases).unpricedCells(square)).toEqual([]);
  });

  it.each([
    ['n above its max_n', { model: 'square-only', n: 3 }, 'invalid_value', 'n'],
    ['an output format it does not list', { model: 'square-only', output_format: 'jpeg' }, 'invalid_value', 'output_format'],
    ['a background it does not list', { model: 'square-only', background: 'transparent' }, 'invalid_value', 'background'],
    ['stream on a model that does not stream', { model: 'square-only', stream: true }, 'unsupported_parameter', 'stream'],
    ['partial_images on a model that does not stream', { model: 'square-only', partial_images: 1 }, 'unsupported_parameter', 'partial_images'],
    ['a style outside its own enum', { model: 'square-only', style: 'vivid' }, 'invalid_value', 'style'],
    [
      'more reference images than it takes',
      { model: 'square-only', image: ['https://a.example/1.png', 'https://a.example/2.png', 'https://a.example/3.png'] },
      'too_many_images',
      'image',
    ],
    ['reference images on a model without edits', { model: 'no-inputs', image: ['https://a.example/1.png'] }, 'invalid_value', 'image'],
    ['a quality it dropped', { model: 'no-inputs', quality: 'medium' }, 'invalid_value', 'quality'],
  ] as const)('refuses %s with a 400 naming its param', (_name, body, code, param) => {
    expect(refusal(catalogue, { ...ok, ...body })).toMatchObject({ status: 400, type: 'invalid_request_error', code, param });
  });

  it('refuses operations the capabilities lack with the param the endpoint names', () => {
    expect(refusal(catalogue, { ...ok, model: 'no-inputs', images: [{ image_url: 'https://a.example/1.png' }] }, 'edits')).toMatchObject({
      status: 400,
      param: 'model',
    });
    expect(refusal(catalogue, { model: 'dalle-plain', image: 'https://a.example/1.png' }, 'variations')).toMatchObject({ status: 400, param: 'model' });
    // The built-in base keeps its variations.
    expect(parse(catalogue, { model: 'dall-e-2', image: 'https://a.example/1.png' }, 'variations').operation).toBe('variation');
  });

  it('the accepted values take their own enums', () => {
    const job = parse(catalogue, { ...ok, model: 'square-only', style: 'comic', output_format: 'webp', n: 2 });
    expect(job).toMatchObject({ style: 'comic', outputFormat: 'webp', n: 2 });
    // A size-group override drops the base's own size list and defaults; a quality override keeps sizes.
    expect(parse(catalogue, { ...ok, model: 'no-inputs' })).toMatchObject({ size: '3840x2160', quality: 'low' });
    expect(parse(catalogue, { ...ok, model: 'no-inputs', size: 'auto' }).size).toBe('3840x2160');
  });

  const entry = (capabilities: string, base = 'gpt-image-2') =>
    `models:\n  - name: mine\n    base: ${base}\n    capabilities:\n${capabilities
      .trim()
      .split('\n')
      .map((l) => `      ${l}`)
      .join('\n')}\n`;

  it.each([
    ['an unknown capability', entry('colours: 16'), /^IMAGEGATE_CONFIG: models\[0\]\.capabilities\.colours \(mine\): unknown capability \(use sizes, /],
    [
      'a default quality outside the qualities',
      entry('qualities: [low, high]\ndefault_quality: medium'),
      /^IMAGEGATE_CONFIG: models\[0\]\.capabilities\.default_quality \(mine\): the default quality 'medium' is not among the qualities \(low, high\)$/,
    ],
    [
      'qualities without the inherited default',
      entry('qualities: [low, high]'),
      /capabilities\.qualities \(mine\): the default quality 'auto' is not among the qualities \(low, high\); set default_quality$/,
    ],
    ['a quality that is not a word', entry('qualities: [auto, "Extra High"]'), /capabilities\.qualities\[1\] \(mine\): must be a quality name/],
    [
      'a size that is not WxH',
      entry('sizes: [1024x1024, big]\ndefault_size: 1024x1024'),
      /capabilities\.sizes\[1\] \(mine\): must be a size \(WIDTHxHEIGHT or auto\)/,
    ],
    [
      'a default size outside the sizes',
      entry('sizes: [1024x1024]\ndefault_size: 2048x2048'),
      /capabilities\.default_size \(mine\): the default size '2048x2048' is not among the sizes/,
    ],
    [
      'custom sizes on a base without their limits',
      entry('custom_sizes: true', 'gpt-image-1'),
      /capabilities\.custom_sizes \(mine\): gpt-image-1 has no custom-size limits/,
    ],
    ['max_n out of range', entry('max_n: 11'), /capabilities\.max_n \(mine\): must be a whole number from 1 to 10 \(got 11\)/],
    ['an unknown output format', entry('output_formats: [png, gif]'), /capabilities\.output_formats\[1\] \(mine\): must be one of png, jpeg, webp/],
    [
      'more input images than the base takes',
      entry('edits: { max_images: 17 }'),
      /capabilities\.edits\.max_images \(mine\): must be a whole number from 1 to 16/,
    ],
    ['edits on a base without them', entry('edits: { max_images: 1 }', 'dall-e-3'), /capabilities\.edits \(mine\): dall-e-3 takes no input images/],
    ['variations on a base without them', entry('variations: true'), /capabilities\.variations \(mine\): gpt-image-2 makes no variations/],
    [
      'streaming without output formats',
      entry('streaming: { max_partial_images: 2 }', 'dall-e-3'),
      /capabilities\.streaming \(mine\): dall-e-3 has no output formats/,
    ],
    ['capabilities that are not a mapping', entry('- sizes'), /capabilities \(mine\): must be a mapping of capability overrides/],
  ])('%s is a clear config error', (_name, yaml, message) => {
    expect(configError(yaml)).toMatch(message);
  });
});

describe('resolveParameters: one set of defaults for JSON answers and stream events', () => {
  const catalogue = ModelCatalogue.withAliases([]);
  const job = (body: Record<string, unknown>) => parse(catalogue, { prompt: 'p', ...body });

  it('a GPT model left to choose: JSON answers report what is known, stream events every field', () => {
    const gpt = job({});
    expect(resolveParameters(gpt, {}, 'known')).toEqual({ outputFormat: 'png' });
    expect(resolveParameters(gpt, {}, 'complete')).toEqual({ size: 'auto', quality: 'auto', background: 'auto', outputFormat: 'png' });
  });

  it('the upstream’s word wins, except over an output format the client asked for', () => {
    const gpt = job({ size: '1024x1024', quality: 'high', output_format: 'webp', background: 'opaque' });
    const reported = { size: '1536x1024', quality: 'medium', background: 'auto', outputFormat: 'png' };
    const expected = { size: '1536x1024', quality: 'medium', background: 'auto', outputFormat: 'webp' };
    expect(resolveParameters(gpt, reported, 'known')).toEqual(expected);
    expect(resolveParameters(gpt, reported, 'complete')).toEqual(expected);
    expect(resolveParameters(gpt, {}, 'known')).toEqual({ size: '1024x1024', quality: 'high', background: 'opaque', outputFormat: 'webp' });
  });

  it('a model without output formats reports none (dall-e)', () => {
    expect(resolveParameters(job({ model: 'dall-e-3' }), {}, 'known')).toEqual({ size: '1024x1024', quality: 'standard' });
  });
});

describe('GET /v1/models/{id}: describeCapabilities', () => {
  const catalogue = ModelCatalogue.withAliases([]);
  const describe_ = (id: string) => describeCapabilities(catalogue.get(id) as ModelSpec);

  it('gpt-image-2: custom sizes with their limits, streaming, edits, tokens', () => {
    expect(describe_('gpt-image-2')).toEqual({
      family: 'gpt-image-2',
      sizes: ['auto', '1024x1024', '1536x1024', '1024x1536', '2048x2048', '2048x1152', '3840x2160', '2160x3840'],
      custom_sizes: { edge_multiple: 16, max_edge: 3840, max_aspect: 3, min_pixels: 655_360, max_pixels: 8_294_400 },
      default_size: 'auto',
      qualities: ['auto', 'low', 'medium', 'high'],
      default_quality: 'auto',
      max_n: 10,
      max_prompt_chars: 32_000,
      output_formats: ['png', 'jpeg', 'webp'],
      default_output_format: 'png',
      output_compression: true,
      backgrounds: ['opaque', 'auto'],
      moderations: ['low', 'auto'],
      styles: null,
      streaming: { max_partial_images: 3 },
      edits: { max_images: 16, max_bytes: 50 * 1024 * 1024, formats: ['png', 'webp', 'jpeg'], max_side: 16_384, max_pixels: 8192 * 8192, square: false },
      input_fidelity: true,
      variations: false,
      price_units: ['image', 'token'],
    });
  });

  it('a sized relay name shows its own sizes and defaults; dall-e-2 its square inputs and variations', () => {
    expect(describe_('gpt-image-2-4k')).toMatchObject({
      sizes: ['3840x2160', '2160x3840'],
      custom_sizes: false,
      default_size: '3840x2160',
      default_quality: 'medium',
    });
    expect(describe_('dall-e-2')).toMatchObject({
      output_formats: [],
      default_output_format: null,
      streaming: false,
      edits: { max_images: 1, formats: ['png'], square: true },
      variations: { max_images: 1, square: true },
      price_units: ['image'],
    });
    expect(describe_('dall-e-3')).toMatchObject({ styles: ['vivid', 'natural'], edits: false, variations: false, max_n: 1 });
  });

  it('every built-in model has a description that is plain JSON', () => {
    for (const spec of BUILTIN_MODELS) expect(JSON.parse(JSON.stringify(describeCapabilities(spec)))).toEqual(describeCapabilities(spec));
  });
});

/**
 * Rules live in the catalogue: outside src/core/models.ts, no code of the gateway compares a model
 * family or a model id (the upstream simulators, sim/, are not the gateway's code).
 */
describe('no family or model-id comparisons outside the catalogue', () => {
  const MODEL_LITERAL = String.raw`['"\`](?:gpt-image|dall-e|chatgpt-image)[^'"\`]*['"\`]`;
  const COMPARISONS: readonly RegExp[] = [
    /\.family\s*[!=]==?/, // job.model.family === ...
    /[!=]==?\s*[\w.?]*\.family\b/, // ... === spec.family
    /\bfamily\s*[!=]==?\s*['"`]/, // family === 'dall-e-2'
    /['"`]\s*[!=]==?\s*family\b/, // 'dall-e-2' === family
    new RegExp(`${MODEL_LITERAL}\\s*[!=]==?`), // 'dall-e-3' === x
    new RegExp(`[!=]==?\\s*${MODEL_LITERAL}`), // x === 'gpt-image-2'
    new RegExp(`\\.(?:includes|startsWith|endsWith|match|test)\\(\\s*${MODEL_LITERAL}`), // id.startsWith('gpt-image')
    new RegExp(`\\bcase\\s+${MODEL_LITERAL}`), // case 'dall-e-2':
  ];

  /** The lines of `source` that compare a family or a model id (comments skipped). */
  function comparisons(source: string): string[] {
    return source.split('\n').filter((line) => {
      const code = line.trim();
      if (code.startsWith('//') || code.startsWith('*') || code.startsWith('/*')) return false;
      return COMPARISONS.some((pattern) => pattern.test(code));
    });
  }

  function sourceFiles(root: string): string[] {
    return readdirSync(root).flatMap((name) => {
      const path = join(root, name);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      return path.endsWith('.ts') ? [path] : [];
    });
  }

  it('the check finds each kind of comparison it looks for', () => {
    const offenders = [
      "const isDalle = job.model.family === 'dall-e-2';",
      "if (spec.family !== 'gpt-image-1') return;",
      'if (family === "dall-e-3") return null;',
      "return 'dall-e-2' === model.family;",
      "if (model.id === 'gpt-image-2-4k') x();",
      "const mini = name.startsWith('gpt-image-1');",
      "  case 'dall-e-3':",
    ];
    for (const line of offenders) expect(comparisons(line), line).toEqual([line]);
    // What is not a comparison: IP address families, data, messages, comments.
    for (const line of [
      'if (family === 4) return parseV4(ip);',
      "model('dall-e-3', 'dall-e-3', 'DALL·E 3'),",
      "// spec.family === 'dall-e-2' once lived here",
    ]) {
      expect(comparisons(line), line).toEqual([]);
    }
  });

  it('src/ outside core/models.ts has none', () => {
    const src = join(import.meta.dirname, '..', 'src');
    const found = sourceFiles(src)
      .filter((path) => {
        const rel = relative(src, path).split('\\').join('/');
        return rel !== 'core/models.ts';
      })
      .flatMap((path) => comparisons(readFileSync(path, 'utf8')).map((line) => `${relative(src, path)}: ${line.trim()}`));
    expect(found).toEqual([]);
  });
});
