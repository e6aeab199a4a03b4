/**
 * One typed Config from env vars plus an optional YAML file (IMAGEGATE_CONFIG). Env wins over
 * the file. Anything invalid fails at start with one ConfigError line naming the variable.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { BlockList } from 'node:net';
import { createRequire } from 'node:module';
import type { parse as ParseYaml } from 'yaml';
import { BUILTIN_MODELS, ModelCatalogue, ModelConfigError, parseCapabilityOverrides, type ModelAlias } from './core/models.js';
import { parsePriceTable, Pricing, PricingConfigError, type PriceTable } from './core/pricing.js';
import { parseSafetyPolicy, SafetyPolicyError, type SafetyPolicy } from './core/safety-policy.js';
import { SecretBox } from './db/secret-box.js';
import { addException } from './net/address-policy.js';
import { ChannelDefinitionError, parseChannelDefinition, type ChannelDefinition } from './routing/channel-definition.js';
import { readTracingSettings, TracingSettingsError, type TracingSettings } from './tracing/settings.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** Bounds on waiting for PostgreSQL, so an outage is a quick 503 rather than a hang. */
export interface DatabaseTimeouts {
  /** Opening a connection, or waiting for a free one in the pool; 0: no bound. */
  connectMs: number;
  /** One statement; 0: no bound. */
  statementMs: number;
  /** How long start-up waits for an unavailable database; 0: fail at once. */
  startupWaitMs: number;
}

export interface UpstreamConfig {
  apiKey: string;
  /** Ends in /v1, as in the OpenAI SDKs. */
  baseUrl: string;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  databaseTimeouts: DatabaseTimeouts;
  /** Client keys accepted with no limits (IMAGEGATE_API_KEYS). */
  apiKeys: string[];
  adminKey: string | undefined;
  /** Base of image URLs; undefined means "the address the server listens on". */
  publicUrl: string | undefined;
  urlTtlSeconds: number;
  retentionSeconds: number;
  /**
   * b64_json answers: keep a copy in storage (default). false: they pass through untouched, never
   * decoded or written (IMAGEGATE_KEEP_B64_IMAGES); url answers are always stored.
   */
  keepB64Images: boolean;
  /** The prompt is kept with each stored image for the gallery, as long as the image (IMAGEGATE_GALLERY_PROMPTS); false: never stored. */
  galleryPrompts: boolean;
  sweepIntervalSeconds: number;
  upstreamTimeoutSeconds: number;
  bodyLimitBytes: number;
  /**
   * Most bytes held in flight at once (request bodies, upstream answers on their way out); past
   * it new requests get 503 server_busy with Retry-After (IMAGEGATE_MEMORY_BUDGET).
   */
  memoryBudgetBytes: number;
  /**
   * Most bytes of multipart uploads waiting on disk at once (the spool); past it new uploads get
   * 503 server_busy with Retry-After (IMAGEGATE_SPOOL_BUDGET).
   */
  spoolBudgetBytes: number;
  /** How long the demo channel "thinks" before answering. */
  demoDelayMs: number;
  /** Secret for signing image URLs; when unset one is generated once and kept in the database. */
  urlSecret: string | undefined;
  /** Seals upstream keys at rest (AES-256-GCM); unset: a key file in the data dir with SQLite. */
  secretKey: string | undefined;
  logLevel: string;
  /** `json` (one JSON object a line, for machines) or `pretty` (pino-pretty, for people). */
  logFormat: LogFormat;
  /** Request lines carry the prompt (off by default: prompts are the users' words). */
  logPrompts: boolean;
  /** IMAGEGATE_METRICS_PORT: a second listener serving only /metrics, without auth (docs/metrics.md); null: none. */
  metricsPort: number | null;
  /** Traces (OpenTelemetry), from the standard OTEL_* variables, env only (docs/tracing.md); off unless an exporter is named. */
  tracing: TracingSettings;
  /** IMAGEGATE_CONSOLE: serve the web console at /console/ (and send / there); false: neither route exists. */
  console: boolean;
  /** Content safety: the operator's default policy (keys without one of their own) and the classifier's worker threads. */
  safety: SafetyConfig;
  openai: UpstreamConfig | undefined;
  modelAliases: ModelAlias[];
  /** The config file's `pricing:` (micros), over OpenAI's list prices; unset: list prices only. */
  pricing?: PriceTable;
  /** Channels from the config file's `channels:` list (plus `openai` from OPENAI_API_KEY). */
  channels: ChannelDefinition[];
  routing: RoutingConfig;
  inputs: InputsConfig;
  /** Streams: an SSE comment this often while the upstream is silent (proxies cut idle requests). */
  streamKeepAliveMs: number;
  tasks: TasksConfig;
  /** Images in an S3-compatible bucket instead of under the data dir (IMAGEGATE_S3_BUCKET); unset: the data dir. */
  s3?: S3Config;
  /** Scale-out: task dispatch (BullMQ) and rate limits shared by every instance. */
  redisUrl: string | undefined;
  /** Namespace of every Redis key and BullMQ queue, so deployments can share one Redis. */
  redisPrefix: string;
  /** Longest wait for one Redis command on a request's path; past it the request goes on without Redis. */
  redisCommandTimeoutMs: number;
  /** Keys with rate limits while Redis is unreachable: limited per instance (open) or refused with 503 (closed). */
  rateLimitOnRedisDown: 'open' | 'closed';
  http: HttpConfig;
}

