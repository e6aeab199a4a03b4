/** Which Provider speaks each channel kind. Built once in app.ts. */
import type { ChannelKind } from '../core/channel.js';
import { AzureOpenAIProvider } from './azure-openai/provider.js';
import { NewApiAsyncProvider } from './newapi-async/provider.js';
import { OpenAIProvider } from './openai/provider.js';
import type { Provider } from './provider.js';
import { TaskApiProvider } from './task-api/provider.js';
import type { Transport } from './transport.js';

export type ProviderRegistry = Readonly<Record<ChannelKind, Provider>>;

export function createProviders(http: Transport, demo: Transport): ProviderRegistry {
  return {
    openai: new OpenAIProvider(http, 'official'),
    'openai-compatible': new OpenAIProvider(http, 'relay'),
    'azure-openai': new AzureOpenAIProvider(http),
    'newapi-async': new NewApiAsyncProvider(http),
    'task-api': new TaskApiProvider(http),
    // The demo channel is the OpenAI simulator, in process: same wire format, no socket.
    demo: new OpenAIProvider(demo, 'official'),
  };
}
