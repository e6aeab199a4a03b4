/**
 * A content-safety classifier that cannot start, end to end: the real gateway on port 0, an OpenAI
 * simulator, the official SDK, and a classifier on the gateway's own worker pool
 * (src/safety/worker-pool.ts) whose worker script throws as it loads, as nsfwjs's would without its
 * model. A checked request gets 503 service_unavailable with Retry-After (not server_busy) and its
 * credits back; the next within the delay is refused without another start; unchecked requests
 * are served; the failure is logged at error level with its reason and counted in the metrics.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import type { ImageSafetyClassifier, SafetyScores } from '../src/core/image-safety.js';
import { WorkerPool } from '../src/safety/worker-pool.js';
import { adminJson, settledCredits, TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { startGateway } from './helpers/gateway.js';

closeAfterEach();

/** A classifier whose every worker fails to load; the script counts its starts in `loads`. */
async function unloadableClassifier(log: Logger): Promise<{ classifier: ImageSafetyClassifier; starts: () => Promise<number> }> {
  const dir = await mkdtemp(join(tmpdir(), 'imagegate-unloadable-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'worker.mjs'),
    [
      "import { appendFileSync } from 'node:fs';",
      "appendFileSync(new URL('./loads', import.meta.url), 'x');",
      "throw new Error('the model is not there');",
    ].join('\n'),
  );
  const pool = new WorkerPool<Uint8Array, SafetyScores>({
    script: pathToFileURL(join(dir, 'worker.mjs')),
    size: 1,
    queueLimit: 8,
    name: 'safety classifier',
    log,
  });
  const classifier: ImageSafetyClassifier = {
    classify: (image, signal) => pool.run(new Uint8Array(image), [], signal),
    close: () => pool.close(),
  };
  return { classifier, starts: async () => (await readFile(join(dir, 'loads'), 'utf8').catch(() => '')).length };
}

describe('a content check whose classifier cannot start', () => {
  it('is 503 service_unavailable with Retry-After and the credits back, without a start per request; unchecked requests are served', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (text: string) => void lines.push(text) });
    const { classifier, starts } = await unloadableClassifier(log);
    const sim = later(await startOpenAISimulator());
    const file = await writeConfigFile({ channels: [{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }, { safetyClassifier: classifier }));
    const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'checked', credits: 1, safety: { mode: 'block' } });
    const checked = new OpenAI({ apiKey: String(created.key), baseURL: gw.baseURL, maxRetries: 0, timeout: 60_000 });

    for (const attempt of [1, 2]) {
      const err = await checked.images.generate({ model: 'gpt-image-1', prompt: 'a calm lake at dawn', size: '1024x1024' }).catch((e: unknown) => e);
      expect(err, `attempt ${attempt}`).toBeInstanceOf(OpenAI.APIError);
      const apiError = err as InstanceType<typeof OpenAI.APIError>;
      expect([apiError.status, apiError.code, apiError.type]).toEqual([503, 'service_unavailable', 'server_error']);
      expect(apiError.message).toMatch(/content check is unavailable/);
      const retryAfter = Number(apiError.headers?.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(5);
    }
    // The second request was refused without starting another worker.
    expect(await starts()).toBe(1);
    const errors = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level >= 50);
    expect(errors.map((line) => line.msg)).toContainEqual(
      expect.stringMatching(/safety classifier: a worker failed to start \(.*the model is not there.*\); the next is tried in 5 s/),
    );

    // Refunded: the key's credits are whole again once both runs have settled.
    expect(await settledCredits(gw.origin, String(created.id), 1)).toBe(1);

    // Counted for alerting, one per image that could not be checked.
    const metrics = await (await fetch(`${gw.origin}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).text();
    expect(metrics).toMatch(/imagegate_content_check_failures_total\{reason="unavailable"\} 2/);

    // A key with no check is served as ever.
    const plain = await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'a calm lake at dawn', size: '1024x1024' });
    const link = plain.data?.[0]?.url;
    expect(link).toMatch(/\/files\//);
    expect((await fetch(link as string)).status).toBe(200);
  });
});
