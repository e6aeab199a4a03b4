/** Which Provider speaks each channel kind. Built once in app.ts. */
import type { ChannelKind } from '../core/channel.js';
import { AzureOpenAIProvider } from './azure-openai/provider.js';
import { BflProvider } from './bfl/provider.js';
import { DashScopeProvider } from './dashscope/provider.js';
import { DemoProvider, type DemoOptions } from './demo/provider.js';
import { FalProvider } from './fal/provider.js';
import { GoogleProvider } from './google/provider.js';
import { MidjourneyProxyProvider } from './midjourney/provider.js';
import { NewApiAsyncProvider } from './newapi-async/provider.js';
import { OpenAIProvider } from './openai/provider.js';
import { OpenRouterProvider } from './openrouter/provider.js';
import type { Provider } from './provider.js';
import { RecraftProvider } from './recraft/provider.js';
import { ReplicateProvider } from './replicate/provider.js';
import { SeedreamProvider } from './seedream/provider.js';
import { StabilityProvider } from './stability/provider.js';
import { TaskApiProvider } from './task-api/provider.js';
import type { Transport } from './transport.js';

export type ProviderRegistry = Readonly<Record<ChannelKind, Provider>>;

export function createProviders(http: Transport, demo: DemoOptions): ProviderRegistry {
  return {
    openai: new OpenAIProvider(http, 'official'),
    'openai-compatible': new OpenAIProvider(http, 'relay'),
    'azure-openai': new AzureOpenAIProvider(http),
    'newapi-async': new NewApiAsyncProvider(http),
    'task-api': new TaskApiProvider(http),
    recraft: new RecraftProvider(http),
    gemini: new GoogleProvider(http, 'gemini'),
    'vertex-ai': new GoogleProvider(http, 'vertex-ai'),
    // Seedream on Volcengine Ark and on BytePlus ModelArk: one wire, each platform's model ids.
    ark: new SeedreamProvider(http, 'ark'),
    byteplus: new SeedreamProvider(http, 'byteplus'),
    dashscope: new DashScopeProvider(http),

    bfl: new BflProvider(http),

    fal: new FalProvider(http),

    replicate: new ReplicateProvider(http),

    openrouter: new OpenRouterProvider(http),

    stability: new StabilityProvider(http),

    midjourney: new MidjourneyProxyProvider(http),

    // The demo channel draws its images itself: no upstream, no wire format.
    demo: new DemoProvider(demo),
  };
}
