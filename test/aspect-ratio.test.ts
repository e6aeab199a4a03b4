/**
 * aspect_ratio (the task API dialect) -> size: every table entry is a size its family accepts, the nearest
 * in shape it has, and the parser takes it; unknown ratios and shapes a family lacks are 400s
 * naming aspect_ratio.
 */
import { describe, expect, it } from 'vitest';
import { ASPECT_RATIOS, ASPECT_RATIO_SIZES, ratioValue, shapeDistance, sizeForAspectRatio, sizeForModel, type AspectRatio } from '../src/core/aspect-ratio.js';
import { GatewayError } from '../src/core/errors.js';
import { parseGenerationRequest } from '../src/core/image-request.js';
import { BUILTIN_MODELS, FAMILY_RULES, ModelCatalogue, type ModelFamily } from '../src/core/models.js';
import { customSizeProblem, parseSize } from '../src/core/sizes.js';

const FAMILIES = Object.keys(FAMILY_RULES) as ModelFamily[];
const SHAPED = ASPECT_RATIOS.filter((r): r is Exclude<AspectRatio, 'auto'> => r !== 'auto');
const catalogue = ModelCatalogue.withAliases([]);

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

function shapeOf(size: string): number {
  const dims = parseSize(size);
  if (!dims) throw new Error(`not a WxH size: ${size}`);
  return dims.width / dims.height;
}

/** Enumerated WxH sizes of a family (no auto). */
const enumerated = (family: ModelFamily) => FAMILY_RULES[family].sizes.filter((s) => s !== 'auto');

describe('the table', () => {
  it('lists the ratios the task API shows and the other common ones', () => {
    for (const ratio of ['1:1', '3:2', '2:3', '4:3', '3:4', '16:9', '9:16', '21:9', '9:21', 'auto']) expect(ASPECT_RATIOS).toContain(ratio);
    for (const family of FAMILIES) expect(Object.keys(ASPECT_RATIO_SIZES[family]).sort()).toEqual([...ASPECT_RATIOS].sort());
  });

  describe.each(FAMILIES)('%s', (family) => {
    const rules = FAMILY_RULES[family];

    it.each(ASPECT_RATIOS.map((r) => [r]))('%s is a size the family accepts', (ratio) => {
      const size = ASPECT_RATIO_SIZES[family][ratio];
      if (size === null) {
        // dall-e-2 makes squares only; a family whose only size is auto answers in its input's shape.
        if (!rules.sizes.every((s) => s === 'auto')) expect(family).toBe('dall-e-2');
        return;
      }
      if (rules.sizes.includes(size)) return;
      expect(rules.customSizes, `${size} is not enumerated for ${family}`).toBe(true);
      const dims = parseSize(size);
      expect(dims).not.toBeNull();
      if (dims && rules.customSizeLimits) expect(customSizeProblem(dims, rules.customSizeLimits)).toBeNull();
    });

    it.each(SHAPED.map((r) => [r]))('%s is the nearest shape the family has', (ratio) => {
      const size = ASPECT_RATIO_SIZES[family][ratio];
      const target = ratioValue(ratio);
      if (size === null) {
        // Refused only where the family has no size of that exact shape.
        expect(enumerated(family).some((s) => Math.abs(shapeOf(s) - target) < 1e-9)).toBe(false);
        return;
      }
      if (rules.customSizes) {
        expect(shapeOf(size)).toBeCloseTo(target, 9);
        return;
      }
      const distance = shapeDistance(shapeOf(size), target);
      for (const other of enumerated(family)) expect(distance).toBeLessThanOrEqual(shapeDistance(shapeOf(other), target));
    });
  });

  it('dall-e-2 makes squares only', () => {
    expect(SHAPED.filter((r) => ASPECT_RATIO_SIZES['dall-e-2'][r] !== null)).toEqual(['1:1']);
  });

  it('gpt-image-2 sizes stay near one megapixel (like 1024x1024 and 1536x1024)', () => {
    for (const ratio of SHAPED) {
      const dims = parseSize(ASPECT_RATIO_SIZES['gpt-image-2'][ratio] ?? '');
      expect(dims).not.toBeNull();
      if (dims) expect(dims.width * dims.height).toBeGreaterThanOrEqual(1_000_000);
      if (dims) expect(dims.width * dims.height).toBeLessThanOrEqual(1_600_000);
    }
  });
});

