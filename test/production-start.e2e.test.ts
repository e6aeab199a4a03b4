/**
 * The production start: the compiled build (`node dist/cli.js serve`, what `npm start` runs) in
 * one plain node process, no tsx. Builds dist/ first when the sources are newer (a tsc run, once).
 * How fast it starts and how much memory it holds is measured by `npm run bench:startup`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage } from './helpers/images.js';

const root = join(import.meta.dirname, '..');
let dataDir: string;

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-build.js')], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building dist/ failed:\n${built.stderr}${built.stdout}`);
  dataDir = await mkdtemp(join(tmpdir(), 'imagegate-dist-'));
}, 180_000);
afterAll(async () => rm(dataDir, { recursive: true, force: true }));

describe('the compiled build', () => {
  it('is what npm start runs', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('node dist/cli.js serve');
  });

  it('serves: /healthz answers and the demo channel makes an image; SIGTERM stops it with 0', async () => {
    const {
      OPENAI_API_KEY: _k,
      OPENAI_BASE_URL: _b,
      IMAGEGATE_API_KEYS: _a,
      IMAGEGATE_CONFIG: _c,
      DATABASE_URL: _d,
      REDIS_URL: _r,
      NODE_OPTIONS: _n,
      ...env
    } = process.env;
    const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve'], {
      cwd: root,
      env: { ...env, PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_DEMO_DELAY: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await expect.poll(() => /listening on (http:\/\/[\d.:]+)/.exec(out) ?? child.exitCode, { timeout: 20_000 }).toBeTruthy();
      const address = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
      expect(address, out).toBeDefined();

      const health = await fetch(`${address}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });

      const key = /^\s+(ig-\S+)$/m.exec(out)?.[1];
      expect(key, out).toBeDefined();
      const client = new OpenAI({ apiKey: key, baseURL: `${address}/v1`, maxRetries: 0 });
      const res = await client.images.generate({ model: 'gpt-image-2', prompt: 'from the compiled build', size: '1024x1024', response_format: 'b64_json' });
      const image = await describeImage(Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64'));
      expect(image).toEqual({ format: 'png', width: 1024, height: 1024 });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