/** How the HTTP server meets its clients. */
export interface HttpConfig {
  timeouts: {
    /** Request line and headers must arrive within this. */
    headersMs: number;
    /** The whole request, body included, must arrive within this; 0: no bound. */
    requestMs: number;
    /** While a body arrives, the longest gap between bytes; 0: no bound. */
    bodyIdleMs: number;
    /** While a streamed answer goes out, the longest the client may take none of it; 0: no bound. */
    sendIdleMs: number;
  };
  /** Load balancers (addresses or CIDRs) whose X-Forwarded-For gives the client address; empty: none. */
  trustedProxies: string[];
}

/** Where images go when they go to a bucket (AWS S3, Cloudflare R2, MinIO, ...), and how clients get them. */
export interface S3Config {
  bucket: string;
  /** http(s) URL of an S3-compatible service (R2, MinIO, s3rver), no trailing slash; undefined: AWS for `region`. */
  endpoint: string | undefined;
  region: string;
  /** Both keys or neither; neither: the SDK's default chain (env, shared profile, instance/task role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** `<endpoint>/<bucket>/<key>` instead of `<bucket>.<host>/<key>` (MinIO, s3rver). */
  forcePathStyle: boolean;
  /** Put before every image name to make its key, as is (`images/` -> `images/<name>`). */
  prefix: string;
  /**
   * How image links are made. gateway: the gateway's signed /files links, bytes streamed from the
   * bucket. presigned: S3 presigned GET URLs valid IMAGEGATE_URL_TTL (at most 7 days). public:
   * `<publicBaseUrl>/<prefix><name>`, unsigned: the bucket (or the CDN in front of it) must allow
   * public reads, and anyone with a link can fetch the image until retention deletes it.
   */
  links: 'gateway' | 'presigned' | 'public';
  /** Set iff links is 'public'; no trailing slash. */
  publicBaseUrl: string | undefined;
}

export interface TasksConfig {
  /** Tasks each instance runs at once. */
  workers: number;
  /** A task not finished this long after it was accepted fails and is refunded. */
  deadlineMs: number;
  /** A claimed task is retried elsewhere when its worker is silent this long (e.g. it was killed). */
  leaseMs: number;
  /** How often idle workers and the webhook outbox look for work from other instances. */
  pollMs: number;
  /** Upstream attempts per task run, across channels (sync requests have routing.maxAttempts). */
  maxAttempts: number;
}

export interface InputsConfig {
  /** Most bytes of input images one request may carry (uploads, base64 and fetched URLs). */
  uploadLimitBytes: number;
  /** Fetching one image URL: connect, redirects and body together. */
  fetchTimeoutMs: number;
  /** Development only: fetch from loopback and private addresses too. */
  allowPrivateUrls: boolean;
  /** Private addresses or CIDRs that may be fetched all the same (an internal asset host). */
  allowedPrivateAddresses: string[];
}

export interface RoutingConfig {
  /** Upstream attempts per request, across channels. */
  maxAttempts: number;
  /** Overall budget of one request across all its attempts. */
  deadlineSeconds: number;
  /** Longest wait for an upstream's Retry-After when no other channel can serve. */
  maxRetryWaitSeconds: number;
  breakerThreshold: number;
  breakerCooldownSeconds: number;
  /** How often each instance re-reads channels from the database. */
  channelRefreshSeconds: number;
  /** Periodic test generation per channel; 0 = off. */
  channelTestIntervalSeconds: number;
}

export interface SafetyConfig {
  /** IMAGEGATE_SAFETY_MODE / _THRESHOLDS / _BLOCKLIST; null: mode off (the default). */
  defaultPolicy: SafetyPolicy | null;
  /** IMAGEGATE_SAFETY_WORKERS: the classifier's worker threads (started at the first image checked). */
  workers: number;
}

type Env = Readonly<Record<string, string | undefined>>;
type FileConfig = Record<string, unknown>;

