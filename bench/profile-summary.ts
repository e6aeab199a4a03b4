/**
 * Where a .cpuprofile spends its time: top functions by self time and by total (inclusive)
 * time, as file:line; with --callers, who calls the frames whose label contains a string.
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 25] [--callers writev]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function label(node: Node): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (url === '') return name;
  const path = url.startsWith('file://') ? relative(process.cwd(), fileURLToPath(url)) : url;
  return `${name} ${path}:${lineNumber + 1}`;
}

/** Self time per node: each sample's delta goes to the node it landed in. */
function selfTimes(profile: Profile): Map<number, number> {
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  return self;
}

/** Inclusive time per label, counting recursive frames once. */
function totals(profile: Profile, self: Map<number, number>): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const result = new Map<string, number>();
  const visit = (node: Node, onStack: Set<string>): number => {
    const key = label(node);
    const fresh = !onStack.has(key);
    if (fresh) onStack.add(key);
    let time = self.get(node.id) ?? 0;
    for (const child of node.children ?? []) {
      const c = byId.get(child);
      if (c) time += visit(c, onStack);
    }
    if (fresh) {
      onStack.delete(key);
      result.set(key, (result.get(key) ?? 0) + time);
    }
    return time;
  };
  const root = profile.nodes[0];
  if (root) visit(root, new Set());
  return result;
}

function print(title: string, entries: Map<string, number>, totalUs: number, top: number): void {
  process.stdout.write(`\n${title}\n`);
  const rows = [...entries].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of rows) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
  }
}

/** Self time of the matching frames, by the chain of their nearest `depth` callers. */
function callers(profile: Profile, self: Map<number, number>, pattern: string, depth: number): Map<string, number> {
  const parent = new Map<number, Node>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);
  const result = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0 || !label(node).includes(pattern)) continue;
    const chain: string[] = [];
    for (let p = parent.get(node.id); p !== undefined && chain.length < depth; p = parent.get(p.id)) chain.push(label(p));
    const key = `${label(node)}  <-  ${chain.join('  <-  ')}`;
    result.set(key, (result.get(key) ?? 0) + us);
  }
  return result;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, callers: { type: 'string' }, depth: { type: 'string', default: '4' } },
});
const file = positionals[0];
if (file === undefined) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--callers TEXT] [--depth N]');
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const self = selfTimes(profile);
const totalUs = profile.endTime - profile.startTime;
const selfByLabel = new Map<string, number>();
for (const node of profile.nodes) {
  const us = self.get(node.id) ?? 0;
  if (us > 0) selfByLabel.set(label(node), (selfByLabel.get(label(node)) ?? 0) + us);
}
process.stdout.write(`profile: ${(totalUs / 1e6).toFixed(1)} s wall\n`);
print('Self time', selfByLabel, totalUs, top);
print('Total time (inclusive)', totals(profile, self), totalUs, top);
if (values.callers !== undefined) {
  print(`Callers of '${values.callers}' (self time)`, callers(profile, self, values.callers, Number(values.depth)), totalUs, top);
}
