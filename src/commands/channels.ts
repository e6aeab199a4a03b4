/**
 * `imagegate channels list | add | update | remove | test`: channels in the database (the same
 * ones the admin API manages). Running gateways pick changes up within IMAGEGATE_CHANNEL_REFRESH.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { ModelCatalogue } from '../core/models.js';
import { openDatabase } from '../db/database.js';
import { openSecretBox } from '../db/secret-box.js';
import { maskSecret } from '../http/redact.js';
import { createProviders } from '../providers/registry.js';
import { HttpTransport } from '../providers/transport.js';
import { ChannelDefinitionError, parseChannelDefinition, patchChannelDefinition } from '../routing/channel-definition.js';
import { ChannelStore, definitionOf, type StoredChannel } from '../routing/channel-store.js';
import { ChannelTester } from '../routing/channel-tester.js';
import { UsageError } from './usage-error.js';

const OPTIONS = {
  json: { type: 'string' },
  name: { type: 'string' },
  kind: { type: 'string' },
  'base-url': { type: 'string' },
  key: { type: 'string', multiple: true },
  models: { type: 'string' },
  priority: { type: 'string' },
  weight: { type: 'string' },
  'max-concurrent': { type: 'string' },
  timeout: { type: 'string' },
  'api-version': { type: 'string' },
  enable: { type: 'boolean' },
  disable: { type: 'boolean' },
} as const;

export async function channelsCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
  const database = await openDatabase(config.database);
  const store = new ChannelStore(database.db, openSecretBox({ secretKey: config.secretKey, database: config.database, dataDir: config.dataDir }));
  try {
    switch (action) {
      case 'list':
        for (const s of await store.list()) process.stdout.write(`${describe(s)}\n`);
        return 0;
      case 'add': {
        const def = definition(() => parseChannelDefinition(fieldsFrom(values), { timeoutSeconds: config.upstreamTimeoutSeconds }));
        if (await store.get(def.name)) throw new UsageError(`a channel named '${def.name}' exists`);
        process.stdout.write(`${describe(await store.create(def, 'admin'))}\n`);
        return 0;
      }
      case 'update': {
        const current = await existing(store, positionals[0]);
        const def = definition(() => patchChannelDefinition(definitionOf(current.channel), fieldsFrom(values)));
        const updated = await store.update(current.channel.id, def);
        if (updated) process.stdout.write(`${describe(updated)}\n`);
        return 0;
      }
      case 'remove': {
        const current = await existing(store, positionals[0]);
        await store.delete(current.channel.id);
        process.stdout.write(`removed ${current.channel.name}\n`);
        return 0;
      }
      case 'test':
        return await testChannel(config, await existing(store, positionals[0]));
      default:
        throw new UsageError(`unknown channels action '${action ?? ''}' (list, add, update, remove, test)`);
    }
  } finally {
    await database.close();
  }
}

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : K extends 'key' ? string[] : string };

/** Flags (and --json) -> the snake_case definition fields they set. */
function fieldsFrom(values: Values): Record<string, unknown> {
  const fields: Record<string, unknown> = values.json ? parseJson(values.json) : {};
  const number = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} must be a number`);
    return n;
  };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) fields[key] = value;
  };
  set('name', values.name);
  set('kind', values.kind);
  set('base_url', values['base-url']);
  set('api_keys', values.key);
  set('models', values.models === undefined ? undefined : values.models === '*' ? '*' : values.models.split(',').map((m) => m.trim()));
  set('priority', number('priority', values.priority));
  set('weight', number('weight', values.weight));
  set('max_concurrent', number('max-concurrent', values['max-concurrent']));
  set('timeout', number('timeout', values.timeout));
  set('api_version', values['api-version']);
  if (values.enable) fields.enabled = true;
  if (values.disable) fields.enabled = false;
  return fields;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the usage error
  }
  throw new UsageError('--json must be a JSON object');
}

function definition<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ChannelDefinitionError) throw new UsageError(`${err.field}: ${err.message}`);
    throw err;
  }
}

async function existing(store: ChannelStore, idOrName: string | undefined): Promise<StoredChannel> {
  if (!idOrName) throw new UsageError('name the channel (its name or id)');
  const stored = await store.get(idOrName);
  if (!stored) throw new UsageError(`no channel '${idOrName}'`);
  return stored;
}

function describe(s: StoredChannel): string {
  const c = s.channel;
  const status = !c.enabled ? 'disabled' : s.disabledReason ? `auto-disabled (${s.disabledReason})` : 'active';
  const keys = c.apiKeys.map(maskSecret).join(',') || '-';
  const models = c.models === '*' ? '*' : c.models.join(',');
  return `${c.name}  ${c.kind}  ${c.baseUrl}  ${status}  priority=${c.priority} weight=${c.weight}  models=${models}  keys=${keys}  (${s.source}, id ${c.id})`;
}

async function testChannel(config: Config, stored: StoredChannel): Promise<number> {
  const http = new HttpTransport();
  try {
    const providers = createProviders(http, { delayMs: config.demoDelayMs });
    const tester = new ChannelTester(providers, ModelCatalogue.withAliases(config.modelAliases), undefined);
    const result = await tester.test(stored.channel);
    process.stdout.write(
      result.ok ? `ok: ${result.model} in ${result.latencyMs} ms\n` : `failed after ${result.latencyMs} ms: ${result.error ?? 'no image'}\n`,
    );
    return result.ok ? 0 : 1;
  } finally {
    await http.close();
  }
}