/** The file keys each setting may also come from, beside its env var. */
const FILE_KEYS: Readonly<Record<string, string>> = {
  HOST: 'host',
  PORT: 'port',
  IMAGEGATE_DATA_DIR: 'data_dir',
  DATABASE_URL: 'database_url',
  IMAGEGATE_DB_CONNECT_TIMEOUT: 'db_connect_timeout',
  IMAGEGATE_DB_STATEMENT_TIMEOUT: 'db_statement_timeout',
  IMAGEGATE_DB_STARTUP_WAIT: 'db_startup_wait',
  IMAGEGATE_API_KEYS: 'api_keys',
  IMAGEGATE_ADMIN_KEY: 'admin_key',
  IMAGEGATE_PUBLIC_URL: 'public_url',
  IMAGEGATE_URL_TTL: 'url_ttl',
  IMAGEGATE_RETENTION: 'retention',
  IMAGEGATE_KEEP_B64_IMAGES: 'keep_b64_images',
  IMAGEGATE_GALLERY_PROMPTS: 'gallery_prompts',
  IMAGEGATE_SWEEP_INTERVAL: 'sweep_interval',
  IMAGEGATE_UPSTREAM_TIMEOUT: 'upstream_timeout',
  IMAGEGATE_BODY_LIMIT: 'body_limit',
  IMAGEGATE_MEMORY_BUDGET: 'memory_budget',
  IMAGEGATE_SPOOL_BUDGET: 'spool_budget',
  IMAGEGATE_DEMO_DELAY: 'demo_delay',
  IMAGEGATE_URL_SECRET: 'url_secret',
  IMAGEGATE_SECRET_KEY: 'secret_key',
  LOG_LEVEL: 'log_level',
  IMAGEGATE_LOG_FORMAT: 'log_format',
  IMAGEGATE_LOG_PROMPTS: 'log_prompts',
  IMAGEGATE_CONSOLE: 'console',
  IMAGEGATE_METRICS_PORT: 'metrics_port',
  OPENAI_API_KEY: 'openai_api_key',
  OPENAI_BASE_URL: 'openai_base_url',
  IMAGEGATE_MAX_ATTEMPTS: 'max_attempts',
  IMAGEGATE_REQUEST_DEADLINE: 'request_deadline',
  IMAGEGATE_RETRY_WAIT_MAX: 'retry_wait_max',
  IMAGEGATE_BREAKER_THRESHOLD: 'breaker_threshold',
  IMAGEGATE_BREAKER_COOLDOWN: 'breaker_cooldown',
  IMAGEGATE_CHANNEL_REFRESH: 'channel_refresh',
  IMAGEGATE_CHANNEL_TEST_INTERVAL: 'channel_test_interval',
  IMAGEGATE_UPLOAD_LIMIT: 'upload_limit',
  IMAGEGATE_STREAM_KEEPALIVE: 'stream_keepalive',
  REDIS_URL: 'redis_url',
  IMAGEGATE_REDIS_PREFIX: 'redis_prefix',
  IMAGEGATE_REDIS_TIMEOUT: 'redis_timeout',
  IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN: 'rate_limit_on_redis_down',
  IMAGEGATE_TASK_WORKERS: 'task_workers',
  IMAGEGATE_TASK_DEADLINE: 'task_deadline',
  IMAGEGATE_TASK_LEASE: 'task_lease',
  IMAGEGATE_TASK_POLL: 'task_poll',
  IMAGEGATE_TASK_MAX_ATTEMPTS: 'task_max_attempts',
  IMAGEGATE_FETCH_TIMEOUT: 'fetch_timeout',
  IMAGEGATE_ALLOW_PRIVATE_URLS: 'allow_private_urls',
  IMAGEGATE_S3_BUCKET: 's3_bucket',
  IMAGEGATE_S3_ENDPOINT: 's3_endpoint',
  IMAGEGATE_S3_REGION: 's3_region',
  IMAGEGATE_S3_ACCESS_KEY_ID: 's3_access_key_id',
  IMAGEGATE_S3_SECRET_ACCESS_KEY: 's3_secret_access_key',
  IMAGEGATE_S3_FORCE_PATH_STYLE: 's3_force_path_style',
  IMAGEGATE_S3_PREFIX: 's3_prefix',
  IMAGEGATE_S3_LINKS: 's3_links',
  IMAGEGATE_S3_PUBLIC_BASE_URL: 's3_public_base_url',
  IMAGEGATE_HEADERS_TIMEOUT: 'headers_timeout',
  IMAGEGATE_REQUEST_TIMEOUT: 'request_timeout',
  IMAGEGATE_BODY_IDLE_TIMEOUT: 'body_idle_timeout',
  IMAGEGATE_SEND_TIMEOUT: 'send_timeout',
  IMAGEGATE_TRUSTED_PROXIES: 'trusted_proxies',
  IMAGEGATE_SAFETY_MODE: 'safety_mode',
  IMAGEGATE_SAFETY_THRESHOLDS: 'safety_thresholds',
  IMAGEGATE_SAFETY_BLOCKLIST: 'safety_blocklist',
  IMAGEGATE_SAFETY_WORKERS: 'safety_workers',
};

/** Every top-level key of the config file: each setting's file key, then the file-only sections. */
export const CONFIG_FILE_KEYS: readonly string[] = [...Object.values(FILE_KEYS), 'models', 'pricing', 'channels'];

