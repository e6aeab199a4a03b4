/** `imagegate keys create | list | revoke | credit | ledger`: client API keys, straight in the database. */
import { parseArgs } from 'node:util';
import { ApiKeyService } from '../billing/api-keys.js';
import { Credits, usd } from '../billing/credits.js';
import { parseKeySettings } from '../billing/key-settings.js';
import type { Config } from '../config.js';
import { GatewayError } from '../core/errors.js';
import { openDatabase } from '../db/database.js';
import { UsageError } from './usage-error.js';

const OPTIONS = {
  name: { type: 'string' },
  owner: { type: 'string' },
  credits: { type: 'string' },
  expires: { type: 'string' },
  models: { type: 'string' },
  ips: { type: 'string' },
  rpm: { type: 'string' },
  concurrency: { type: 'string' },
  /** The key's content-safety policy as JSON, e.g. '{"mode":"block","blocklist":["gore"]}'. */
  safety: { type: 'string' },
  note: { type: 'string' },
} as const;

export async function keysCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
  const database = await openDatabase(config.database);
  try {
    const service = new ApiKeyService(database.db, []);
    const credits = new Credits(database.db);
    if (action === 'create') {
      if (!values.name) throw new UsageError('keys create needs --name NAME');
      const settings = settingsFrom(values);
      const created = await service.create(settings);
      if (settings.creditsMicros) await credits.grant(created.id, settings.creditsMicros, 'initial credits');
      process.stdout.write(`${created.key}\n`);
      process.stderr.write(`created key '${created.name}' (id ${created.id}); it is shown only this once\n`);
      return 0;
    }
    if (action === 'list') {
      for (const k of await service.list()) {
        const state = k.revokedAt ? `revoked ${new Date(k.revokedAt).toISOString()}` : k.policy.enabled ? 'active' : 'disabled';
        const balance = k.balanceMicros === null ? 'unlimited' : usd(k.balanceMicros);
        process.stdout.write(`${k.id}  ${k.prefix}…  ${k.name}  ${balance}  created ${new Date(k.createdAt).toISOString()}  ${state}\n`);
      }
      return 0;
    }
    const target = positionals[0];
    if (action === 'revoke') {
      if (!target) throw new UsageError('keys revoke needs a key id or prefix');
      const count = await service.revoke(target);
      process.stdout.write(count > 0 ? `revoked ${count} key(s)\n` : `no active key matches '${target}'\n`);
      return count > 0 ? 0 : 1;
    }
    if (action === 'credit') {
      const amount = Number(positionals[1]);
      if (!target || !Number.isFinite(amount) || amount === 0) throw new UsageError('keys credit needs a key id or prefix and a non-zero USD amount');
      const key = await service.get(target);
      if (!key) throw new UsageError(`no key matches '${target}'`);
      const balance = await credits.grant(key.id, Math.round(amount * 1_000_000), values.note ?? null);
      process.stdout.write(`balance of '${key.name}': ${balance === null ? 'unlimited' : usd(balance)}\n`);
      return 0;
    }
    if (action === 'ledger') {
      const key = target ? await service.get(target) : null;
      if (!key) throw new UsageError('keys ledger needs an existing key id or prefix');
      for (const e of await credits.ledger(key.id)) {
        process.stdout.write(
          `${new Date(e.created_at).toISOString()}  ${e.kind.padEnd(7)}  ${usd(e.amount_micros).padStart(12)}  ${e.request_id ?? ''}  ${e.note ?? ''}\n`,
        );
      }
      return 0;
    }
    throw new UsageError(`unknown keys action '${action ?? ''}' (create, list, revoke, credit, ledger)`);
  } finally {
    await database.close();
  }
}

type Flags = { [K in keyof typeof OPTIONS]?: string };

/** Flags -> the admin API's settings, so both validate the same way. */
function settingsFrom(flags: Flags) {
  const list = (v: string | undefined) =>
    v === undefined
      ? undefined
      : v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const int = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const body = {
    name: flags.name,
    owner: flags.owner,
    credits: flags.credits === undefined ? undefined : Number(flags.credits),
    expires_at: flags.expires,
    allowed_models: list(flags.models),
    allowed_ips: list(flags.ips),
    rpm: int(flags.rpm),
    max_concurrent: int(flags.concurrency),
    safety: flags.safety === undefined ? undefined : jsonFlag('safety', flags.safety),
  };
  try {
    return parseKeySettings(Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)), 'create');
  } catch (err) {
    if (err instanceof GatewayError) throw new UsageError(`--${flagOf(err.param)}: ${err.message}`);
    throw err;
  }
}

function flagOf(param: string | null): string {
  const flags: Record<string, string> = { expires_at: 'expires', allowed_models: 'models', allowed_ips: 'ips', max_concurrent: 'concurrency' };
  // A policy's part (safety.blocklist[0]) is named in the message; the flag is --safety.
  if (param?.startsWith('safety')) return 'safety';
  return param ? (flags[param] ?? param) : 'flags';
}

function jsonFlag(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`--${flag}: not JSON (e.g. '{"mode":"block"}')`);
  }
}
