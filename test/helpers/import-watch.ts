/**
 * A module hook for a child gateway: prints each package the process imports as an ES module
 * (`package-import <name>` on stderr), so a test can tell what start-up loaded and what waited for
 * first use. Bare specifiers only: node: built-ins, relative paths and file URLs are ours or Node's.
 * What CommonJS code require()s (packages' own dependencies, which the ES module hook never sees)
 * is printed apart, as `package-require <name>`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onCleanup } from './cleanup.js';

/** NODE_OPTIONS for the child: this process's own plus the watch. */
export async function importWatchOptions(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'imagegate-import-watch-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'hooks.mjs'),
    [
      "import { writeSync } from 'node:fs';",
      'export async function resolve(specifier, context, next) {',
      "  if (!/^(node:|\\.|\\/|file:|data:)/.test(specifier)) writeSync(2, 'package-import ' + specifier + '\\n');",
      '  return next(specifier, context);',
      '}',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'register.mjs'),
    [
      "import { writeSync } from 'node:fs';",
      "import Module, { isBuiltin, register } from 'node:module';",
      "register('./hooks.mjs', import.meta.url);",
      // require() goes through Module._load, which the hooks above do not see on Node 20.
      'const load = Module._load;',
      'Module._load = function (request, ...rest) {',
      "  if (!isBuiltin(request) && !/^(\\.|\\/)/.test(request)) writeSync(2, 'package-require ' + request + '\\n');",
      '  return load.call(this, request, ...rest);',
      '};',
    ].join('\n'),
  );
  return `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(join(dir, 'register.mjs')).href}`.trim();
}

/** The packages a watched child imported, by their specifiers (`undici`, `@opentelemetry/api`...), each once. */
export function importedPackages(output: string): string[] {
  return [...new Set([...output.matchAll(/^package-import (\S+)$/gm)].map((m) => m[1] ?? ''))];
}

/** The packages a watched child loaded by require() (from CommonJS code: packages' own dependencies), each once. */
export function requiredPackages(output: string): string[] {
  return [...new Set([...output.matchAll(/^package-require (\S+)$/gm)].map((m) => m[1] ?? ''))];
}

/** Whether `pkg` or one of its subpaths (`pkg/...`) was imported. */
export function imported(packages: readonly string[], pkg: string): boolean {
  return packages.some((p) => p === pkg || p.startsWith(`${pkg}/`));
}
