/**
 * `npm run simulate -- <protocol> [flags]` (or `npx tsx sim/cli.ts <protocol> [flags]`): run an
 * upstream simulator until SIGTERM/SIGINT, to point a gateway's channel at while developing. A
 * development tool run from a checkout through tsx; the gateway's build does not contain it.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startAzureOpenAISimulator } from './azure-openai.js';
import { startBflSimulator } from './bfl.js';
import { startGoogleSimulator } from './google.js';
import { startDashScopeSimulator } from './dashscope.js';
import { startFalSimulator } from './fal.js';
import { startMidjourneyProxySimulator } from './midjourney-proxy.js';
import { startNewApiAsyncSimulator } from './newapi-async.js';
import { startOpenAISimulator } from './openai/simulator.js';
import { startOpenRouterSimulator } from './openrouter.js';
import { startReplicateSimulator } from './replicate.js';
import { startSeedreamSimulator } from './seedream.js';
import { startStabilitySimulator } from './stability.js';
import { startTaskApiSimulator } from './task-api.js';

const PROTOCOLS = [
  'openai',
  'azure-openai',
  'newapi-async',
  'task-api',
  'seedream',
  'dashscope',
  'bfl',
  'fal',
  'google',
  'openrouter',
  'stability',
  'replicate',
  'midjourney',
] as const;

const USAGE = `Usage: npm run simulate -- openai|azure-openai|newapi-async|task-api|seedream|dashscope|bfl|fal|google|openrouter|stability|replicate|midjourney [--port 4010] [--host 127.0.0.1]
                            [--api-key K] [--latency MS] [--relay url|b64_json|data_uri] [--task-ms MS]
                            [--platform ark|byteplus]
                            [--service-account KEY.json]   (google: a service account whose tokens Vertex AI takes)
`;

/** A mistake in the command line: the message and the usage, exit code 2. */
class UsageError extends Error {}

async function simulate(args: string[]): Promise<number> {
  const [protocol, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      latency: { type: 'string', default: '0' },
      'api-key': { type: 'string' },
      relay: { type: 'string' },
      'task-ms': { type: 'string', default: '3000' },
      platform: { type: 'string', default: 'ark' },
      'service-account': { type: 'string' },
    },
  });
  const listen = { host: values.host, port: Number(values.port) };
  const apiKey = values['api-key'] ? { apiKey: values['api-key'] } : {};
  const taskDurationMs = Number(values['task-ms']);
  let running: { origin: string; close(): Promise<void> };
  switch (protocol) {
    case 'openai':
      running = await startOpenAISimulator({ ...listen, ...apiKey, latencyMs: Number(values.latency), ...relayOption(values.relay) });
      break;
    case 'azure-openai':
      running = await startAzureOpenAISimulator({ ...listen, ...apiKey, latencyMs: Number(values.latency) });
      break;
    case 'newapi-async':
      running = await startNewApiAsyncSimulator({ ...listen, ...apiKey, taskDurationMs });
      break;
    case 'task-api':
      running = await startTaskApiSimulator({ ...listen, ...apiKey, taskDurationMs });
      break;
    case 'dashscope':
      // A dashscope channel's base_url is this origin (DashScope's regions are origins too).
      running = await startDashScopeSimulator({ ...listen, ...apiKey, taskDurationMs });
      break;
    case 'bfl':
      // A bfl channel's base_url is this origin (BFL's are https://api.bfl.ai and its regions); --api-key is its x-key.
      running = await startBflSimulator({ ...listen, ...apiKey, taskDurationMs });
      break;
    case 'fal':
      // A fal channel's base_url is this origin (fal's queue is https://queue.fal.run); --api-key is its `Authorization: Key`.
      running = await startFalSimulator({ ...listen, ...apiKey, taskDurationMs });
      break;
    case 'google':
      // A gemini channel's base_url is this origin; a vertex-ai one's {origin}/v1/projects/P/locations/L.
      running = await startGoogleSimulator({ ...listen, ...apiKey, latencyMs: Number(values.latency), ...serviceAccount(values['service-account']) });
      break;
    case 'openrouter':
      // An openrouter channel's base_url is this origin plus /api/v1.
      running = await startOpenRouterSimulator({ ...listen, ...apiKey, latencyMs: Number(values.latency) });
      break;
    case 'seedream':
      // An ark or byteplus channel's base_url is this origin plus /api/v3.
      running = await startSeedreamSimulator({ ...listen, ...apiKey, platform: seedreamPlatform(values.platform) });
      break;
    case 'stability':
      // A stability channel's base_url is this origin (Stability's is https://api.stability.ai).
      running = await startStabilitySimulator({ ...listen, ...apiKey, latencyMs: Number(values.latency) });
      break;
    case 'replicate':
      // A replicate channel's base_url is this origin plus /v1 (Replicate's is https://api.replicate.com/v1).
      running = await startReplicateSimulator({ ...listen, ...apiKey, predictionMs: taskDurationMs });
      break;
    case 'midjourney':
      // A midjourney channel's base_url is this origin (the proxy's /mj routes start there); --api-key is its mj-api-secret.
      running = await startMidjourneyProxySimulator({ ...listen, ...(values['api-key'] ? { apiSecret: values['api-key'] } : {}), taskDurationMs });
      break;
    default:
      throw new UsageError(`unknown simulator '${protocol ?? ''}' (available: ${PROTOCOLS.join(', ')})`);
  }
  process.stdout.write(`${protocol} simulator on ${running.origin}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await running.close();
  return 0;
}

/** A service-account key file (JSON): its client_email and the public half of its private_key. */
function serviceAccount(path: string | undefined): { serviceAccounts?: Record<string, string> } {
  if (path === undefined) return {};
  const key = JSON.parse(readFileSync(path, 'utf8')) as { client_email?: unknown; private_key?: unknown };
  if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string')
    throw new UsageError('--service-account must be a service-account JSON key file');
  const publicKey = createPublicKey(key.private_key).export({ type: 'spki', format: 'pem' }).toString();
  return { serviceAccounts: { [key.client_email]: publicKey } };
}

function seedreamPlatform(platform: string): 'ark' | 'byteplus' {
  if (platform !== 'ark' && platform !== 'byteplus') throw new UsageError('--platform must be ark or byteplus');
  return platform;
}

function relayOption(relay: string | undefined): { relay?: { answer: 'url' | 'b64_json' | 'data_uri' } } {
  if (relay === undefined) return {};
  if (relay !== 'url' && relay !== 'b64_json' && relay !== 'data_uri') throw new UsageError('--relay must be url, b64_json or data_uri');
  return { relay: { answer: relay } };
}

simulate(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const usage = err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n${usage ? `\n${USAGE}` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
