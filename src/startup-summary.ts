/**
 * What a starting instance says about itself, one log line each, so an operator can read from
 * the log how it is set up: where it listens, its data dir (an absolute path), its database, its queue, where images go and how
 * links to them are made, whether the admin API is on, each channel with the models it serves,
 * and where the API docs are. No secret is ever part of a line: URLs lose their passwords (and
 * any query parameter that looks like a credential), keys and headers are never shown.
 */
import { resolve } from 'node:path';
import type { Config } from './config.js';
import type { Channel } from './core/channel.js';
import type { StoredChannel } from './routing/channel-store.js';

export interface StartupFacts {
  config: Pick<Config, 'dataDir' | 'database' | 'redisUrl' | 'redisPrefix' | 'tasks' | 's3' | 'urlTtlSeconds' | 'adminKey' | 'publicUrl'>;
  /** Where the server listens: http://host:port. */
  address: string;
  /** The folder of the filesystem image store (absolute). */
  imagesDir: string;
  channels: readonly StoredChannel[];
  /** Every catalogue model id, in order: what a `*` channel serves. */
  catalogue: readonly string[];
  /** The paths of the API docs page (`/docs`) and the OpenAPI document, when they are served. */
  docs: { page: string | undefined; openapi: string | undefined };
  /** The web console's path (`/console/`), when it is served (IMAGEGATE_CONSOLE). */
  console?: string | undefined;
}

/** One line of the summary: `topic` names it for log readers, `msg` says it. */
export interface SummaryLine {
  topic: 'listening' | 'data_dir' | 'database' | 'queue' | 'image_store' | 'admin_api' | 'channel' | 'docs' | 'console';
  msg: string;
}

export function startupSummary(facts: StartupFacts): SummaryLine[] {
  const { config } = facts;
  const base = config.publicUrl ?? facts.address;
  const lines: SummaryLine[] = [
    { topic: 'listening', msg: `imagegate listening on ${facts.address}${config.publicUrl ? ` (public URL ${redactUrl(config.publicUrl)})` : ''}` },
    { topic: 'data_dir', msg: `data dir: ${resolve(config.dataDir)} (uploads in flight under spool/)` },
    { topic: 'database', msg: `database: ${databaseLine(config.database)}` },
    { topic: 'queue', msg: `queue: ${queueLine(config)}` },
    { topic: 'image_store', msg: `image store: ${storeLine(config, facts.imagesDir)}` },
    {
      topic: 'admin_api',
      msg: config.adminKey ? 'admin API: on (/admin/api/..., Authorization: Bearer IMAGEGATE_ADMIN_KEY)' : 'admin API: off (IMAGEGATE_ADMIN_KEY is not set)',
    },
    ...facts.channels.map((stored): SummaryLine => ({ topic: 'channel', msg: channelLine(stored, facts.catalogue) })),
  ];
  const { page, openapi } = facts.docs;
  if (page) lines.push({ topic: 'docs', msg: `API docs: ${base}${page}${openapi ? ` (OpenAPI document: ${base}${openapi})` : ''}` });
  if (facts.console) lines.push({ topic: 'console', msg: `web console: ${base}${facts.console}` });
  return lines;
}

function databaseLine(database: Config['database']): string {
  if (database.kind === 'postgres') return `PostgreSQL at ${redactUrl(database.url)}`;
  return database.file === ':memory:' ? 'SQLite in memory (nothing is kept after the process ends)' : `SQLite file ${database.file}`;
}

function queueLine(config: StartupFacts['config']): string {
  const workers = `${config.tasks.workers} task worker${config.tasks.workers === 1 ? '' : 's'}`;
  if (!config.redisUrl) return `in-process (${workers} over the database's task rows; rate limits and channel health in memory)`;
  return `BullMQ on Redis at ${redactUrl(config.redisUrl)} (prefix ${config.redisPrefix}; ${workers}; rate limits and channel health shared in Redis)`;
}

function storeLine(config: StartupFacts['config'], imagesDir: string): string {
  const ttl = formatDuration(config.urlTtlSeconds);
  const { s3 } = config;
  if (!s3) return `files under ${imagesDir}; links signed by the gateway (/files/..., valid ${ttl})`;
  const where = `S3 bucket ${s3.bucket} at ${s3.endpoint ? redactUrl(s3.endpoint) : `AWS (${s3.region})`}, keys under '${s3.prefix}'`;
  switch (s3.links) {
    case 'presigned':
      return `${where}; links presigned by the bucket (valid ${ttl})`;
    case 'public':
      return `${where}; public unsigned links under ${redactUrl(s3.publicBaseUrl ?? '')}`;
    case 'gateway':
      return `${where}; links signed by the gateway (/files/..., valid ${ttl}; bytes streamed from the bucket)`;
  }
}

function channelLine({ channel, disabledReason }: StoredChannel, catalogue: readonly string[]): string {
  const where = channel.kind === 'demo' ? 'built in: images drawn locally, not by a real model' : redactUrl(channel.baseUrl);
  const state = !channel.enabled ? ' [disabled]' : disabledReason !== null ? ` [turned off by the gateway: ${disabledReason}]` : '';
  return `channel ${channel.name} (${channel.kind}, ${where})${state}: ${modelsLine(channel, catalogue)}`;
}

function modelsLine(channel: Channel, catalogue: readonly string[]): string {
  if (channel.models === '*') return `every catalogue model (*): ${catalogue.join(', ')}`;
  return channel.models.join(', ');
}

/** Query parameters whose values are credentials (`?password=`, `?sslkey=`, `?X-Amz-Signature=`, `?token=`...). */
const SECRET_PARAM = /pass|secret|token|key|sig|credential|auth/i;

/**
 * The URL without secrets: the password of its user info (the user stays) and credential-like
 * query values become `***`. Not a URL: user info cut the same way by pattern.
 */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value.replace(/\/\/([^@/:]*):[^@/]*@/, '//$1:***@');
  }
  const secretParams = [...url.searchParams.keys()].filter((name) => SECRET_PARAM.test(name));
  // Nothing to hide: as given (URL would add a trailing slash to a bare origin).
  if (!url.password && secretParams.length === 0) return value;
  if (url.password) url.password = '***';
  for (const name of secretParams) url.searchParams.set(name, '***');
  return url.toString();
}

/** 86400 -> 24h, 604800 -> 7d, 5400 -> 90m, 45 -> 45s: the largest unit that divides it (days from two on). */
function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (seconds >= (unit === 'd' ? 2 * size : size) && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
