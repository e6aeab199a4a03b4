/**
 * Import rules: docs/design.md, "Arrows point one way", as dependency-cruiser rules (`npm run lint:imports`).
 *
 *   http | inputs | providers -> spool        http -> inputs -> net
 *   http -> pipeline | tasks -> billing, routing -> providers, output -> storage
 *   tasks | billing | routing -> redis        everything may use core; core imports nothing of ours
 *   tasks calls pipeline, never the reverse   a provider never touches the database, billing or HTTP clients' requests
 *   app -> metrics (a leaf beside core; only it imports prom-client)
 *   app -> tracing (a leaf beside core; only it imports OpenTelemetry, and loads it only when tracing is on)
 *   app -> safety (a leaf beside core; only its worker imports TensorFlow.js and nsfwjs, loaded only when a check is on)
 *   outside src/: sim -> core; nothing in src/ imports sim/, test/ or bench/
 *
 * Each arrow is encoded as the imports it rules out: the reverse of an arrow, or what a folder below it reaches for.
 * Type-only imports count (a provider importing a db table type is still a provider knowing the database), except in
 * cycles: a cycle made of erased type imports (ImageJob <-> ModelSpec in core/) costs nothing at run time.
 */

/** Paths under src/, as the regular expressions the rules take. */
const SRC = '^src/';
const dir = (...names) => `^src/(${names.join('|')})/`;
const PIPELINE = '^src/pipeline\\.ts$';

