/** The report's time range: a preset span ending now, or whole days picked by hand. */
import { dayBound } from '../gallery/format';

export const PRESETS = [
  { id: '24h', label: '24 h', ms: 24 * 3600_000 },
  { id: '7d', label: '7 d', ms: 7 * 86_400_000 },
  { id: '30d', label: '30 d', ms: 30 * 86_400_000 },
] as const;
export type PresetId = (typeof PRESETS)[number]['id'];

export type RangeChoice = { preset: PresetId; from: number } | { preset: 'custom'; fromDay: string; toDay: string };

/** A preset's range, fixed when chosen (a query key must not change on every render). */
export function presetRange(preset: PresetId, now = Date.now()): RangeChoice {
  const span = PRESETS.find((p) => p.id === preset)?.ms ?? PRESETS[1].ms;
  return { preset, from: now - span };
}

/** The report's `from` and `to` (epoch ms; `to` left out for "until now"). */
export function rangeQuery(range: RangeChoice): { from: number | undefined; to: number | undefined } {
  if (range.preset !== 'custom') return { from: range.from, to: undefined };
  return { from: dayBound(range.fromDay, 'start'), to: dayBound(range.toDay, 'end') };
}
