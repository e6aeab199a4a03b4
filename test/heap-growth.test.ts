/** `imagegate serve` grows V8's heap 4x between full collections unless node was given a growth. */
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../src/heap-growth.js';

describe('heap growth for a relay', () => {
  it("sets the growth when node's flags name none", () => {
    expect(HEAP_GROWING_PERCENT).toBe(300);
    expect(heapGrowthFlag([])).toBe('--heap-growing-percent=300');
    expect(heapGrowthFlag(['--enable-source-maps', '--max-old-space-size=512'])).toBe('--heap-growing-percent=300');
    // A flag that only starts alike is someone else's.
    expect(heapGrowthFlag(['--heap-growing-percentage=5'])).toBe('--heap-growing-percent=300');
  });

  it("leaves the operator's choice alone, spelled with dashes or underscores, with = or apart", () => {
    expect(heapGrowthFlag(['--heap-growing-percent=0'])).toBeNull();
    expect(heapGrowthFlag(['--max-old-space-size=512', '--heap_growing_percent=50'])).toBeNull();
    expect(heapGrowthFlag(['--heap-growing-percent', '100'])).toBeNull();
  });
});
