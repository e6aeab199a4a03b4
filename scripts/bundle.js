#!/usr/bin/env node
// Bundles the compiled build (dist/, from tsc) into dist/bundle/: what `npm start` runs. Node 20
// loads an ES module graph file by file (resolve, read, compile, link each of ~600 modules: ours,
// Fastify's, ajv's, Kysely's), which was most of a start; one bundle of a few files starts in
// about 60% of the time. esbuild (Vite's bundler, already installed with it) does the bundling.
//
// Left out of the bundle and loaded from node_modules as before: packages with native addons or
// files of their own read at run time, those loaded only when configured, and every package our
// code imports with import() (loaded when first used; see lazyPackagesExternal).
// Dynamic imports of our own modules become chunks beside cli.js, loaded when first used.
// dist/bundle/ is two folders below the package root, as dist/http/ is: the paths our modules
// make from import.meta.url (../../package.json, ../../dist/console/) hold in the bundle too.
// `node scripts/bundle.js --bench` bundles the bench's gateway and pipe from the sources the same
// way, into bench/.build/ (bench/lib/built.ts).
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'dist', 'bundle');

export const EXTERNAL = [
  // native addons
  'better-sqlite3',
  'sharp',
  'pg',
  'pg-native',
  // files of their own at run time (worker scripts, static files, WASM)
  'pino',
  'pino-pretty',
  'thread-stream',
  '@fastify/swagger-ui',
  '@fastify/swagger',
  '@tensorflow/*',
  'nsfwjs',
  'tsx',
  // loaded only when configured (Redis, S3, Vertex AI, a YAML config, tracing; OpenTelemetry's API
  // has one copy, shared by the gateway's spans and the SDK that tracing loads)
  '@opentelemetry/*',
  'bullmq',
  'ioredis',
  '@aws-sdk/*',
  'google-auth-library',
  'yaml',
];

/**
 * A package our code imports with import() stays in node_modules: it is loaded when first used, as
 * unbundled, and Node gives a CommonJS package's named exports to import() (esbuild would make such a
 * package a chunk exporting only its default: undici's Agent, OpenTelemetry's classes undefined).
 */
const lazyPackagesExternal = {
  name: 'lazy-packages-external',
  setup(bundle) {
    bundle.onResolve({ filter: /^[^./]/ }, ({ path, kind }) => (kind === 'dynamic-import' && !path.startsWith('node:') ? { path, external: true } : undefined));
  },
};

/**
 * db/kysely.ts requires Kysely's CommonJS build through createRequire, which a bundler cannot follow;
 * in the bundle it is a plain require(), which esbuild bundles. Fails the build if that line moved.
 */
const kyselyRequired = {
  name: 'kysely-required',
  setup(bundle) {
    bundle.onLoad({ filter: /[\\/](dist[\\/]db[\\/]kysely\.js|src[\\/]db[\\/]kysely\.ts)$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const call = "createRequire(import.meta.url)('kysely')";
      if (!source.includes(call)) throw new Error(`${path} no longer has ${call}: update scripts/bundle.js`);
      return { contents: source.replace(call, "require('kysely')"), loader: path.endsWith('.ts') ? 'ts' : 'js' };
    });
  },
};

export async function bundle() {
  await bundleInto(outdir, { cli: 'dist/cli.js', ...WORKERS('dist', 'js') });
}

/** The worker thread's script: an entry of its own, beside the chunk that starts it (which finds it by its own URL). */
const WORKERS = (dir, ext) => ({ 'nsfw-worker': `${dir}/safety/nsfw-worker.${ext}` });

/**
 * The bench's servers (gateway and pipe), bundled from the sources as `npm start`'s build is, into
 * bench/.build/: the bench measures what production runs, not tsx compiling in the process (66 MB
 * of the gateway's idle RSS, and 33 MB more in each worker thread).
 */
export async function bundleBench() {
  await bundleInto(join(root, 'bench', '.build'), { gateway: 'bench/servers/gateway.ts', pipe: 'bench/servers/pipe.ts', ...WORKERS('src', 'ts') });
}

async function bundleInto(dir, entryPoints) {
  // Chunks are named by their hash: last build's would pile up.
  await rm(dir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir: dir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    plugins: [lazyPackagesExternal, kyselyRequired],
    // CommonJS packages in an ES module bundle call require() for Node's own modules.
    banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
    chunkNames: '[name]-[hash]',
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
  });
}

if (import.meta.filename === process.argv[1]) await (process.argv.includes('--bench') ? bundleBench() : bundle());
