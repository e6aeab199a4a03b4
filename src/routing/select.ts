/** Channel choice: the highest priority tier first, weighted random within it. Pure. */
import type { Channel } from '../core/channel.js';

export function chooseChannel<C extends Pick<Channel, 'priority' | 'weight'>>(candidates: readonly C[], random: () => number = Math.random): C | undefined {
  if (candidates.length === 0) return undefined;
  const top = Math.max(...candidates.map((c) => c.priority));
  const tier = candidates.filter((c) => c.priority === top);
  const total = tier.reduce((sum, c) => sum + c.weight, 0);
  // All weights 0: nobody asked for a share, so share equally.
  if (total <= 0) return tier[Math.floor(random() * tier.length)];
  let point = random() * total;
  for (const c of tier) {
    point -= c.weight;
    if (point < 0) return c;
  }
  return tier.at(-1);
}
