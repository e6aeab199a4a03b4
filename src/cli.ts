#!/usr/bin/env node
/** Entry point: `imagegate serve | keys ... | channels ... | webhooks ...`. */
import { UsageError } from './commands/usage-error.js';
import { ConfigError, loadConfig, type Config } from './config.js';

const USAGE = `imagegate: an OpenAI-compatible gateway for image generation

Usage:
  imagegate serve                          start the gateway (settings from env vars / IMAGEGATE_CONFIG)
  imagegate keys create --name NAME [--owner O] [--credits USD] [--expires ISO] [--models a,b]
                       [--ips cidr,..] [--rpm N] [--concurrency N] [--safety JSON]
                                           create a client API key and print it once (no --credits: unlimited)
  imagegate keys list                      list keys (prefix, name, balance, created, state)
  imagegate keys revoke ID_OR_PREFIX       revoke a key
  imagegate keys credit ID_OR_PREFIX USD [--note TEXT]   add (or with a negative amount, remove) credits
  imagegate keys ledger ID_OR_PREFIX       the key's credit ledger
  imagegate channels list                  list channels (keys redacted) with their status
  imagegate channels add --name N --kind K --base-url URL --key K [--key K2] [--models a,b|*]
                         [--priority N] [--weight N] [--max-concurrent N] [--timeout S] [--api-version V] [--json '{...}']
  imagegate channels update NAME [same flags] [--enable|--disable]
  imagegate channels remove NAME           delete a channel
  imagegate channels test NAME             run one small generation on it and report latency or the error
  imagegate webhooks secret                the secret signing the task callbacks of IMAGEGATE_API_KEYS keys
  imagegate webhooks rotate-secret         replace it with a new one, and print that
  imagegate help                           show this text
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Each command loads only its own modules: `serve` starts without the CLI's.
  switch (command) {
    case 'serve':
      return serve(loadConfig());
    case 'keys':
      return (await import('./commands/keys.js')).keysCommand(loadConfig(), rest);
    case 'channels':
      return (await import('./commands/channels.js')).channelsCommand(loadConfig(), rest);
    case 'webhooks':
      return (await import('./commands/webhooks.js')).webhooksCommand(loadConfig(), rest);
    case 'simulate':
      // The upstream simulators are a development tool (sim/), not part of the package.
      process.stderr.write(
        "imagegate: the upstream simulators are a development tool: from a checkout, run 'npm run simulate -- openai' (see docs/development.md)\n",
      );
      return 2;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`imagegate: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

async function serve(config: Config): Promise<number> {
  // Before the app allocates anything: the heap's limits are computed from the first collection on.
  const { growHeapForTraffic, heapGrowthLine } = await import('./heap-growth.js');
  const grown = growHeapForTraffic();
  const { createApp } = await import('./app.js');
  const app = await createApp(config);
  if (!app.keys.hasEnvKeys && (await app.keys.count()) === 0) {
    const created = await app.keys.create('default');
    process.stdout.write(`\nimagegate: created your first API key (shown only this once, keep it):\n\n  ${created.key}\n\n`);
  }
  // listen() logs the start-up summary: the address, database, queue, image store, channels...
  await app.listen();
  app.logger.info({ startup: 'heap' }, heapGrowthLine(grown));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      app.logger.info(`${signal}: finishing in-flight requests, then stopping`);
      void app.close().then(resolve, (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`imagegate: ${err.message}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    }
    process.stderr.write(`imagegate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
