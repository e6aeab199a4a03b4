/** The real CLI in a child process: first-start key, serve, SIGTERM, keys create/list/revoke, bad config. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'cli.ts')];
/**
 * Each command is a process that loads (and tsx compiles) the CLI: about a second idle, several on
 * a busy 2-core machine. A command still running after this is a hang, killed and reported.
 */
const COMMAND_DEADLINE_MS = 60_000;
/** A test runs several commands one after another. */
const SEVERAL_COMMANDS_MS = 180_000;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'imagegate-cli-'));
});
afterAll(async () => rm(dataDir, { recursive: true, force: true }));

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { OPENAI_API_KEY: _k, OPENAI_BASE_URL: _b, IMAGEGATE_API_KEYS: _a, ...rest } = process.env;
  return { ...rest, PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_DEMO_DELAY: '0', LOG_LEVEL: 'info', ...extra };
}

/** Async, so simulators running in this process keep answering the child. */
function runCli(args: string[], extra: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = setTimeout(() => {
      stderr += `\n(test: still running after ${COMMAND_DEADLINE_MS} ms, killed)`;
      child.kill('SIGKILL');
    }, COMMAND_DEADLINE_MS);
    child.once('close', (status) => {
      clearTimeout(deadline);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('imagegate CLI', { timeout: SEVERAL_COMMANDS_MS }, () => {
  it('serve: prints a first key once, serves it, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [...CLI, 'serve'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await expect.poll(() => /listening on (http:\/\/[\d.:]+)/.exec(out), { timeout: COMMAND_DEADLINE_MS }).not.toBeNull();
    const address = /listening on (http:\/\/[\d.:]+)/.exec(out)![1]!;
    const key = /^\s+(ig-\S+)$/m.exec(out)?.[1];
    expect(key).toBeDefined();
    const res = await fetch(`${address}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'from the CLI' }),
    });
    expect(res.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('serve does not print a new key on the next start', async () => {
    const child = spawn(process.execPath, [...CLI, 'serve'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await expect.poll(() => out.includes('listening on'), { timeout: COMMAND_DEADLINE_MS }).toBe(true);
    expect(out).not.toContain('created your first API key');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('keys create / list / revoke', async () => {
    const created = await runCli(['keys', 'create', '--name', 'billing-app']);
    expect(created.status).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^ig-[\w-]{32}$/);
    const listed = await runCli(['keys', 'list']);
    expect(listed.stdout).toContain('billing-app');
    expect(listed.stdout).toContain(key.slice(0, 10));
    expect(listed.stdout).not.toContain(key);
    const revoked = await runCli(['keys', 'revoke', key.slice(0, 10)]);
    expect(revoked.status).toBe(0);
    expect((await runCli(['keys', 'list'])).stdout).toMatch(/billing-app\s+unlimited\s+created \S+\s+revoked/);
    expect((await runCli(['keys', 'revoke', 'ig-nothing'])).status).toBe(1);
    expect((await runCli(['keys', 'create'])).status).toBe(2);
  });

  it('keys with credits and limits: create, credit, ledger; bad flags exit 2 naming the flag', async () => {
    const created = await runCli(['keys', 'create', '--name', 'metered', '--credits', '2.5', '--rpm', '60', '--models', 'gpt-image-2,dall-e-3']);
    expect(created.status).toBe(0);
    const prefix = created.stdout.trim().slice(0, 10);
    expect((await runCli(['keys', 'list'])).stdout).toMatch(/metered\s+\$2\.50\s/);
    const credited = await runCli(['keys', 'credit', prefix, '1.25', '--note', 'top-up']);
    expect(credited.stdout.trim()).toBe("balance of 'metered': $3.75");
    const ledger = (await runCli(['keys', 'ledger', prefix])).stdout.trim().split('\n');
    expect(ledger.map((line) => line.split(/\s+/).slice(1, 3))).toEqual([
      ['grant', '$2.50'],
      ['grant', '$1.25'],
    ]);
    const bad = await runCli(['keys', 'create', '--name', 'x', '--rpm', 'fast']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--rpm');
  });

  it('keys create --safety: a content-safety policy as JSON; a bad regex or non-JSON exits 2 naming --safety', async () => {
    expect((await runCli(['keys', 'create', '--name', 'safe', '--safety', '{"mode":"block","blocklist":["gore"]}'])).status).toBe(0);
    const badRegex = await runCli(['keys', 'create', '--name', 'x', '--safety', '{"mode":"block","blocklist":["/a(b/"]}']);
    expect(badRegex.status).toBe(2);
    expect(badRegex.stderr).toMatch(/--safety: safety\.blocklist\[0\] is not a valid regular expression/);
    const notJson = await runCli(['keys', 'create', '--name', 'x', '--safety', 'block']);
    expect([notJson.status, notJson.stderr]).toEqual([2, expect.stringContaining('--safety: not JSON')]);
  });

  it('invalid config fails at start with one line naming the variable', async () => {
    const res = await runCli(['serve'], { PORT: 'eighty' });
    expect(res.status).toBe(1);
    expect(res.stderr.trim()).toBe("imagegate: PORT: 'eighty' is not a port number (0-65535)");
  });

  it('unknown commands print usage and exit 2', async () => {
    const res = await runCli(['frobnicate']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('Usage:');
  });
});

describe('imagegate channels CLI', { timeout: SEVERAL_COMMANDS_MS }, () => {
  it('add / list / update / test / remove, keys redacted', async () => {
    const { startOpenAISimulator } = await import('../sim/openai/simulator.js');
    const upstream = await startOpenAISimulator({ relay: { answer: 'b64_json' }, apiKey: 'sk-cli-upstream-1234' });
    try {
      const added = await runCli([
        'channels',
        'add',
        '--name',
        'relay-cli',
        '--kind',
        'openai-compatible',
        '--base-url',
        upstream.baseURL,
        '--key',
        'sk-cli-upstream-1234',
        '--weight',
        '3',
        '--models',
        'gpt-image-2,dall-e-3',
      ]);
      expect(added.status, added.stderr).toBe(0);
      expect(added.stdout).toContain('relay-cli  openai-compatible');
      expect(added.stdout).toContain('weight=3');
      expect(added.stdout).not.toContain('sk-cli-upstream-1234');
      expect((await runCli(['channels', 'list'])).stdout).toContain('models=gpt-image-2,dall-e-3');
      const updated = await runCli(['channels', 'update', 'relay-cli', '--priority', '7', '--disable']);
      expect(updated.stdout).toMatch(/disabled\s+priority=7 weight=3/);
      const tested = await runCli(['channels', 'test', 'relay-cli']);
      expect(tested.status, tested.stderr).toBe(0);
      expect(tested.stdout).toMatch(/^ok: gpt-image-2 in \d+ ms/);
      expect(upstream.sim.requests).toHaveLength(1);
      const bad = await runCli(['channels', 'add', '--name', 'x', '--kind', 'pigeon', '--base-url', 'http://x', '--key', 'k']);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('kind');
      expect((await runCli(['channels', 'remove', 'relay-cli'])).status).toBe(0);
      expect((await runCli(['channels', 'list'])).stdout).not.toContain('relay-cli');
    } finally {
      await upstream.close();
    }
  });
});
