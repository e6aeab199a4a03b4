/**
 * The production start: the compiled build, bundled (`node dist/bundle/cli.js serve`, what `npm start`
 * runs), in one plain node process, no tsx. Builds dist/ and its bundle first when the sources are newer.
 * How fast it starts and how much memory it holds is measured by `npm run bench:startup`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
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
  it('is what npm start runs, in its own process (no prestart hook)', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('node scripts/start.js serve');
    expect(pkg.scripts.prestart).toBeUndefined();
    // A data dir of its own: the next test reads the client key a first start prints.
    const ownDir = await mkdtemp(join(tmpdir(), 'imagegate-start-'));
    const bundle = await startBundle({ IMAGEGATE_DATA_DIR: ownDir }, join(root, 'scripts', 'start.js'));
    try {
      expect((await fetch(`${bundle.address}/healthz`)).status).toBe(200);
      // The server is this process: start.js ran the bundle in it, not as a child.
      const children = spawnSync('pgrep', ['-P', String(bundle.pid)], { encoding: 'utf8' }).stdout.trim();
      expect(children).toBe('');
    } finally {
      expect(await bundle.stop()).toBe(0);
      await rm(ownDir, { recursive: true, force: true });
    }
  });

  it('serves: /healthz answers and the demo channel makes an image; SIGTERM stops it with 0', async () => {
    const bundle = await startBundle({ IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_DEMO_DELAY: '0' });
    const { address } = bundle;
    const out = bundle.output;
    try {
      const health = await fetch(`${address}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });

      const key = /^\s+(ig-\S+)$/m.exec(out())?.[1];
      expect(key, out()).toBeDefined();
      const client = new OpenAI({ apiKey: key, baseURL: `${address}/v1`, maxRetries: 0 });
      const res = await client.images.generate({ model: 'gpt-image-2', prompt: 'from the compiled build', size: '1024x1024', response_format: 'b64_json' });
      const image = await describeImage(Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64'));
      expect(image).toEqual({ format: 'png', width: 1024, height: 1024 });

      // What the bundle finds by path: package.json (the document's version), the built console, Swagger UI's
      // files, and the content-safety worker (a bundle entry of its own, with TensorFlow.js from node_modules).
      const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
      const doc = (await (await fetch(`${address}/openapi.json`)).json()) as { info: { version: string } };
      expect(doc.info.version).toBe(pkg.version);
      const [consolePage, docsPage] = await Promise.all([fetch(`${address}/console/`), fetch(`${address}/docs/`)]);
      expect([consolePage.status, docsPage.status]).toEqual([200, 200]);
      expect(await consolePage.text()).toMatch(/<script[^>]+src="\/console\/assets\//);
      const checked = await fetch(`${address}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-image-2', prompt: 'checked by the classifier', size: '1024x1024', response_format: 'b64_json', nsfw_checker: true }),
      });
      expect(checked.status, await checked.clone().text()).toBe(200);
      const checkedImage = ((await checked.json()) as { data: { b64_json: string }[] }).data[0]?.b64_json ?? '';
      expect(await describeImage(Buffer.from(checkedImage, 'base64'))).toEqual({ format: 'png', width: 1024, height: 1024 });
      expect(out()).toMatch(/safety classifier: a worker is ready/);
    } finally {
      expect(await bundle.stop()).toBe(0);
    }
  }, 120_000);

  it('with an upstream, Redis and tracing configured: the image comes from the upstream through undici, spans go out over OTLP', async () => {
    // What the bundle loads from node_modules when configured (undici at the first upstream call, OpenTelemetry,
    // ioredis and BullMQ): each as Node loads it, named exports and all.
    const upstream = await startOpenAISimulator();
    const spans: string[] = [];
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        spans.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const otlp = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const configuredDir = await mkdtemp(join(tmpdir(), 'imagegate-dist-configured-'));
    const bundle = await startBundle({
      IMAGEGATE_DATA_DIR: configuredDir,
      IMAGEGATE_API_KEYS: 'ig-bundle-test-key',
      OPENAI_API_KEY: 'sk-bundle-test',
      OPENAI_BASE_URL: upstream.baseURL,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      const client = new OpenAI({ apiKey: 'ig-bundle-test-key', baseURL: `${bundle.address}/v1`, maxRetries: 0 });
      const res = await client.images.generate({ model: 'gpt-image-2', prompt: 'from the upstream', size: '1024x1024', response_format: 'b64_json' });
      expect(await describeImage(Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64'))).toEqual({ format: 'png', width: 1024, height: 1024 });
      expect(upstream.sim.requests.length).toBe(1);
      await expect.poll(() => spans, { timeout: 10_000 }).toContainEqual('POST /v1/traces application/json');
      expect(bundle.output()).not.toMatch(/is not a constructor|is not a function/);
    } finally {
      expect(await bundle.stop()).toBe(0);
      await upstream.close();
      await new Promise((resolve) => receiver.close(resolve));
      await rm(configuredDir, { recursive: true, force: true });
    }
  }, 120_000);
});

interface RunningBundle {
  address: string;
  pid: number | undefined;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** `node <entry> serve` (the bundle's cli.js unless told) on port 0 with `env` over this process's environment, less what would configure it otherwise. */
async function startBundle(env: Record<string, string>, entry = join(root, 'dist', 'bundle', 'cli.js')): Promise<RunningBundle> {
  const {
    OPENAI_API_KEY: _k,
    OPENAI_BASE_URL: _b,
    IMAGEGATE_API_KEYS: _a,
    IMAGEGATE_CONFIG: _c,
    DATABASE_URL: _d,
    REDIS_URL: _r,
    NODE_OPTIONS: _n,
    ...inherited
  } = process.env;
  const child = spawn(process.execPath, [entry, 'serve'], {
    cwd: root,
    env: { ...inherited, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    return exited;
  };
  try {
    await expect.poll(() => /listening on (http:\/\/[\d.:]+)/.exec(out) ?? child.exitCode, { timeout: 20_000 }).toBeTruthy();
    const address = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
    expect(address, out).toBeDefined();
    return { address: address ?? '', pid: child.pid, output: () => out, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
