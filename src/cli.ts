#!/usr/bin/env node
/** Entry point: `imagegate serve | keys ... | simulate openai ...`. */
import { parseArgs } from 'node:util';
import { createApp } from './app.js';
import { ApiKeyService } from './billing/api-keys.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openDatabase } from './db/database.js';
import { startOpenAISimulator } from './simulator/openai.js';

const USAGE = `imagegate: an OpenAI-compatible gateway for image generation

Usage:
  imagegate serve                          start the gateway (settings from env vars / IMAGEGATE_CONFIG)
  imagegate keys create --name NAME        create a client API key and print it once
  imagegate keys list                      list keys (prefix, name, created, revoked)
  imagegate keys revoke ID_OR_PREFIX       revoke a key
  imagegate simulate openai [--port N] [--host H] [--latency MS] [--api-key K] [--relay url|b64_json|data_uri]
                                           run the OpenAI Images upstream simulator
  imagegate help                           show this text
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(loadConfig());
    case 'keys':
      return keys(loadConfig(), rest);
    case 'simulate':
      return simulate(rest);
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
  const app = await createApp(config);
  if (!app.keys.hasEnvKeys && (await app.keys.count()) === 0) {
    const created = await app.keys.create('default');
    process.stdout.write(`\nimagegate: created your first API key (shown only this once, keep it):\n\n  ${created.key}\n\n`);
  }
  const address = await app.listen();
  app.logger.info(`imagegate listening on ${address} (database: ${app.database.kind})`);
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

async function keys(config: Config, args: string[]): Promise<number> {
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

async function simulate(args: string[]): Promise<number> {
  const [protocol, ...rest] = args;
  if (protocol !== 'openai') throw new UsageError(`unknown simulator '${protocol ?? ''}' (available: openai)`);
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      latency: { type: 'string', default: '0' },
      'api-key': { type: 'string' },
      relay: { type: 'string' },
    },
  });
  const relay = values.relay;
  if (relay !== undefined && relay !== 'url' && relay !== 'b64_json' && relay !== 'data_uri') {
    throw new UsageError('--relay must be url, b64_json or data_uri');
  }
  const running = await startOpenAISimulator({
    host: values.host,
    port: Number(values.port),
    latencyMs: Number(values.latency),
    ...(values['api-key'] ? { apiKey: values['api-key'] } : {}),
    ...(relay ? { relay: { answer: relay } } : {}),
  });
  process.stdout.write(`OpenAI Images simulator on ${running.baseURL}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await running.close();
  return 0;
}

class UsageError extends Error {}

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
