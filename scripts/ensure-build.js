#!/usr/bin/env node
// Builds dist/ (tsc -p tsconfig.build.json) when it is missing or older than what it is built
// from, so `npm start` never runs stale JavaScript after an edit or a pull, and a fresh clone
// needs no separate build step. Plain JavaScript: it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(import.meta.dirname, '..');
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json'];
/** tsc writes every output on each build, so this file's time is the build's. */
const STAMP = join(root, 'dist', 'cli.js');

function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs; // a deleted or renamed file changes its directory
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

/** true when dist/ holds a build of the current sources (or there are no sources to build from). */
export function buildIsCurrent() {
  const built = statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) return false;
  return INPUTS.every((input) => newest(join(root, input)) <= built);
}

export function build() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the build failed (tsc exited ${result.status ?? result.signal})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && !buildIsCurrent()) {
  process.stderr.write('imagegate: building dist/ (the sources changed or it is missing)...\n');
  try {
    build();
  } catch (err) {
    process.stderr.write(`imagegate: ${err.message}\n`);
    process.exit(1);
  }
}
