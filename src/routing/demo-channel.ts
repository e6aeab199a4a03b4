/** The demo channel: serves every model when no channel is defined anywhere. */
import type { Config } from '../config.js';
import type { Channel } from '../core/channel.js';
import { CHANNEL_DEFAULTS } from './channel-definition.js';

export const DEMO_CHANNEL_NAME = 'demo';

export function demoChannel(config: Config): Channel {
  return {
    id: DEMO_CHANNEL_NAME,
    name: DEMO_CHANNEL_NAME,
    kind: 'demo',
    baseUrl: 'http://demo.invalid/v1',
    apiKeys: [],
    models: '*',
    modelMap: {},
    priority: CHANNEL_DEFAULTS.priority,
    weight: CHANNEL_DEFAULTS.weight,
    maxConcurrent: 0,
    timeoutMs: config.upstreamTimeoutSeconds * 1000,
    headers: {},
    enabled: true,
  };
}
