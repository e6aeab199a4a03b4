/** Starts the real gateway on port 0 with a temp data dir, and an official SDK client for it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { pino, type Logger } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { ImageSafetyClassifier } from '../../src/core/image-safety.js';

export interface TestGateway {
  app: App;
  baseURL: string;
  origin: string;
  apiKey: string;
  client: OpenAI;
  close(): Promise<void>;
}

/**
 * `logger`: for a test that reads what the gateway logs (silent otherwise, or TEST_LOG_LEVEL);
 * `onQuery`: for a test that counts the statements it runs; `safetyClassifier`: one of the test's
 * own instead of nsfwjs's. A reservation asked to settle twice
 * (a bug the ledger would hide) fails close(), so every test on this gateway guards against it.
 */
export async function startGateway(
  env: Record<string, string> = {},
  options: { logger?: Logger; onQuery?: (sql: string) => void; safetyClassifier?: ImageSafetyClassifier } = {},
): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-test-'));
  const config = loadConfig({ PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_DEMO_DELAY: '0', ...env });
  const settledTwice: string[] = [];
  const app = await createApp(config, {
    logger: options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...(options.onQuery ? { onQuery: options.onQuery } : {}),
    ...(options.safetyClassifier ? { safetyClassifier: options.safetyClassifier } : {}),
    onSettledTwice: (requestId, first, second) => void settledTwice.push(`${requestId}: ${first}, then ${second}`),
  });
  const origin = await app.listen();
  const { key } = await app.keys.create('test');
  const baseURL = `${origin}/v1`;
  return {
    app,
    origin,
    baseURL,
    apiKey: key,
    client: new OpenAI({ apiKey: key, baseURL, maxRetries: 0, timeout: 30_000 }),
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
      if (settledTwice.length > 0) throw new Error(`reservations asked to settle twice: ${settledTwice.join('; ')}`);
    },
  };
}

/** A raw JSON POST, for the cases the SDK would refuse to send. */
export async function postJson(gw: TestGateway, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.origin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json: json as Record<string, unknown> | undefined, text };
}
