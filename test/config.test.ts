/**
 * loadConfig: defaults, every env var, the optional YAML file (IMAGEGATE_CONFIG) and the
 * ConfigError each invalid value fails with (its message starts with the variable's name).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableMemory, ConfigError, defaultMemoryBudget, loadConfig, parseDuration, redactUrl, type Config } from '../src/config.js';
import { ModelCatalogue } from '../src/core/models.js';

type Env = Record<string, string | undefined>;

/** The ConfigError loading `env` fails with; fails the test when it loads. */
function configError(env: Env): ConfigError {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError, but the config loaded (port ${config.port})`);
}

describe('loadConfig: defaults', () => {
  it('an empty env gives the documented defaults', () => {
    const dataDir = resolve('data');
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      dataDir,
      database: { kind: 'sqlite', file: join(dataDir, 'imagegate.db') },
      databaseTimeouts: { connectMs: 5_000, statementMs: 30_000, startupWaitMs: 300_000 },
      apiKeys: [],
      adminKey: undefined,
      publicUrl: undefined,
      urlTtlSeconds: 86_400,
      retentionSeconds: 7 * 86_400,
      keepB64Images: true,
      galleryPrompts: true,
      sweepIntervalSeconds: 600,
      upstreamTimeoutSeconds: 300,
      bodyLimitBytes: 64 * 1024 * 1024,
      memoryBudgetBytes: defaultMemoryBudget(availableMemory(), getHeapStatistics().heap_size_limit),
      spoolBudgetBytes: 4 * 1024 ** 3,
      demoDelayMs: 1000,
      urlSecret: undefined,
      secretKey: undefined,
      logLevel: 'info',
      logFormat: 'json',
      logPrompts: false,
      metricsPort: null,
      console: true,
      openai: undefined,
      modelAliases: [],
      channels: [],
      routing: {
        maxAttempts: 3,
        deadlineSeconds: 600,
        maxRetryWaitSeconds: 10,
        breakerThreshold: 5,
        breakerCooldownSeconds: 30,
        channelRefreshSeconds: 5,
        channelTestIntervalSeconds: 0,
      },
      inputs: { uploadLimitBytes: 128 * 1024 * 1024, fetchTimeoutMs: 15_000, allowPrivateUrls: false, allowedPrivateAddresses: [] },
      streamKeepAliveMs: 15_000,
      tasks: { workers: 8, deadlineMs: 1_800_000, leaseMs: 30_000, pollMs: 1_000, maxAttempts: 10 },
      redisUrl: undefined,
      redisPrefix: 'imagegate',
      redisCommandTimeoutMs: 1_000,
      rateLimitOnRedisDown: 'open',
      tracing: { exporters: [], protocol: 'http/protobuf' },
      safety: { defaultPolicy: null, workers: 1 },
      http: { timeouts: { headersMs: 30_000, requestMs: 300_000, bodyIdleMs: 30_000, sendIdleMs: 60_000 }, trustedProxies: [] },
    } satisfies Config);
  });

  it('the memory budget defaults to an eighth of the memory and a quarter of the JS heap, at most 1 GB', () => {
    const GB = 1024 ** 3;
    expect(defaultMemoryBudget(2 * GB, 4 * GB)).toBe(GB / 4);
    expect(defaultMemoryBudget(24 * GB, 4 * GB)).toBe(GB);
    expect(defaultMemoryBudget(24 * GB, 2 * GB)).toBe(GB / 2);
    expect(availableMemory()).toBeGreaterThan(0);
    expect(availableMemory()).toBeLessThanOrEqual(totalmem());
  });

  it('the data dir is absolute and holds the SQLite file', () => {
    const config = loadConfig({});
    expect(config.dataDir).toBe(resolve(process.cwd(), 'data'));
    expect(config.database).toEqual({ kind: 'sqlite', file: join(config.dataDir, 'imagegate.db') });
  });

  it('empty strings count as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '', LOG_LEVEL: '', IMAGEGATE_URL_TTL: '', OPENAI_API_KEY: '', DATABASE_URL: '' });
    expect(config).toMatchObject({ port: 8080, host: '127.0.0.1', logLevel: 'info', urlTtlSeconds: 86_400, openai: undefined });
    expect(config.database.kind).toBe('sqlite');
  });
});

describe('loadConfig: env vars', () => {
  it('HOST, PORT, keys, secrets, log level', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '9000',
      IMAGEGATE_ADMIN_KEY: 'admin-secret',
      IMAGEGATE_URL_SECRET: 'url-secret',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({ host: '0.0.0.0', port: 9000, adminKey: 'admin-secret', urlSecret: 'url-secret', logLevel: 'debug' });
  });

  it('IMAGEGATE_SAFETY_*: the default content policy (thresholds over the defaults, a blocklist); a bad regex or class fails the start', () => {
    const { safety } = loadConfig({
      IMAGEGATE_SAFETY_MODE: 'flag',
      IMAGEGATE_SAFETY_THRESHOLDS: 'porn=0.5, neutral=0',
      IMAGEGATE_SAFETY_BLOCKLIST: 'gore,/bl(o|0)od/',
    });
    expect(safety.defaultPolicy?.mode).toBe('flag');
    expect(safety.defaultPolicy?.thresholds).toEqual({ porn: 0.5, hentai: 0.7, sexy: 0.9, neutral: 0 });
    expect(safety.defaultPolicy?.blocklist.map((t) => [t.kind, t.source])).toEqual([
      ['word', 'gore'],
      ['pattern', '/bl(o|0)od/'],
    ]);
    // Off, its thresholds still apply to callers who ask for the check (nsfw_checker).
    expect(loadConfig({ IMAGEGATE_SAFETY_THRESHOLDS: 'porn=0.5' }).safety.defaultPolicy).toMatchObject({ mode: 'off', thresholds: { porn: 0.5 } });
    expect(() => loadConfig({ IMAGEGATE_SAFETY_MODE: 'strict' })).toThrow(/IMAGEGATE_SAFETY_MODE: .*off, flag, block/);
    expect(() => loadConfig({ IMAGEGATE_SAFETY_THRESHOLDS: 'violence=0.5' })).toThrow(/IMAGEGATE_SAFETY_THRESHOLDS: .*violence/);
    expect(() => loadConfig({ IMAGEGATE_SAFETY_THRESHOLDS: 'porn=high' })).toThrow(/IMAGEGATE_SAFETY_THRESHOLDS: .*from 0 to 1/);
    expect(() => loadConfig({ IMAGEGATE_SAFETY_MODE: 'block', IMAGEGATE_SAFETY_BLOCKLIST: '/a(b/' })).toThrow(
      /IMAGEGATE_SAFETY_BLOCKLIST: .*regular expression/,
    );
    expect(() => loadConfig({ IMAGEGATE_SAFETY_WORKERS: '0' })).toThrow(/IMAGEGATE_SAFETY_WORKERS/);
  });

  it.each(['0', '1', '65535'])('PORT=%s is a port', (port) => {
    expect(loadConfig({ PORT: port }).port).toBe(Number(port));
  });

  it('IMAGEGATE_API_KEYS is a comma list, trimmed, empties dropped', () => {
    expect(loadConfig({ IMAGEGATE_API_KEYS: 'sk-one, sk-two,,sk-three ,' }).apiKeys).toEqual(['sk-one', 'sk-two', 'sk-three']);
    expect(loadConfig({ IMAGEGATE_API_KEYS: 'solo' }).apiKeys).toEqual(['solo']);
  });

  it('IMAGEGATE_DATA_DIR moves the data dir and the SQLite file with it', () => {
    const dir = join(tmpdir(), 'imagegate-data-x');
    expect(loadConfig({ IMAGEGATE_DATA_DIR: dir })).toMatchObject({
      dataDir: dir,
      database: { kind: 'sqlite', file: join(dir, 'imagegate.db') },
    });
    expect(loadConfig({ IMAGEGATE_DATA_DIR: 'var/img' }).dataDir).toBe(resolve('var/img'));
  });

  it.each([['postgres://user:pass@db.example.com:5432/imagegate'], ['postgresql://user:pass@localhost/imagegate?sslmode=disable']])(
    'DATABASE_URL=%s selects postgres',
    (url) => {
      expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'postgres', url });
    },
  );

  it('IMAGEGATE_DB_* set the database bounds; a bad one names itself', () => {
    expect(loadConfig({ IMAGEGATE_DB_CONNECT_TIMEOUT: '2s', IMAGEGATE_DB_STATEMENT_TIMEOUT: '0', IMAGEGATE_DB_STARTUP_WAIT: '90s' }).databaseTimeouts).toEqual({
      connectMs: 2_000,
      statementMs: 0,
      startupWaitMs: 90_000,
    });
    expect(() => loadConfig({ IMAGEGATE_DB_STARTUP_WAIT: 'forever' })).toThrow(/IMAGEGATE_DB_STARTUP_WAIT/);
  });

  it('IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN and IMAGEGATE_REDIS_TIMEOUT; a bad one names itself', () => {
    expect(loadConfig({ IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN: 'closed', IMAGEGATE_REDIS_TIMEOUT: '250ms' })).toMatchObject({
      rateLimitOnRedisDown: 'closed',
      redisCommandTimeoutMs: 250,
    });
    expect(() => loadConfig({ IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN: 'maybe' })).toThrow(/IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN/);
    expect(() => loadConfig({ IMAGEGATE_REDIS_TIMEOUT: '1ms' })).toThrow(/IMAGEGATE_REDIS_TIMEOUT/);
  });

  it.each([
    [':memory:', ':memory:'],
    ['sqlite::memory:', ':memory:'],
    ['sqlite://:memory:', ':memory:'],
    ['/var/lib/imagegate/gate.db', '/var/lib/imagegate/gate.db'],
    ['sqlite:/var/lib/imagegate/gate.db', '/var/lib/imagegate/gate.db'],
    ['gate.db', resolve('gate.db')],
    ['sqlite:./gate.db', resolve('gate.db')],
  ])('DATABASE_URL=%s is the SQLite file %s', (url, file) => {
    expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'sqlite', file });
  });

  it('OPENAI_API_KEY alone targets api.openai.com', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk-up' }).openai).toEqual({ apiKey: 'sk-up', baseUrl: 'https://api.openai.com/v1' });
  });

  it.each([
    ['http://localhost:9000/v1/', 'http://localhost:9000/v1'],
    ['https://relay.example.com/v1//', 'https://relay.example.com/v1'],
    ['https://relay.example.com/v1', 'https://relay.example.com/v1'],
  ])('OPENAI_BASE_URL=%s -> %s', (baseUrl, expected) => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk-up', OPENAI_BASE_URL: baseUrl }).openai).toEqual({ apiKey: 'sk-up', baseUrl: expected });
  });

  it('no OPENAI_API_KEY means no openai config, whatever the base URL', () => {
    expect(loadConfig({ OPENAI_BASE_URL: 'https://relay.example.com/v1' }).openai).toBeUndefined();
  });

  it('IMAGEGATE_PUBLIC_URL loses its trailing slash', () => {
    expect(loadConfig({ IMAGEGATE_PUBLIC_URL: 'https://img.example.com/' }).publicUrl).toBe('https://img.example.com');
    expect(loadConfig({ IMAGEGATE_PUBLIC_URL: 'http://10.0.0.5:8080/gate/' }).publicUrl).toBe('http://10.0.0.5:8080/gate');
  });

  it.each([
    ['IMAGEGATE_URL_TTL', '30s', 'urlTtlSeconds', 30],
    ['IMAGEGATE_URL_TTL', '15m', 'urlTtlSeconds', 900],
    ['IMAGEGATE_URL_TTL', '24h', 'urlTtlSeconds', 86_400],
    ['IMAGEGATE_URL_TTL', '7d', 'urlTtlSeconds', 604_800],
    ['IMAGEGATE_URL_TTL', '90', 'urlTtlSeconds', 90],
    ['IMAGEGATE_URL_TTL', ' 2h ', 'urlTtlSeconds', 7200],
    ['IMAGEGATE_RETENTION', '30d', 'retentionSeconds', 30 * 86_400],
    ['IMAGEGATE_RETENTION', '1.5h', 'retentionSeconds', 5400],
    ['IMAGEGATE_SWEEP_INTERVAL', '15m', 'sweepIntervalSeconds', 900],
    ['IMAGEGATE_UPSTREAM_TIMEOUT', '30s', 'upstreamTimeoutSeconds', 30],
    ['IMAGEGATE_DEMO_DELAY', '500ms', 'demoDelayMs', 500],
    ['IMAGEGATE_DEMO_DELAY', '2s', 'demoDelayMs', 2000],
    ['IMAGEGATE_DEMO_DELAY', '0', 'demoDelayMs', 0],
    ['IMAGEGATE_DEMO_DELAY', '1m', 'demoDelayMs', 60_000],
    ['IMAGEGATE_BODY_LIMIT', '512kb', 'bodyLimitBytes', 512 * 1024],
    ['IMAGEGATE_BODY_LIMIT', '10MB', 'bodyLimitBytes', 10 * 1024 * 1024],
    ['IMAGEGATE_BODY_LIMIT', '1gb', 'bodyLimitBytes', 1024 ** 3],
    ['IMAGEGATE_BODY_LIMIT', '2048', 'bodyLimitBytes', 2048],
    ['IMAGEGATE_MEMORY_BUDGET', '256mb', 'memoryBudgetBytes', 256 * 1024 ** 2],
    ['IMAGEGATE_MEMORY_BUDGET', '2gb', 'memoryBudgetBytes', 2 * 1024 ** 3],
    ['IMAGEGATE_SPOOL_BUDGET', '512mb', 'spoolBudgetBytes', 512 * 1024 ** 2],
    ['IMAGEGATE_KEEP_B64_IMAGES', 'false', 'keepB64Images', false],
    ['IMAGEGATE_KEEP_B64_IMAGES', 'yes', 'keepB64Images', true],
    ['IMAGEGATE_LOG_PROMPTS', 'true', 'logPrompts', true],
    ['IMAGEGATE_CONSOLE', 'false', 'console', false],
    ['IMAGEGATE_GALLERY_PROMPTS', 'false', 'galleryPrompts', false],
  ] as const)('%s=%j -> %s %d', (name, value, key, expected) => {
    expect(loadConfig({ [name]: value })[key]).toBe(expected);
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])('LOG_LEVEL=%s', (level) => {
    expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it.each(['json', 'pretty'])('IMAGEGATE_LOG_FORMAT=%s', (format) => {
    expect(loadConfig({ IMAGEGATE_LOG_FORMAT: format }).logFormat).toBe(format);
  });
});

describe('loadConfig: invalid env values', () => {
  const INVALID: [name: string, value: string, extraEnv?: Env][] = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['IMAGEGATE_URL_TTL', 'soon'],
    ['IMAGEGATE_URL_TTL', '10 minutes'],
    ['IMAGEGATE_URL_TTL', '-5s'],
    ['IMAGEGATE_RETENTION', '1w'],
    ['IMAGEGATE_SWEEP_INTERVAL', 'often'],
    ['IMAGEGATE_UPSTREAM_TIMEOUT', '5x'],
    ['IMAGEGATE_DEMO_DELAY', 'fast'],
    ['IMAGEGATE_BODY_LIMIT', 'lots'],
    ['IMAGEGATE_BODY_LIMIT', '100'],
    ['IMAGEGATE_MEMORY_BUDGET', 'half'],
    ['IMAGEGATE_LOG_FORMAT', 'xml'],
    ['IMAGEGATE_MEMORY_BUDGET', '512kb'],
    ['IMAGEGATE_PUBLIC_URL', 'ftp://x'],
    ['IMAGEGATE_PUBLIC_URL', 'img.example.com'],
    ['OPENAI_BASE_URL', 'notaurl', { OPENAI_API_KEY: 'sk-up' }],
    ['OPENAI_BASE_URL', 'ftp://relay.example.com/v1', { OPENAI_API_KEY: 'sk-up' }],
    ['LOG_LEVEL', 'loud'],
    ['LOG_LEVEL', 'INFO'],
    ['DATABASE_URL', 'mysql://user:hunter2@db.example.com/imagegate'],
    ['DATABASE_URL', 'mongodb://db.example.com/imagegate'],
  ];

  it.each(INVALID)('%s=%j throws a ConfigError naming it', (name, value, extraEnv) => {
    const err = configError({ ...extraEnv, [name]: value });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(err.message.startsWith(`${name}: `), err.message).toBe(true);
  });

  it('DATABASE_URL errors never print the password', () => {
    const err = configError({ DATABASE_URL: 'mysql://user:hunter2@db.example.com/imagegate' });
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toContain('mysql://***@db.example.com/imagegate');
  });

  it('redactUrl hides credentials only', () => {
    expect(redactUrl('postgres://u:p@h:5432/db')).toBe('postgres://***@h:5432/db');
    expect(redactUrl('postgres://h:5432/db')).toBe('postgres://h:5432/db');
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 's', 30],
    ['15m', 's', 900],
    ['24h', 's', 86_400],
    ['7d', 's', 604_800],
    ['45', 's', 45],
    ['500ms', 's', 0.5],
    ['500ms', 'ms', 500],
    ['1.5s', 'ms', 1500],
    ['2m', 'ms', 120_000],
  ] as const)('%s in %s -> %d', (value, unit, expected) => {
    expect(parseDuration('X', value, unit)).toBe(expected);
  });

  it.each(['', 'soon', '1w', '-1s', '1 h 2 m', 's'])('%j is not a duration', (value) => {
    expect(() => parseDuration('IMAGEGATE_X', value)).toThrow(ConfigError);
    expect(() => parseDuration('IMAGEGATE_X', value)).toThrow(/^IMAGEGATE_X: /);
  });
});

describe('loadConfig: the YAML file (IMAGEGATE_CONFIG)', () => {
  let dir: string;
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagegate-config-test-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const FULL = `
host: 0.0.0.0
port: 9090
url_ttl: 1h
retention: 3d
demo_delay: 250ms
api_keys:
  - file-key-1
  - file-key-2
log_level: warn
public_url: https://img.example.com/
openai_api_key: sk-from-file
openai_base_url: https://relay.example.com/v1/
models:
  - name: house-4k
    base: gpt-image-2-4k
    params:
      quality: high
      watermark: false
  - name: cheap
    base: gpt-image-1
    upstream_model: gpt-image-1-mini
    description: Cheap line
`;

  it('reads settings and model aliases from the file', () => {
    const config = loadConfig({ IMAGEGATE_CONFIG: write('full.yaml', FULL) });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9090,
      urlTtlSeconds: 3600,
      retentionSeconds: 3 * 86_400,
      demoDelayMs: 250,
      apiKeys: ['file-key-1', 'file-key-2'],
      logLevel: 'warn',
      publicUrl: 'https://img.example.com',
      openai: { apiKey: 'sk-from-file', baseUrl: 'https://relay.example.com/v1' },
    });
    expect(config.modelAliases).toEqual([
      { name: 'house-4k', base: 'gpt-image-2-4k', params: { quality: 'high', watermark: false } },
      { name: 'cheap', base: 'gpt-image-1', upstreamModel: 'gpt-image-1-mini', description: 'Cheap line' },
    ]);
  });

  it('the aliases build a catalogue', () => {
    const config = loadConfig({ IMAGEGATE_CONFIG: write('aliases.yaml', FULL) });
    const catalogue = ModelCatalogue.withAliases(config.modelAliases);
    expect(catalogue.get('house-4k')).toMatchObject({
      family: 'gpt-image-2',
      upstreamModel: 'gpt-image-2',
      fixedParams: { quality: 'high', watermark: false },
    });
    expect(catalogue.get('cheap')).toMatchObject({ family: 'gpt-image-1', upstreamModel: 'gpt-image-1-mini' });
  });

  it('env wins over the file; empty env values fall back to the file', () => {
    const path = write('override.yaml', FULL);
    const config = loadConfig({ IMAGEGATE_CONFIG: path, PORT: '7000', LOG_LEVEL: 'error', IMAGEGATE_API_KEYS: 'env-key', HOST: '' });
    expect(config).toMatchObject({ port: 7000, logLevel: 'error', apiKeys: ['env-key'], host: '0.0.0.0', urlTtlSeconds: 3600 });
  });

  it('an empty file means all defaults', () => {
    const config = loadConfig({ IMAGEGATE_CONFIG: write('empty.yaml', '') });
    expect(config).toEqual(loadConfig({}));
  });

  it('a file value is validated and named by its env var', () => {
    const err = configError({ IMAGEGATE_CONFIG: write('bad-port.yaml', 'port: 99999\n') });
    expect(err.message).toMatch(/^PORT: /);
    expect(configError({ IMAGEGATE_CONFIG: write('bad-ttl.yaml', 'url_ttl: soon\n') }).message).toMatch(/^IMAGEGATE_URL_TTL: /);
  });

  it.each([
    ['invalid YAML', 'port: [1, 2\nhost: x\n'],
    ['a list, not a mapping', '- port\n- host\n'],
    ['a scalar, not a mapping', 'just some text\n'],
    ['models not a list', 'models: house-4k\n'],
    ['a model alias without base', 'models:\n  - name: house\n'],
    ['a model alias without name', 'models:\n  - base: gpt-image-2\n'],
    ['a model alias that is not a mapping', 'models:\n  - house-4k\n'],
    ['model alias params not a mapping', 'models:\n  - name: house\n    base: gpt-image-2\n    params: [1, 2]\n'],
    ['model alias upstream_model not a string', 'models:\n  - name: house\n    base: gpt-image-2\n    upstream_model: 5\n'],
  ])('%s gives a ConfigError naming IMAGEGATE_CONFIG', (_name, text) => {
    const err = configError({ IMAGEGATE_CONFIG: write('bad.yaml', text) });
    expect(err.message).toMatch(/^IMAGEGATE_CONFIG: /);
  });

  it('a missing file gives a ConfigError naming IMAGEGATE_CONFIG', () => {
    const err = configError({ IMAGEGATE_CONFIG: join(dir, 'does-not-exist.yaml') });
    expect(err.message).toMatch(/^IMAGEGATE_CONFIG: cannot read /);
  });
});
