/**
 * How a worker_thread runs a script of ours. Built (dist/), the script is plain JavaScript. Run from
 * the sources (tsx, vitest), it is TypeScript: Node 20 applies no `--import tsx` to a worker's own
 * entry, so the worker starts from a two-line bootstrap that registers tsx's ESM hooks in that
 * thread and then imports the script.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface WorkerSource {
  /** What `new Worker()` takes first: the script, or the bootstrap's code. */
  entry: URL | string;
  /** The entry is code to evaluate, not a file. */
  eval: boolean;
}

export function workerSource(script: URL): WorkerSource {
  if (!script.pathname.endsWith('.ts')) return { entry: script, eval: false };
  const code = `import(${JSON.stringify(tsxEsmApi())}).then(({ register }) => { register(); return import(${JSON.stringify(script.href)}); });`;
  return { entry: code, eval: true };
}

/** tsx's ESM API (`tsx/esm/api` under the import condition; its CommonJS twin cannot register ESM hooks), as a file URL. */
function tsxEsmApi(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('tsx/package.json');
  const manifest: unknown = require(manifestPath);
  const entry = esmApiEntry(manifest);
  if (entry === undefined) throw new Error(`tsx (${manifestPath}) exports no ESM API: the safety worker cannot run from the TypeScript sources`);
  return pathToFileURL(join(dirname(manifestPath), entry)).href;
}

function esmApiEntry(manifest: unknown): string | undefined {
  const exports = field(manifest, 'exports');
  const entry = field(field(field(exports, './esm/api'), 'import'), 'default');
  return typeof entry === 'string' ? entry : undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}
