/** The channels the config defines: `openai` when OPENAI_API_KEY is set, else the demo channel. */
import type { Config } from '../config.js';
import type { Channel } from '../core/channel.js';

export const DEMO_CHANNEL_NAME = 'demo';

export function channelsFromConfig(config: Config): Channel[] {
  const timeoutMs = config.upstreamTimeoutSeconds * 1000;
  if (config.openai) {
    return [
      {
        id: 'openai',
        name: 'openai',
        // api.openai.com refuses parameters it does not know; any other base URL is a relay.
        kind: new URL(config.openai.baseUrl).hostname === 'api.openai.com' ? 'openai' : 'openai-compatible',
        baseUrl: config.openai.baseUrl,
        apiKeys: [config.openai.apiKey],
        models: '*',
        modelMap: {},
        timeoutMs,
        headers: {},
      },
    ];
  }
  return [
    {
      id: DEMO_CHANNEL_NAME,
      name: DEMO_CHANNEL_NAME,
      kind: 'demo',
      baseUrl: 'http://demo.invalid/v1',
      apiKeys: [],
      models: '*',
      modelMap: {},
      timeoutMs,
      headers: {},
    },
  ];
}