describe('sizeForAspectRatio', () => {
  it('maps the task API document examples', () => {
    expect(sizeForAspectRatio('16:9', 'gpt-image-2')).toBe('1536x864');
    expect(sizeForAspectRatio('4:3', 'gpt-image-2')).toBe('1280x960');
    expect(sizeForAspectRatio('3:4', 'gpt-image-1')).toBe('1024x1536');
    expect(sizeForAspectRatio('1:1', 'dall-e-2')).toBe('1024x1024');
    expect(sizeForAspectRatio('16:9', 'dall-e-3')).toBe('1792x1024');
    expect(sizeForAspectRatio('auto', 'gpt-image-2')).toBe('auto');
    expect(sizeForAspectRatio('auto', 'dall-e-3')).toBe('1024x1024');
    expect(sizeForAspectRatio(' 21:9 ', 'gpt-image-2')).toBe('1680x720');
  });

  it.each([['7:5'], ['16x9'], [''], ['1:1:1'], ['landscape'], ['0:1']])('refuses %j with a 400 naming aspect_ratio', (ratio) => {
    expect(refusal(() => sizeForAspectRatio(ratio, 'gpt-image-2'))).toMatchObject({ status: 400, param: 'aspect_ratio', code: 'invalid_value' });
  });

  it('refuses a non-square ratio on dall-e-2 as invalid_value', () => {
    const err = refusal(() => sizeForAspectRatio('16:9', 'dall-e-2'));
    expect(err).toMatchObject({ status: 400, param: 'aspect_ratio', code: 'invalid_value' });
    expect(err.message).toMatch(/square/);
  });
});

describe('sizeForModel', () => {
  const model = (id: string) => {
    const spec = catalogue.get(id);
    if (!spec) throw new Error(`no model ${id}`);
    return spec;
  };

  it('uses the family table for models without their own size list', () => {
    expect(sizeForModel('16:9', model('gpt-image-2-beta'))).toBe('1536x864');
    expect(sizeForModel('16:9', model('gpt-image-1.5'))).toBe('1536x1024');
  });

  it("picks the nearest of a sized name's sizes", () => {
    expect(sizeForModel('16:9', model('gpt-image-2-1k'))).toBe('1536x1024');
    expect(sizeForModel('9:16', model('gpt-image-2-1k'))).toBe('1024x1536');
    expect(sizeForModel('16:9', model('gpt-image-2-2k'))).toBe('2048x1152');
    expect(sizeForModel('3:4', model('gpt-image-2-2k'))).toBe('2048x2048');
    expect(sizeForModel('9:16', model('gpt-image-2-4k'))).toBe('2160x3840');
    expect(sizeForModel('auto', model('gpt-image-2-4k'))).toBe('auto');
  });

  it('refuses a ratio exactly between two sizes of a sized name', () => {
    expect(refusal(() => sizeForModel('1:1', model('gpt-image-2-4k')))).toMatchObject({ status: 400, param: 'aspect_ratio' });
  });

  it('every model accepts the size each ratio becomes; only shapes a model lacks (or sits exactly between) are refused', () => {
    const refused: string[] = [];
    for (const spec of BUILTIN_MODELS) {
      for (const ratio of ASPECT_RATIOS) {
        let size: string;
        try {
          size = sizeForModel(ratio, spec);
        } catch (err) {
          expect(err, `${spec.id} ${ratio}`).toBeInstanceOf(GatewayError);
          expect(err).toMatchObject({ status: 400, param: 'aspect_ratio' });
          refused.push(`${spec.id} ${ratio}`);
          continue;
        }
        const job = parseGenerationRequest({ model: spec.id, prompt: 'a ratio', size }, catalogue, 'req').job;
        if (size !== 'auto') expect(job.size, `${spec.id} ${ratio}`).toBe(size);
      }
    }
    // Refused: dall-e-2's non-square shapes, and ratios exactly between two of a sized name's sizes.
    const dallE2 = SHAPED.filter((r) => r !== '1:1').map((r) => `dall-e-2 ${r}`);
    // And every shape of a model that answers in its input image's shape (size auto only).
    const inputShaped = BUILTIN_MODELS.filter((m) => m.capabilities.sizes.every((s) => s === 'auto')).flatMap((m) => SHAPED.map((r) => `${m.id} ${r}`));
    expect(refused.sort()).toEqual(['gpt-image-2-2k 4:3', 'gpt-image-2-4k 1:1', ...dallE2, ...inputShaped].sort());
  });
});
