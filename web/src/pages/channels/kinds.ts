/**
 * The channel kinds the gateway knows (docs/configuration.md, "Channels"), with the base URL each usually
 * takes. The console imports nothing of the server, so the list is written here; the channels browser test
 * checks it against the gateway's own list.
 */
export interface ChannelKindInfo {
  kind: string;
  label: string;
  /** The vendor's usual base URL; empty where it is the operator's own (a relay). */
  baseUrl: string;
}

export const CHANNEL_KINDS: readonly ChannelKindInfo[] = [
  { kind: 'openai', label: 'OpenAI', baseUrl: 'https://api.openai.com/v1' },
  { kind: 'openai-compatible', label: 'OpenAI-compatible relay', baseUrl: '' },
  { kind: 'azure-openai', label: 'Azure OpenAI', baseUrl: 'https://my-resource.openai.azure.com' },
  { kind: 'newapi-async', label: "new-api's async mode", baseUrl: '' },
  { kind: 'task-api', label: 'Task API relay', baseUrl: '' },
  { kind: 'recraft', label: 'Recraft', baseUrl: 'https://external.api.recraft.ai/v1' },
  { kind: 'ark', label: 'Volcengine Ark (Seedream)', baseUrl: 'https://ark.cn-beijing.volces.com/api/v3' },
  { kind: 'byteplus', label: 'BytePlus ModelArk (Seedream)', baseUrl: 'https://ark.ap-southeast.bytepluses.com/api/v3' },
  { kind: 'gemini', label: 'Google Gemini API', baseUrl: 'https://generativelanguage.googleapis.com' },
  { kind: 'vertex-ai', label: 'Google Vertex AI', baseUrl: 'https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1' },
  { kind: 'dashscope', label: 'Alibaba DashScope', baseUrl: 'https://dashscope-intl.aliyuncs.com' },
  { kind: 'bfl', label: 'Black Forest Labs (FLUX)', baseUrl: 'https://api.bfl.ai' },

  { kind: 'fal', label: 'fal (queue)', baseUrl: 'https://queue.fal.run' },

  { kind: 'replicate', label: 'Replicate', baseUrl: 'https://api.replicate.com/v1' },

  { kind: 'openrouter', label: 'OpenRouter', baseUrl: 'https://openrouter.ai/api/v1' },

  { kind: 'stability', label: 'Stability AI', baseUrl: 'https://api.stability.ai' },

  { kind: 'midjourney', label: 'Midjourney proxy', baseUrl: '' },

  { kind: 'demo', label: 'Demo (no upstream)', baseUrl: '' },
];

export function kindInfo(kind: string): ChannelKindInfo | undefined {
  return CHANNEL_KINDS.find((info) => info.kind === kind);
}