export function loadConfig(env: Env = process.env): Config {
  const file = readConfigFile(env.IMAGEGATE_CONFIG);
  const get = (name: string): string | undefined => {
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const key = FILE_KEYS[name];
    const fromFile = key ? file[key] : undefined;
    if (fromFile === undefined || fromFile === null) return undefined;
    return Array.isArray(fromFile) ? fromFile.join(',') : String(fromFile);
  };

  const host = get('HOST') ?? '127.0.0.1';
  const port = parsePort(get('PORT') ?? '8080');
  const dataDir = resolve(get('IMAGEGATE_DATA_DIR') ?? './data');
  const openaiKey = get('OPENAI_API_KEY');
  const upstreamTimeoutSeconds = parseDuration('IMAGEGATE_UPSTREAM_TIMEOUT', get('IMAGEGATE_UPSTREAM_TIMEOUT') ?? '300s');
  const openaiBaseUrl = parseBaseUrl(get('OPENAI_BASE_URL') ?? 'https://api.openai.com/v1');
  const modelAliases = parseModelAliases(file.models);
  const urlTtlSeconds = parseDuration('IMAGEGATE_URL_TTL', get('IMAGEGATE_URL_TTL') ?? '24h');
  const s3 = parseS3Config(get, urlTtlSeconds);
  return {
    host,
    port,
    dataDir,
    database: parseDatabaseUrl(get('DATABASE_URL'), dataDir),
    databaseTimeouts: {
      connectMs: parseDuration('IMAGEGATE_DB_CONNECT_TIMEOUT', get('IMAGEGATE_DB_CONNECT_TIMEOUT') ?? '5s', 'ms'),
      statementMs: parseDuration('IMAGEGATE_DB_STATEMENT_TIMEOUT', get('IMAGEGATE_DB_STATEMENT_TIMEOUT') ?? '30s', 'ms'),
      startupWaitMs: parseDuration('IMAGEGATE_DB_STARTUP_WAIT', get('IMAGEGATE_DB_STARTUP_WAIT') ?? '5m', 'ms'),
    },
    apiKeys: splitList(get('IMAGEGATE_API_KEYS')),
    adminKey: get('IMAGEGATE_ADMIN_KEY'),
    publicUrl: parsePublicUrl(get('IMAGEGATE_PUBLIC_URL')),
    urlTtlSeconds,
    retentionSeconds: parseDuration('IMAGEGATE_RETENTION', get('IMAGEGATE_RETENTION') ?? '7d'),
    keepB64Images: parseBoolean('IMAGEGATE_KEEP_B64_IMAGES', get('IMAGEGATE_KEEP_B64_IMAGES') ?? 'true'),
    galleryPrompts: parseBoolean('IMAGEGATE_GALLERY_PROMPTS', get('IMAGEGATE_GALLERY_PROMPTS') ?? 'true'),
    sweepIntervalSeconds: parseDuration('IMAGEGATE_SWEEP_INTERVAL', get('IMAGEGATE_SWEEP_INTERVAL') ?? '10m'),
    upstreamTimeoutSeconds,
    bodyLimitBytes: parseBytes('IMAGEGATE_BODY_LIMIT', get('IMAGEGATE_BODY_LIMIT') ?? '64mb'),
    memoryBudgetBytes: parseMemoryBudget(get('IMAGEGATE_MEMORY_BUDGET')),
    spoolBudgetBytes: parseSpoolBudget(get('IMAGEGATE_SPOOL_BUDGET')),
    demoDelayMs: parseDuration('IMAGEGATE_DEMO_DELAY', get('IMAGEGATE_DEMO_DELAY') ?? '1s', 'ms'),
    urlSecret: get('IMAGEGATE_URL_SECRET'),
    secretKey: parseSecretKey(get('IMAGEGATE_SECRET_KEY')),
    logLevel: parseLogLevel(get('LOG_LEVEL') ?? 'info'),
    logFormat: parseLogFormat(get('IMAGEGATE_LOG_FORMAT') ?? 'json'),
    logPrompts: parseBoolean('IMAGEGATE_LOG_PROMPTS', get('IMAGEGATE_LOG_PROMPTS') ?? 'false'),
    metricsPort: metricsPortOf(get('IMAGEGATE_METRICS_PORT')),
    tracing: tracingSettingsOf(env),
    console: parseBoolean('IMAGEGATE_CONSOLE', get('IMAGEGATE_CONSOLE') ?? 'true'),
    safety: parseSafetyConfig(get),
    openai: openaiKey ? { apiKey: openaiKey, baseUrl: openaiBaseUrl } : undefined,
    modelAliases,
    ...optionalPricing(parsePricedModels(file.pricing, modelAliases)),
    channels: parseChannels(file.channels, openaiKey ? { apiKey: openaiKey, baseUrl: openaiBaseUrl } : undefined, upstreamTimeoutSeconds),
    inputs: parseInputsConfig(get),
    streamKeepAliveMs: parseDuration('IMAGEGATE_STREAM_KEEPALIVE', get('IMAGEGATE_STREAM_KEEPALIVE') ?? '15s', 'ms'),
    redisUrl: parseRedisUrl(get('REDIS_URL')),
    redisPrefix: parseRedisPrefix(get('IMAGEGATE_REDIS_PREFIX') ?? 'imagegate'),
    redisCommandTimeoutMs: parseRedisTimeout(get('IMAGEGATE_REDIS_TIMEOUT') ?? '1s'),
    rateLimitOnRedisDown: parseRedisDownPolicy(get('IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN') ?? 'open'),
    tasks: {
      workers: parseCount('IMAGEGATE_TASK_WORKERS', get('IMAGEGATE_TASK_WORKERS') ?? '8', 1, 1000),
      deadlineMs: parseDuration('IMAGEGATE_TASK_DEADLINE', get('IMAGEGATE_TASK_DEADLINE') ?? '30m', 'ms'),
      leaseMs: parseDuration('IMAGEGATE_TASK_LEASE', get('IMAGEGATE_TASK_LEASE') ?? '30s', 'ms'),
      pollMs: parseDuration('IMAGEGATE_TASK_POLL', get('IMAGEGATE_TASK_POLL') ?? '1s', 'ms'),
      maxAttempts: parseCount('IMAGEGATE_TASK_MAX_ATTEMPTS', get('IMAGEGATE_TASK_MAX_ATTEMPTS') ?? '10', 1, 100),
    },
    routing: {
      maxAttempts: parseCount('IMAGEGATE_MAX_ATTEMPTS', get('IMAGEGATE_MAX_ATTEMPTS') ?? '3', 1, 20),
      deadlineSeconds: parseDuration('IMAGEGATE_REQUEST_DEADLINE', get('IMAGEGATE_REQUEST_DEADLINE') ?? '600s'),
      maxRetryWaitSeconds: parseDuration('IMAGEGATE_RETRY_WAIT_MAX', get('IMAGEGATE_RETRY_WAIT_MAX') ?? '10s'),
      breakerThreshold: parseCount('IMAGEGATE_BREAKER_THRESHOLD', get('IMAGEGATE_BREAKER_THRESHOLD') ?? '5', 1, 1000),
      breakerCooldownSeconds: parseDuration('IMAGEGATE_BREAKER_COOLDOWN', get('IMAGEGATE_BREAKER_COOLDOWN') ?? '30s'),
      channelRefreshSeconds: parseDuration('IMAGEGATE_CHANNEL_REFRESH', get('IMAGEGATE_CHANNEL_REFRESH') ?? '5s'),
      channelTestIntervalSeconds: parseDuration('IMAGEGATE_CHANNEL_TEST_INTERVAL', get('IMAGEGATE_CHANNEL_TEST_INTERVAL') ?? '0'),
    },
    http: parseHttpConfig(get),
    ...(s3 ? { s3 } : {}),
  };
}

