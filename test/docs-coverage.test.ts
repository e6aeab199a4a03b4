/**
 * What users read keeps up with the code: every channel kind is in README's Upstreams table (with a
 * config) and in docs/configuration.md, and every environment variable the configuration reads, and
 * every config-file key, is documented in docs/configuration.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_FILE_KEYS } from '../src/config.js';
import { CHANNEL_KINDS } from '../src/core/channel.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

describe('docs coverage', () => {
  it('README lists every channel kind in its Upstreams table with a config that names it; docs/configuration.md has each too', () => {
    const readme = read('README.md');
    const upstreams = readme.slice(readme.indexOf('## Upstreams'), readme.indexOf('\n## ', readme.indexOf('## Upstreams') + 1));
    const configuration = read('docs/configuration.md');
    for (const kind of CHANNEL_KINDS) {
      const row = upstreams.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${kind}\``));
      expect(row, `README's Upstreams table has no row for ${kind}`).toBeDefined();
      if (kind !== 'demo') expect(row, `README's row for ${kind} has no config`).toContain(`kind: ${kind}`);
      expect(configuration, `docs/configuration.md does not mention ${kind}`).toContain(`\`${kind}\``);
    }
  });

  it('every IMAGEGATE_* variable src/config.ts reads and every config-file key is in docs/configuration.md', () => {
    const configuration = read('docs/configuration.md');
    const variables = [...new Set(read('src/config.ts').match(/\bIMAGEGATE_[A-Z0-9_]+\b/g) ?? [])];
    expect(variables.length).toBeGreaterThan(30);
    expect(variables.filter((name) => !configuration.includes(name))).toEqual([]);
    expect(CONFIG_FILE_KEYS.filter((key) => !configuration.includes(key))).toEqual([]);
  });
});
