/** `imagegate keys create | list | revoke`: client API keys, straight in the database. */
import { parseArgs } from 'node:util';
import { ApiKeyService } from '../billing/api-keys.js';
import type { Config } from '../config.js';
import { openDatabase } from '../db/database.js';
import { UsageError } from './usage-error.js';

export async function keysCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: { name: { type: 'string' } }, allowPositionals: true });
  const database = await openDatabase(config.database);
  try {
    const service = new ApiKeyService(database.db, []);
    if (action === 'create') {
      if (!values.name) throw new UsageError('keys create needs --name NAME');
      const created = await service.create(values.name);
      process.stdout.write(`${created.key}\n`);
      process.stderr.write(`created key '${created.name}' (id ${created.id}); it is shown only this once\n`);
      return 0;
    }
    if (action === 'list') {
      for (const k of await service.list()) {
        const state = k.revokedAt ? `revoked ${new Date(k.revokedAt).toISOString()}` : 'active';
        process.stdout.write(`${k.id}  ${k.prefix}…  ${k.name}  created ${new Date(k.createdAt).toISOString()}  ${state}\n`);
      }
      return 0;
    }
    if (action === 'revoke') {
      const target = positionals[0];
      if (!target) throw new UsageError('keys revoke needs a key id or prefix');
      const count = await service.revoke(target);
      process.stdout.write(count > 0 ? `revoked ${count} key(s)\n` : `no active key matches '${target}'\n`);
      return count > 0 ? 0 : 1;
    }
    throw new UsageError(`unknown keys action '${action ?? ''}' (create, list, revoke)`);
  } finally {
    await database.close();
  }
}