function parseHttpConfig(get: (name: string) => string | undefined): HttpConfig {
  const headersMs = parseDuration('IMAGEGATE_HEADERS_TIMEOUT', get('IMAGEGATE_HEADERS_TIMEOUT') ?? '30s', 'ms');
  if (headersMs < 1000) throw new ConfigError(`IMAGEGATE_HEADERS_TIMEOUT: '${get('IMAGEGATE_HEADERS_TIMEOUT')}' must be at least 1s`);
  const requestMs = parseDuration('IMAGEGATE_REQUEST_TIMEOUT', get('IMAGEGATE_REQUEST_TIMEOUT') ?? '5m', 'ms');
  if (requestMs !== 0 && requestMs < headersMs) {
    throw new ConfigError('IMAGEGATE_REQUEST_TIMEOUT: must be 0 (off) or at least IMAGEGATE_HEADERS_TIMEOUT');
  }
  const trustedProxies = splitList(get('IMAGEGATE_TRUSTED_PROXIES'));
  const probe = new BlockList();
  for (const entry of trustedProxies) {
    try {
      addException(probe, entry);
    } catch (err) {
      throw new ConfigError(`IMAGEGATE_TRUSTED_PROXIES: ${(err as Error).message} (a list of addresses/CIDRs)`);
    }
  }
  return {
    timeouts: {
      headersMs,
      requestMs,
      bodyIdleMs: parseDuration('IMAGEGATE_BODY_IDLE_TIMEOUT', get('IMAGEGATE_BODY_IDLE_TIMEOUT') ?? '30s', 'ms'),
      // nginx's send_timeout, and its default: a client that takes no byte of an answer for a minute has gone.
      sendIdleMs: parseDuration('IMAGEGATE_SEND_TIMEOUT', get('IMAGEGATE_SEND_TIMEOUT') ?? '60s', 'ms'),
    },
    trustedProxies,
  };
}

/** The file's `channels:` list; OPENAI_API_KEY adds a channel named `openai` unless the file has one. */
function parseChannels(value: unknown, openai: UpstreamConfig | undefined, timeoutSeconds: number): ChannelDefinition[] {
  if (value !== undefined && value !== null && !Array.isArray(value)) throw new ConfigError('IMAGEGATE_CONFIG: channels must be a list');
  const defs = (Array.isArray(value) ? value : []).map((entry: unknown, i) => {
    try {
      return parseChannelDefinition(entry, { timeoutSeconds });
    } catch (err) {
      if (err instanceof ChannelDefinitionError) throw new ConfigError(`IMAGEGATE_CONFIG: channels[${i}].${err.field}: ${err.message}`);
      throw err;
    }
  });
  const names = new Set<string>();
  for (const def of defs) {
    if (names.has(def.name)) throw new ConfigError(`IMAGEGATE_CONFIG: channels: the name '${def.name}' is used twice`);
    names.add(def.name);
  }
  if (openai && !names.has('openai')) {
    defs.push(
      parseChannelDefinition(
        {
          name: 'openai',
          // api.openai.com refuses parameters it does not know; any other base URL is a relay.
          kind: new URL(openai.baseUrl).hostname === 'api.openai.com' ? 'openai' : 'openai-compatible',
          base_url: openai.baseUrl,
          api_key: openai.apiKey,
        },
        { timeoutSeconds },
      ),
    );
  }
  return defs;
}

/**
 * The operator's default content-safety policy: IMAGEGATE_SAFETY_MODE (off, flag, block),
 * IMAGEGATE_SAFETY_THRESHOLDS (`porn=0.6,sexy=0.95`, laid over the defaults), IMAGEGATE_SAFETY_BLOCKLIST
 * (comma-separated words and /patterns/; the config file may give a list).
 */
function parseSafetyConfig(get: (name: string) => string | undefined): SafetyConfig {
  const mode = get('IMAGEGATE_SAFETY_MODE') ?? 'off';
  const thresholds = get('IMAGEGATE_SAFETY_THRESHOLDS');
  const blocklist = get('IMAGEGATE_SAFETY_BLOCKLIST');
  const raw: Record<string, unknown> = {
    mode,
    ...(thresholds ? { thresholds: Object.fromEntries(splitList(thresholds).map((pair) => thresholdPair(pair))) } : {}),
    ...(blocklist ? { blocklist: splitList(blocklist) } : {}),
  };
  let policy: SafetyPolicy;
  try {
    policy = parseSafetyPolicy(raw, 'safety');
  } catch (err) {
    if (!(err instanceof SafetyPolicyError)) throw err;
    const name = err.field.startsWith('safety.thresholds')
      ? 'IMAGEGATE_SAFETY_THRESHOLDS'
      : err.field.startsWith('safety.blocklist')
        ? 'IMAGEGATE_SAFETY_BLOCKLIST'
        : 'IMAGEGATE_SAFETY_MODE';
    throw new ConfigError(`${name}: ${err.message}`);
  }
  const cpus = availableParallelism();
  return {
    // Thresholds with mode off still apply to the callers who ask (nsfw_checker); nothing set: no default at all.
    defaultPolicy: mode === 'off' && !thresholds && !blocklist ? null : policy,
    workers: parseCount('IMAGEGATE_SAFETY_WORKERS', get('IMAGEGATE_SAFETY_WORKERS') ?? '1', 1, cpus),
  };
}

/** `porn=0.6` -> ['porn', 0.6] (the number checked by the policy's parser). */
function thresholdPair(pair: string): [string, unknown] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new ConfigError(`IMAGEGATE_SAFETY_THRESHOLDS: '${pair}' must be class=score (e.g. porn=0.7)`);
  const value = pair.slice(at + 1).trim();
  return [pair.slice(0, at).trim(), value === '' ? Number.NaN : Number(value)];
}

