#!/usr/bin/env node
// Builds what `npm start` serves when it is missing or older than what it is built from, so
// `npm start` never runs stale JavaScript after an edit or a pull, and a fresh clone needs no
// separate build step: dist/ (tsc -p tsconfig.build.json) bundled into dist/bundle/
// (scripts/bundle.js), and the web console, dist/console/ (vite build --config web/vite.config.ts).
// Plain JavaScript: it runs before anything is compiled.
//
//   node scripts/ensure-build.js            both (what npm start does first, in its own process: scripts/start.js); a console that fails to build is reported, and the API still starts
//   node scripts/ensure-build.js --console  the console only, failing when it cannot be built (the browser tests)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

/** What each build reads, and the file whose time is the build's (each build writes it every time). */
const SERVER = { inputs: ['src', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.js'], stamp: join(root, 'dist', 'bundle', 'cli.js') };
const CONSOLE = { inputs: ['web', 'package-lock.json'], stamp: join(root, 'dist', 'console', 'index.html') };

function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs; // a deleted or renamed file changes its directory
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

function isCurrent({ inputs, stamp }) {
  const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) return false;
  return inputs.every((input) => newest(join(root, input)) <= built);
}

function run(what, script, args) {
  const result = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${what} failed (exited ${result.status ?? result.signal})`);
}

/** true when dist/ holds a build of the current sources (or there are no sources to build from). */
export function buildIsCurrent() {
  return isCurrent(SERVER);
}

export function build() {
  run('the build', require.resolve('typescript/bin/tsc'), ['-p', join(root, 'tsconfig.build.json')]);
  run('the bundle', join(root, 'scripts', 'bundle.js'), []);
}

export function consoleBuildIsCurrent() {
  return isCurrent(CONSOLE);
}

/** Vite is a devDependency: an install without them (npm ci --omit=dev) serves the API and a "not built" console page. */
function viteBin() {
  try {
    return join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    return undefined;
  }
}

/**
 * Builds the console, one builder at a time: browser test files start together, and two Vite builds
 * emptying dist/console/ at once would delete each other's files. The others wait, then find it current.
 */
export function buildConsole() {
  const vite = viteBin();
  if (!vite) throw new Error('vite is not installed (a production install without devDependencies): run npm ci, then npm run build:console');
  const lock = join(root, 'dist', '.console-build.lock');
  mkdirSync(join(root, 'dist'), { recursive: true });
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a builder killed mid-way is stale after the longest a build takes.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`another console build held ${lock} for 5 minutes`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!consoleBuildIsCurrent()) run('the console build', vite, ['build', '--config', join(root, 'web', 'vite.config.ts')]);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * What `npm start` (scripts/start.js) and this script do: builds what is missing or stale. A failed
 * server build exits; a failed console build is reported and the API starts without it (with
 * `consoleOnly`, it exits too).
 */
export function ensureBuilt({ consoleOnly = false } = {}) {
  try {
    if (!consoleOnly && !buildIsCurrent()) {
      process.stderr.write('imagegate: building dist/ and dist/bundle/ (the sources changed or they are missing)...\n');
      build();
    }
  } catch (err) {
    process.stderr.write(`imagegate: ${err.message}\n`);
    process.exit(1);
  }
  if (!consoleBuildIsCurrent()) {
    process.stderr.write('imagegate: building the web console, dist/console/ (web/ changed or it is missing)...\n');
    try {
      buildConsole();
    } catch (err) {
      process.stderr.write(`imagegate: ${err.message}${consoleOnly ? '' : '; starting without it (/console/ says how to build it)'}\n`);
      if (consoleOnly) process.exit(1);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureBuilt({ consoleOnly: process.argv.includes('--console') });
