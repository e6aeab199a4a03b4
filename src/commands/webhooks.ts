/**
 * `imagegate webhooks secret | rotate-secret`: the gateway-wide secret that signs the task
 * callbacks of IMAGEGATE_API_KEYS keys, straight from the database (opened with the same secret
 * box as the server, so a sealed secret opens here too).
 */
import type { Config } from '../config.js';
import { openDatabase } from '../db/database.js';
import { openSecretBox } from '../db/secret-box.js';
import { WebhookSecrets } from '../tasks/webhook-secrets.js';
import { UsageError } from './usage-error.js';

export async function webhooksCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'secret' && action !== 'rotate-secret') throw new UsageError(`unknown webhooks action '${action ?? ''}' (secret, rotate-secret)`);
  if (rest.length > 0) throw new UsageError(`webhooks ${action} takes no arguments`);
  const database = await openDatabase(config.database);
  try {
    const secrets = new WebhookSecrets(database.db, openSecretBox({ secretKey: config.secretKey, database: config.database, dataDir: config.dataDir }));
    const secret = action === 'secret' ? await secrets.gatewaySecret() : await secrets.rotateGatewaySecret();
    process.stdout.write(`${secret}\n`);
    if (action === 'rotate-secret') process.stderr.write('rotated: callbacks are signed with the new secret from their next attempt\n');
    return 0;
  } finally {
    await database.close();
  }
}