function parseCount(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}: '${value}' must be a whole number from ${min} to ${max}`);
  return n;
}

function readConfigFile(path: string | undefined): FileConfig {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`IMAGEGATE_CONFIG: cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    // Required only when there is a file: the parser costs ~50 ms of start-up.
    const { parse: parseYaml } = createRequire(import.meta.url)('yaml') as { parse: typeof ParseYaml };
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`IMAGEGATE_CONFIG: ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`IMAGEGATE_CONFIG: ${path} must hold a mapping of settings`);
  }
  return parsed as FileConfig;
}

/** IMAGEGATE_METRICS_PORT: unset or empty, no metrics listener. */
function metricsPortOf(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`IMAGEGATE_METRICS_PORT: '${value}' is not a port number (0-65535)`);
  return port;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT: '${value}' is not a port number (0-65535)`);
  }
  return port;
}

function parseDatabaseUrl(value: string | undefined, dataDir: string): DatabaseConfig {
  if (!value) return { kind: 'sqlite', file: join(dataDir, 'imagegate.db') };
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value };
  const path = value.startsWith('sqlite:') ? value.slice('sqlite:'.length).replace(/^\/\//, '') : value;
  if (path === ':memory:') return { kind: 'sqlite', file: path };
  if (!value.startsWith('sqlite:') && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ConfigError(`DATABASE_URL: unsupported scheme in '${redactUrl(value)}' (use postgres://... or a SQLite file path)`);
  }
  return { kind: 'sqlite', file: isAbsolute(path) ? path : resolve(path) };
}

function parsePublicUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return parseHttpUrl('IMAGEGATE_PUBLIC_URL', value).replace(/\/+$/, '');
}

function parseBaseUrl(value: string): string {
  return parseHttpUrl('OPENAI_BASE_URL', value).replace(/\/+$/, '');
}

function parseHttpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name}: '${value}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name}: '${value}' must be an http(s) URL`);
  }
  return value;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "24h", "7d", "500ms" -> seconds (or ms). */
export function parseDuration(name: string, value: string, unit: 's' | 'ms' = 's'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) throw new ConfigError(`${name}: '${value}' is not a duration (e.g. 30s, 15m, 24h, 7d)`);
  const seconds = Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1);
  return unit === 'ms' ? Math.round(seconds * 1000) : seconds;
}

const BYTE_UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

function parseBytes(name: string, value: string): number {
  const match = /^\s*(\d+)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!match) throw new ConfigError(`${name}: '${value}' is not a size (e.g. 512kb, 64mb)`);
  const bytes = Number(match[1]) * (BYTE_UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1);
  if (bytes < 1024) throw new ConfigError(`${name}: '${value}' is too small (at least 1kb)`);
  return bytes;
}

/**
 * The default memory budget: at most 1 GB, an eighth of the memory this process may use, and a
 * quarter of the JS heap's limit. What is counted is each body and answer once, but a request
 * holds its bytes two to four times over at its peak (the body as read and as joined, the form
 * sent upstream, the answer as received and as sent, and buffers freed but not yet collected),
 * so resident memory can reach about four times the budget above idle. A JSON body lives in the
 * JS heap twice (its text and the parsed value), and the heap's limit is a hard one.
 */
export function defaultMemoryBudget(memoryBytes: number, heapLimitBytes: number): number {
  return Math.floor(Math.min(1024 ** 3, memoryBytes / 8, heapLimitBytes / 4));
}

/** The machine's memory, or the container's limit when there is a lower one (cgroups). */
export function availableMemory(): number {
  const machine = totalmem();
  const constrained = process.constrainedMemory();
  return constrained > 0 && constrained < machine ? constrained : machine;
}

function parseMemoryBudget(value: string | undefined): number {
  const bytes =
    value === undefined ? defaultMemoryBudget(availableMemory(), getHeapStatistics().heap_size_limit) : parseBytes('IMAGEGATE_MEMORY_BUDGET', value);
  if (bytes < 1024 ** 2) throw new ConfigError(`IMAGEGATE_MEMORY_BUDGET: '${value}' is too small (at least 1mb)`);
  return bytes;
}

/** Disk for uploads in flight: 4 GB by default, enough for hundreds of large edits at once. */
const DEFAULT_SPOOL_BUDGET = '4gb';

function parseSpoolBudget(value: string | undefined): number {
  const bytes = parseBytes('IMAGEGATE_SPOOL_BUDGET', value ?? DEFAULT_SPOOL_BUDGET);
  if (bytes < 1024 ** 2) throw new ConfigError(`IMAGEGATE_SPOOL_BUDGET: '${value}' is too small (at least 1mb)`);
  return bytes;
}