/** A module in `from` may import, of ours, only what `may` matches (node: built-ins and packages are not ours). */
const onlyOurs = (name, comment, from, may) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: SRC, pathNot: may },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    onlyOurs(
      'core-imports-nothing-of-ours',
      'core/ is the pure domain vocabulary: it imports nothing of ours (everything may use core).',
      dir('core'),
      dir('core'),
    ),
    {
      name: 'pipeline-never-calls-tasks',
      comment: 'tasks/ calls the pipeline, never the reverse.',
      severity: 'error',
      from: { path: PIPELINE },
      to: { path: dir('tasks') },
    },
    {
      name: 'only-http-and-entry-points-run-jobs',
      comment:
        'http -> pipeline | tasks: only the dialects (http/), the composition root (app.ts) and the CLI commands call the pipeline or ' +
        'tasks/; nothing below them (billing, routing, output, providers, storage, inputs, net, spool, redis, db, core) does.',
      severity: 'error',
      from: { path: dir('billing', 'routing', 'output', 'providers', 'storage', 'inputs', 'net', 'spool', 'redis', 'db', 'core') },
      to: { path: [PIPELINE, dir('tasks')] },
    },
    {
      name: 'only-http-speaks-http',
      comment:
        'http/ is the only code that speaks HTTP to clients: nothing below it imports it (the CLI commands and app.ts, above it, may; ' +
        "a provider never touches HTTP clients' requests).",
      severity: 'error',
      from: { path: SRC, pathNot: [dir('http', 'commands'), '^src/(app|cli)\\.ts$'] },
      to: { path: dir('http') },
    },
    {
      name: 'fastify-only-in-http',
      comment: 'Fastify, its plugins and the route schemas (TypeBox) belong to http/.',
      severity: 'error',
      from: { path: SRC, pathNot: [dir('http'), '^src/app\\.ts$'] },
      to: { path: '(^|/)node_modules/(fastify|@fastify|@sinclair/typebox)/' },
    },
    {
      name: 'app-holds-the-server-by-type-only',
      comment: 'app.ts, the composition root, returns the Fastify instance http/ built: it may name its type, not build one.',
      severity: 'error',
      from: { path: '^src/app\\.ts$' },
      to: { dependencyTypesNot: ['type-only'], path: '(^|/)node_modules/(fastify|@fastify|@sinclair/typebox)/' },
    },
    onlyOurs(
      'providers-speak-only-their-protocol',
      'A provider takes an ImageJob and a channel and returns images or events: it never touches the database, billing or HTTP ' +
        "clients' requests, and imports only core/, spool/ (providers -> spool) and providers/.",
      dir('providers'),
      dir('providers', 'core', 'spool'),
    ),
    {
      name: 'output-and-storage-below-the-run',
      comment:
        'pipeline | tasks -> billing, routing -> providers; pipeline -> output -> storage: output/ and storage/ serve the run, ' +
        'they never reach back for its routing or its credits.',
      severity: 'error',
      from: { path: dir('output', 'storage') },
      to: { path: dir('routing', 'billing') },
    },
    {
      name: 'storage-never-imports-output',
      comment: 'output -> storage, one way.',
      severity: 'error',
      from: { path: dir('storage') },
      to: { path: dir('output') },
    },
    {
      name: 'inputs-stay-below-http',
      comment: 'http -> inputs -> net: inputs/ imports only core/, net/ and spool/.',
      severity: 'error',
      from: { path: dir('inputs') },
      to: { path: SRC, pathNot: dir('inputs', 'core', 'net', 'spool') },
    },
    onlyOurs('net-imports-only-core', 'http -> inputs -> net (tasks -> net for webhooks): net/ is a leaf beside core/.', dir('net'), dir('net', 'core')),
    onlyOurs('spool-imports-only-core', 'http | inputs | providers -> spool: spool/ is a leaf beside core/.', dir('spool'), dir('spool', 'core')),
    onlyOurs('redis-imports-only-core', 'tasks | billing | routing -> redis: redis/ is a leaf beside core/.', dir('redis'), dir('redis', 'core')),
    onlyOurs(
      'metrics-imports-only-core',
      'app -> metrics: metrics/ implements the sinks of core/metrics-sink.ts with prom-client; a leaf beside core/ (the code it counts calls the sinks).',
      dir('metrics'),
      dir('metrics', 'core'),
    ),
    {
      name: 'prom-client-only-in-metrics',
      comment: 'Only metrics/ speaks prom-client: routing, billing, tasks and http report through core/metrics-sink.ts.',
      severity: 'error',
      from: { path: SRC, pathNot: dir('metrics') },
      to: { path: '(^|/)node_modules/prom-client/' },
    },
    {
      name: 'heavy-packages-load-when-used',
      comment:
        'Start-up loads none of these (time and RSS, docs/deploy.md): sharp through core/sharp-loader.ts, undici through core/undici-loader.ts, ' +
        'the docs page (Swagger UI) through http/docs-page.ts, which http/api-docs.ts imports at the first /docs request, the OpenAPI generator ' +
        'through http/openapi-on-demand.ts at the first call of app.swagger(), the others by import() ' +
        'where first used (koffi by http/malloc-trim.ts, at the first quiet spell); types may be imported anywhere. test/startup-imports.e2e.test.ts checks the running process.',
      severity: 'error',
      from: { path: SRC, pathNot: ['^src/core/(sharp|undici)-loader\\.ts$', '^src/http/(docs-page|openapi-on-demand)\\.ts$'] },
      to: {
        path: '(^|/)node_modules/(sharp|undici|google-auth-library|pino-pretty|yaml|koffi|@fastify/swagger|@fastify/swagger-ui|@fastify/static)/',
        dependencyTypesNot: ['type-only', 'dynamic-import'],
      },
    },
    {
      name: 'kysely-values-from-its-commonjs-build',
      comment:
        "Kysely's values come from db/kysely.ts, which loads its CommonJS build (half the start-up time of its ES module build); its types may be imported from 'kysely' anywhere.",
      severity: 'error',
      from: { path: SRC, pathNot: '^src/db/kysely\\.ts$' },
      to: { path: '(^|/)node_modules/kysely/', dependencyTypesNot: ['type-only'] },
    },
    onlyOurs(
      'tracing-imports-only-core',
      'app -> tracing: tracing/ implements core/spans.ts with OpenTelemetry; a leaf beside core/ (the code it traces calls the Spans it is given).',
      dir('tracing'),
      dir('tracing', 'core'),
    ),
    {
      name: 'only-the-composition-root-starts-tracing',
      comment: 'app.ts starts tracing and hands its Spans down; config.ts reads its settings (settings.ts). Nothing else imports tracing/.',
      severity: 'error',
      from: { path: SRC, pathNot: [dir('tracing'), '^src/app\\.ts$', '^src/config\\.ts$'] },
      to: { path: dir('tracing') },
    },
    {
      name: 'opentelemetry-only-in-tracing',
      comment:
        'Only tracing/ speaks OpenTelemetry (and imports it only dynamically, once tracing is on): routing, providers, storage, ' +
        'tasks and http trace through core/spans.ts.',
      severity: 'error',
      from: { path: SRC, pathNot: dir('tracing') },
      to: { path: '(^|/)node_modules/@opentelemetry/' },
    },
    onlyOurs(
      'safety-imports-only-core',
      'app -> safety: safety/ implements core/image-safety.ts (the content-safety classifier) in worker threads; a leaf beside core/.',
      dir('safety'),
      dir('safety', 'core'),
    ),
    {
      name: 'only-the-composition-root-uses-safety',
      comment: 'app.ts makes the classifier (importing it only when a check is on) and hands it down as core/image-safety.ts; nothing else imports safety/.',
      severity: 'error',
      from: { path: SRC, pathNot: [dir('safety'), '^src/app\\.ts$'] },
      to: { path: dir('safety') },
    },
    {
      name: 'tensorflow-only-in-the-safety-worker',
      comment:
        "TensorFlow.js and nsfwjs (~100 MB of modules, ~180 MB resident with the model) load only in the classifier's worker threads: " +
        'only safety/nsfw-worker.ts imports them, and only the worker pool runs it.',
      severity: 'error',
      from: { path: SRC, pathNot: '^src/safety/nsfw-worker\\.ts$' },
      to: { path: '(^|/)node_modules/(@tensorflow|nsfwjs)/' },
    },
    {
      name: 'nothing-imports-the-safety-worker',
      comment: 'nsfw-worker.ts is a worker_thread entry (it loads TensorFlow.js at its top level): the pool runs it by its file name, nothing imports it.',
      severity: 'error',
      from: {},
      to: { path: '^src/safety/nsfw-worker\\.ts$' },
    },
    {
      name: 'only-the-cli-imports-the-composition-root',
      comment: 'app.ts wires everything and cli.ts dispatches to commands/: no module of src/ imports them back.',
      severity: 'error',
      from: { path: SRC, pathNot: '^src/cli\\.ts$' },
      to: { path: ['^src/(app|cli)\\.ts$', dir('commands')], pathNot: '^src/commands/usage-error\\.ts$' },
    },
    {
      name: 'src-never-imports-dev-code',
      comment: 'src/ is what ships (tsconfig.build.json builds src/ only): it never imports the simulators (sim/), tests or benchmarks.',
      severity: 'error',
      from: { path: SRC },
      to: { path: '^(sim|test|bench)/' },
    },
    onlyOurs(
      'sim-imports-only-core',
      'Outside src/, sim -> core: the simulators read the catalogue (and its size rules) from core/, nothing else of the gateway; ' +
        'and they draw their text as the demo channel does (providers/demo/text.ts and its font.ts), so that every script shows.',
      '^sim/',
      [dir('core'), '^src/providers/demo/(text|font)\\.ts$'],
    ),
    {
      name: 'sim-never-imports-tests',
      comment: 'The simulators (sim/) are used by tests, the demo and the benchmarks; they never import test/ or bench/.',
      severity: 'error',
      from: { path: '^sim/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles at run time (a cycle through type-only imports is erased at compile time).',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'src-never-imports-dev-dependencies',
      comment: 'A production install (npm ci --omit=dev) has no devDependencies: src/ must not need them.',
      severity: 'error',
      from: { path: SRC },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'console-only-speaks-http',
      comment:
        'The web console (web/) reaches the gateway only through its public HTTP API: it imports nothing of the server, the ' +
        'simulators or the tests, and they import nothing of it.',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^(src|sim|test|bench)/' },
    },
    {
      name: 'nothing-imports-the-console',
      comment: 'The console is its own Vite build, served as files (http/console.ts): no server code imports its sources.',
      severity: 'error',
      from: { path: '^(src|sim)/' },
      to: { path: '^web/' },
    },
    {
      name: 'no-unresolvable-imports',
      comment: 'Every import resolves to a file (tsc says so too; this keeps the rules above from missing an import they cannot see).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-undeclared-packages',
      comment: "Every package imported is declared in package.json (not merely present as another package's dependency).",
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports are dependencies too (see above).
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.json'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
