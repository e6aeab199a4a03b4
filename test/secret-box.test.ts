/** Upstream keys at rest: sealed in the database, usable by the gateway, refused with the wrong key. */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { SecretBox } from '../src/db/secret-box.js';
import { startOpenAISimulator } from '../sim/openai/simulator.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway } from './helpers/gateway.js';

closeAfterEach();

describe('SecretBox', () => {
  const box = SecretBox.fromText(randomBytes(32).toString('base64'));

  it('seals to a different text each time and opens back; plain text passes through', () => {
    const a = box.seal('sk-live-123');
    expect(a).toMatch(/^enc:v1:/);
    expect(a).not.toContain('sk-live-123');
    expect(box.seal('sk-live-123')).not.toBe(a);
    expect(box.open(a)).toBe('sk-live-123');
    expect(box.open('sk-legacy-plain')).toBe('sk-legacy-plain');
  });

  it('another key cannot open it, and a tampered value is refused', () => {
    const sealed = box.seal('sk-live-123');
    const other = SecretBox.fromText(randomBytes(32).toString('hex'));
    expect(() => other.open(sealed)).toThrow(/IMAGEGATE_SECRET_KEY/);
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1);
    expect(() => box.open(flipped)).toThrow();
  });

  it('IMAGEGATE_SECRET_KEY must be 32 bytes', () => {
    expect(() => loadConfig({ IMAGEGATE_SECRET_KEY: 'short' })).toThrow(/^IMAGEGATE_SECRET_KEY: must be 32 bytes/);
    expect(loadConfig({ IMAGEGATE_SECRET_KEY: randomBytes(32).toString('base64') }).secretKey).toBeDefined();
  });
});

describe('channel keys at rest', () => {
  it('the embedded default seals them with a key file beside the database; requests still reach the upstream with the key', async () => {
    const sim = later(await startOpenAISimulator({ apiKey: 'sk-upstream-secret-1' }));
    const file = await writeConfigFile({ channels: [{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-upstream-secret-1' }] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file }));
    const row = await gw.app.database.db.selectFrom('channels').select('config').where('name', '=', 'up').executeTakeFirstOrThrow();
    expect(row.config).not.toContain('sk-upstream-secret-1');
    expect(row.config).toContain('enc:v1:');
    const keyFile = join(gw.app.config.dataDir, 'imagegate.db.key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64')).toHaveLength(32);
    expect((await postJson(gw, '/v1/images/generations', { prompt: 'sealed key', response_format: 'b64_json' })).status).toBe(200);
    expect(sim.sim.requests.at(-1)?.headers.authorization).toBe('Bearer sk-upstream-secret-1');
  });

  it('with IMAGEGATE_SECRET_KEY the admin API still shows keys redacted and the stored row is sealed', async () => {
    const gw = later(await startGateway({ IMAGEGATE_SECRET_KEY: randomBytes(32).toString('base64'), IMAGEGATE_ADMIN_KEY: 'admin' }));
    const res = await fetch(`${gw.origin}/admin/api/channels`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'relay', kind: 'openai-compatible', base_url: 'https://relay.example/v1', api_key: 'rk-very-secret-999' }),
    });
    expect(res.status).toBe(201);
    expect(JSON.stringify(await res.json())).not.toContain('rk-very-secret-999');
    const row = await gw.app.database.db.selectFrom('channels').select('config').where('name', '=', 'relay').executeTakeFirstOrThrow();
    expect(row.config).not.toContain('rk-very-secret-999');
  });
});