function parseBoolean(name: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (/^(true|1|yes)$/.test(value)) return true;
  if (/^(false|0|no)$/.test(value)) return false;
  throw new ConfigError(`${name}: '${value}' must be true or false`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseLogLevel(value: string): string {
  if (!LOG_LEVELS.includes(value)) throw new ConfigError(`LOG_LEVEL: '${value}' is not one of ${LOG_LEVELS.join(', ')}`);
  return value;
}

export type LogFormat = 'json' | 'pretty';

function parseLogFormat(value: string): LogFormat {
  if (value !== 'json' && value !== 'pretty') throw new ConfigError(`IMAGEGATE_LOG_FORMAT: '${value}' is not json or pretty`);
  return value;
}

function parseRedisUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`REDIS_URL: '${value}' is not a URL (redis://host:6379)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ConfigError('REDIS_URL: must start with redis:// or rediss://');
  return value;
}

function parseSecretKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    SecretBox.fromText(value);
  } catch (err) {
    throw new ConfigError(`IMAGEGATE_SECRET_KEY: ${(err as Error).message}`);
  }
  return value;
}

function parseRedisTimeout(value: string): number {
  const ms = parseDuration('IMAGEGATE_REDIS_TIMEOUT', value, 'ms');
  if (ms < 10) throw new ConfigError(`IMAGEGATE_REDIS_TIMEOUT: '${value}' must be at least 10ms`);
  return ms;
}

function parseRedisDownPolicy(value: string): 'open' | 'closed' {
  if (value !== 'open' && value !== 'closed') throw new ConfigError(`IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN: '${value}' is not one of open, closed`);
  return value;
}

function parseRedisPrefix(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) throw new ConfigError(`IMAGEGATE_REDIS_PREFIX: '${value}' must be 1-64 letters, digits, _ . -`);
  return value;
}

function parseInputsConfig(get: (name: string) => string | undefined): InputsConfig {
  // true / false, or a list of the private addresses and CIDRs that may be fetched.
  const allow = (get('IMAGEGATE_ALLOW_PRIVATE_URLS') ?? 'false').trim().toLowerCase();
  const flag = /^(true|1|yes)$/.test(allow) ? true : /^(false|0|no|)$/.test(allow) ? false : undefined;
  const addresses = flag === undefined ? splitList(allow) : [];
  const probe = new BlockList();
  for (const entry of addresses) {
    try {
      addException(probe, entry);
    } catch (err) {
      throw new ConfigError(`IMAGEGATE_ALLOW_PRIVATE_URLS: ${(err as Error).message} (use true, false or a list of addresses/CIDRs)`);
    }
  }
  return {
    uploadLimitBytes: parseBytes('IMAGEGATE_UPLOAD_LIMIT', get('IMAGEGATE_UPLOAD_LIMIT') ?? '128mb'),
    fetchTimeoutMs: parseDuration('IMAGEGATE_FETCH_TIMEOUT', get('IMAGEGATE_FETCH_TIMEOUT') ?? '15s', 'ms'),
    allowPrivateUrls: flag === true,
    allowedPrivateAddresses: addresses,
  };
}

const S3_VARS = [
  'IMAGEGATE_S3_ENDPOINT',
  'IMAGEGATE_S3_REGION',
  'IMAGEGATE_S3_ACCESS_KEY_ID',
  'IMAGEGATE_S3_SECRET_ACCESS_KEY',
  'IMAGEGATE_S3_FORCE_PATH_STYLE',
  'IMAGEGATE_S3_PREFIX',
  'IMAGEGATE_S3_LINKS',
  'IMAGEGATE_S3_PUBLIC_BASE_URL',
];
/** The longest a SigV4 presigned URL may be valid. */
const MAX_PRESIGNED_TTL_SECONDS = 7 * 86400;

function isS3LinkMode(value: string): value is 'gateway' | 'presigned' {
  return value === 'gateway' || value === 'presigned';
}

/** IMAGEGATE_S3_*: undefined unless IMAGEGATE_S3_BUCKET is set. */
function parseS3Config(get: (name: string) => string | undefined, urlTtlSeconds: number): S3Config | undefined {
  const bucket = get('IMAGEGATE_S3_BUCKET');
  if (bucket === undefined) {
    const stray = S3_VARS.find((name) => get(name) !== undefined);
    if (stray) throw new ConfigError(`${stray}: set IMAGEGATE_S3_BUCKET too (without a bucket, images are stored under the data dir)`);
    return undefined;
  }
  // 3-63 of a-z 0-9 . -, a letter or digit at each end, no '..', not an IP address.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    throw new ConfigError(
      `IMAGEGATE_S3_BUCKET: '${bucket}' is not a bucket name (3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)`,
    );
  }
  const endpointValue = get('IMAGEGATE_S3_ENDPOINT');
  const endpoint = endpointValue === undefined ? undefined : parseHttpUrl('IMAGEGATE_S3_ENDPOINT', endpointValue).replace(/\/+$/, '');
  if (endpoint !== undefined && (new URL(endpoint).search || new URL(endpoint).hash)) {
    throw new ConfigError(`IMAGEGATE_S3_ENDPOINT: '${endpointValue}' must not have a query or fragment`);
  }
  const region = get('IMAGEGATE_S3_REGION') ?? 'us-east-1';
  if (!/^[a-z0-9-]{1,64}$/.test(region)) throw new ConfigError(`IMAGEGATE_S3_REGION: '${region}' is not a region (e.g. us-east-1, or auto for R2)`);
  const accessKeyId = get('IMAGEGATE_S3_ACCESS_KEY_ID');
  const secretAccessKey = get('IMAGEGATE_S3_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    const missing = accessKeyId === undefined ? 'IMAGEGATE_S3_ACCESS_KEY_ID' : 'IMAGEGATE_S3_SECRET_ACCESS_KEY';
    throw new ConfigError(
      `${missing}: is needed with ${missing === 'IMAGEGATE_S3_ACCESS_KEY_ID' ? 'IMAGEGATE_S3_SECRET_ACCESS_KEY' : 'IMAGEGATE_S3_ACCESS_KEY_ID'} (set both, or neither to use the AWS default credential chain)`,
    );
  }
  const forcePathStyle = parseBoolean('IMAGEGATE_S3_FORCE_PATH_STYLE', get('IMAGEGATE_S3_FORCE_PATH_STYLE') ?? 'false');
  const prefix = get('IMAGEGATE_S3_PREFIX') ?? 'images/';
  if (!/^[A-Za-z0-9!_.*'()/-]{0,512}$/.test(prefix) || prefix.startsWith('/') || prefix.includes('//')) {
    throw new ConfigError(`IMAGEGATE_S3_PREFIX: '${prefix}' must be a key prefix of letters, digits and !_.*'()/- (not starting with '/', e.g. images/)`);
  }
  const linksValue = get('IMAGEGATE_S3_LINKS');
  const publicBase = get('IMAGEGATE_S3_PUBLIC_BASE_URL');
  if (linksValue !== undefined && !isS3LinkMode(linksValue)) {
    throw new ConfigError(`IMAGEGATE_S3_LINKS: '${linksValue}' is not one of gateway, presigned`);
  }
  if (publicBase !== undefined && linksValue !== undefined) {
    throw new ConfigError(`IMAGEGATE_S3_LINKS: leave it unset with IMAGEGATE_S3_PUBLIC_BASE_URL (links are then unsigned <base>/<prefix><name>)`);
  }
  const links: S3Config['links'] = publicBase !== undefined ? 'public' : (linksValue ?? 'gateway');
  if (links === 'presigned' && urlTtlSeconds > MAX_PRESIGNED_TTL_SECONDS) {
    throw new ConfigError(`IMAGEGATE_URL_TTL: ${urlTtlSeconds}s is longer than 7d, the most an S3 presigned link (IMAGEGATE_S3_LINKS=presigned) can last`);
  }
  return {
    bucket,
    endpoint,
    region,
    credentials: accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined,
    forcePathStyle,
    prefix,
    links,
    publicBaseUrl: publicBase === undefined ? undefined : parseHttpUrl('IMAGEGATE_S3_PUBLIC_BASE_URL', publicBase).replace(/\/+$/, ''),
  };
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * The file's `models:` list: each entry a new name for a catalogue model (`base`, built-in or an
 * earlier entry), optionally with its own upstream model, fixed params and capability overrides
 * (core/models.ts parseCapabilityOverrides). Every entry is built here, so a bad one stops the start.
 */
