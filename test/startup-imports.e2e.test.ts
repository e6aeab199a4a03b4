/**
 * What start-up loads: a gateway started (as `imagegate serve`, a child process with a module
 * watch) and answering its health probe, the model list and the admin API has imported none of the
 * packages that only some requests need; each is imported when first used. The rule
 * heavy-packages-load-when-used (.dependency-cruiser.cjs) keeps static imports of them out of src/;
 * this proves the running process agrees, for what packages require() of each other too (the docs
 * page's packages load the YAML writer and @fastify/static that way).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { spawnGateway } from './helpers/child-gateway.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { imported, importedPackages, importWatchOptions, requiredPackages } from './helpers/import-watch.js';

// The child gateway, its simulator and data dir go after the test (without this they outlived the suite).
closeAfterEach();

/** Loaded at first use, never at start: each costs start time or resident memory a start may not need. */
const LOADED_WHEN_USED = ['undici', 'sharp', 'google-auth-library', 'pino-pretty', 'yaml', '@fastify/send', '@opentelemetry/sdk-trace-base'];
/** The OpenAPI document's generator and the docs page (with @fastify/static): loaded at the first /openapi.json or /docs. */
const LOADED_FOR_THE_DOCS = ['@fastify/swagger', '@fastify/swagger-ui', '@fastify/static', 'json-schema-resolver'];

describe('start-up imports', () => {
  it('a started gateway answering /healthz, /v1/models and the admin API has imported none of the first-use packages; a relayed generation then imports undici, the docs page its packages', async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-startup-imports-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const key = 'sk-startup-imports';
    const gateway = await spawnGateway({
      // The channel from the environment: a config file (JSON too) loads the YAML parser, as it should.
      OPENAI_API_KEY: 'sk-upstream-startup-imports',
      OPENAI_BASE_URL: upstream.baseURL,
      IMAGEGATE_DATA_DIR: dataDir,
      IMAGEGATE_API_KEYS: key,
      IMAGEGATE_ADMIN_KEY: 'admin-startup-imports',
      NODE_OPTIONS: await importWatchOptions(),
      OTEL_TRACES_EXPORTER: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
    });
    onCleanup(() => gateway.stop());

    expect((await fetch(`${gateway.origin}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.origin}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`${gateway.origin}/admin/api/channels`, { headers: { authorization: 'Bearer admin-startup-imports' } })).status).toBe(200);
    const atStart = [...importedPackages(gateway.output()), ...requiredPackages(gateway.output())];
    expect(atStart).toContain('fastify');
    expect(requiredPackages(gateway.output())).toContain('avvio'); // fastify's own require()s are seen
    expect([...LOADED_WHEN_USED, ...LOADED_FOR_THE_DOCS].filter((pkg) => imported(atStart, pkg))).toEqual([]);

    const client = new OpenAI({ apiKey: key, baseURL: `${gateway.origin}/v1`, maxRetries: 0, timeout: 60_000 });
    const answer = await client.images.generate({ model: 'dall-e-2', prompt: 'first use', size: '256x256', response_format: 'b64_json' });
    expect(answer.data?.[0]?.b64_json?.length).toBeGreaterThan(100);
    expect(imported(importedPackages(gateway.output()), 'undici')).toBe(true);

    // The docs page and the document, asked for: now their packages load.
    const docs = await fetch(`${gateway.origin}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger-ui-bundle.js');
    expect((await fetch(`${gateway.origin}/openapi.json`)).status).toBe(200);
    const afterDocs = [...importedPackages(gateway.output()), ...requiredPackages(gateway.output())];
    expect(LOADED_FOR_THE_DOCS.filter((pkg) => !imported(afterDocs, pkg))).toEqual([]);
  }, 120_000);
});
