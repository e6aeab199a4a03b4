/** How the usage page writes a group's figures and names a group (the table and the charts alike). */
import type { UsageDimension, UsageGroup } from './types';

export const money = (value: number): string => `$${value.toFixed(4)}`;
export const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;
export const millis = (ms: number | null): string => (ms === null ? '—' : `${Math.round(ms)}`);

/** A group's name along one dimension, as the table and the axes show it. */
export function dimensionValue(group: UsageGroup, dimension: UsageDimension): string {
  switch (dimension) {
    case 'day':
      return group.day ?? '—';
    case 'model':
      return group.model ?? '(none)';
    case 'key':
      return group.key_name ?? group.key_id ?? '(no key)';
    case 'channel':
      return group.channel ?? '(no channel)';
  }
}

export function groupLabel(group: UsageGroup, dimensions: readonly UsageDimension[]): string {
  return dimensions.map((d) => dimensionValue(group, d)).join(' · ');
}
