/** `imagegate simulate <protocol>`: run an upstream simulator until SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { startAzureOpenAISimulator } from '../simulator/azure-openai.js';
import { startNewApiAsyncSimulator } from '../simulator/newapi-async.js';
import { startOpenAISimulator } from '../simulator/openai.js';
import { startTaskApiSimulator } from '../simulator/task-api.js';
import { UsageError } from './usage-error.js';

const PROTOCOLS = ['openai', 'azure-openai', 'newapi-async', 'task-api'] as const;

export async function simulateCommand(args: string[]): Promise<number> {
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

function relayOption(relay: string | undefined): { relay?: { answer: 'url' | 'b64_json' | 'data_uri' } } {
  if (relay === undefined) return {};
  if (relay !== 'url' && relay !== 'b64_json' && relay !== 'data_uri') throw new UsageError('--relay must be url, b64_json or data_uri');
  return { relay: { answer: relay } };
}