function parseModelAliases(value: unknown): ModelAlias[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError('IMAGEGATE_CONFIG: models must be a list');
  const catalogue = new ModelCatalogue(BUILTIN_MODELS);
  return value.map((entry: unknown, i) => {
    const where = `IMAGEGATE_CONFIG: models[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new ConfigError(`${where} must be a mapping`);
    const e = entry as Record<string, unknown>;
    if (typeof e.name !== 'string' || !e.name) throw new ConfigError(`${where}.name must be a non-empty string`);
    if (typeof e.base !== 'string' || !catalogue.get(e.base)) {
      throw new ConfigError(`${where}.base must name a built-in model or an earlier alias (got '${String(e.base)}')`);
    }
    if (e.upstream_model !== undefined && typeof e.upstream_model !== 'string') {
      throw new ConfigError(`${where}.upstream_model must be a string`);
    }
    if (e.params !== undefined && (typeof e.params !== 'object' || e.params === null || Array.isArray(e.params))) {
      throw new ConfigError(`${where}.params must be a mapping`);
    }
    try {
      const alias: ModelAlias = {
        name: e.name,
        base: e.base,
        ...(typeof e.upstream_model === 'string' ? { upstreamModel: e.upstream_model } : {}),
        ...(typeof e.description === 'string' ? { description: e.description } : {}),
        ...(e.params ? { params: e.params as Record<string, unknown> } : {}),
        ...(e.capabilities !== undefined ? { capabilities: parseCapabilityOverrides(e.capabilities) } : {}),
      };
      catalogue.add(alias);
      return alias;
    } catch (err) {
      if (err instanceof ModelConfigError) throw new ConfigError(`${where}.${err.field} (${e.name}): ${err.message}`);
      throw err;
    }
  });
}

/**
 * The file's `pricing:` (below), then a check that every config model has a price for each size
 * and quality it takes: a model with a quality or size of its own (e.g. `xhigh`) needs its price
 * here, or its requests could not be reserved.
 */
function parsePricedModels(value: unknown, aliases: readonly ModelAlias[]): PriceTable | undefined {
  const table = parsePricing(value, aliases);
  if (aliases.length === 0) return table;
  const catalogue = ModelCatalogue.withAliases(aliases);
  const pricing = new Pricing(table, catalogue, aliases);
  aliases.forEach((alias, i) => {
    const spec = catalogue.get(alias.name);
    const missing = spec ? pricing.unpricedCells(spec) : [];
    if (missing.length > 0) {
      throw new ConfigError(
        `IMAGEGATE_CONFIG: models[${i}] (${alias.name}): no price for ${missing.join(', ')} (size/quality); ` +
          `set them under pricing.${alias.name}.per_image (USD per image, by size then quality)`,
      );
    }
  });
  return table;
}

/** An absent price table stays absent (exactOptionalPropertyTypes). */
function optionalPricing(pricing: PriceTable | undefined): { pricing?: PriceTable } {
  return pricing ? { pricing } : {};
}

/** The file's `pricing:` mapping (see core/pricing.ts), checked against the built-in models and the aliases. */
function parsePricing(value: unknown, aliases: readonly ModelAlias[]): PriceTable | undefined {
  if (value === undefined || value === null) return undefined;
  const catalogue = ModelCatalogue.withAliases(aliases);
  try {
    return parsePriceTable(value, (name) => catalogue.get(name));
  } catch (err) {
    if (err instanceof PricingConfigError) {
      throw new ConfigError(err.field ? `IMAGEGATE_CONFIG: pricing.${err.field}: ${err.message}` : `IMAGEGATE_CONFIG: pricing ${err.message}`);
    }
    throw err;
  }
}

/** For logs: never print credentials embedded in a URL. */
export function redactUrl(value: string): string {
  return value.replace(/\/\/([^@/]*)@/, '//***@');
}

/** OpenTelemetry's variables are read from the environment only, as every OpenTelemetry SDK reads them. */
function tracingSettingsOf(env: Env): TracingSettings {
  try {
    return readTracingSettings(env);
  } catch (err) {
    if (err instanceof TracingSettingsError) throw new ConfigError(err.message);
    throw err;
  }
}
