/** An official SDK client whose fetch keeps the raw status and body of the last response. */
import OpenAI from 'openai';
import type { TestGateway } from './gateway.js';

export interface RecordingClient {
  client: OpenAI;
  last(): { status: number; text: string };
}

export function recordingClient(gw: Pick<TestGateway, 'apiKey' | 'baseURL'>, timeoutMs = 60_000): RecordingClient {
  let last: { status: number; text: string } | undefined;
  const client = new OpenAI({
    apiKey: gw.apiKey,
    baseURL: gw.baseURL,
    maxRetries: 0,
    timeout: timeoutMs,
    fetch: async (input, init) => {
      last = undefined;
      const res = await fetch(input, init);
      last = { status: res.status, text: await res.clone().text() };
      return res;
    },
  });
  return {
    client,
    last() {
      if (!last) throw new Error('no response was recorded');
      return last;
    },
  };
}
