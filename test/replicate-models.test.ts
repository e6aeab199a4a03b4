/**
 * Which catalogue models a replicate channel takes on its own (Replicate's official models, built
 * in), and that each one's every listed size is sent or refused as its schema says: a catalogue
 * id renamed by its owner (the FLUX, Ideogram files) fails here rather than silently dropping out
 * of Replicate channels. The bodies themselves are pinned end to end in replicate.e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/core/channel.js';
import { NO_INPUTS } from '../src/core/image-input.js';
import type { ImageJob } from '../src/core/job.js';
import { acceptedSizes, BUILTIN_MODELS, type ModelSpec } from '../src/core/models.js';
import { ReplicateProvider } from '../src/providers/replicate/provider.js';
import type { StreamingResponse, Transport, UpstreamResponse } from '../src/providers/transport.js';

const NO_TRANSPORT: Transport = {
  send: (): Promise<UpstreamResponse> => Promise.reject(new Error('no upstream in this test')),
  open: (): Promise<StreamingResponse> => Promise.reject(new Error('no upstream in this test')),
};
const provider = new ReplicateProvider(NO_TRANSPORT);

function channel(modelMap: Channel['modelMap'] = {}): Channel {
  return {
    id: 'replicate-1',
    name: 'replicate',
    kind: 'replicate',
    baseUrl: 'https://api.replicate.example/v1',
    apiKeys: ['r8_test'],
    models: '*',
    modelMap,
    priority: 0,
    weight: 1,
    maxConcurrent: 0,
    timeoutMs: 60_000,
    headers: {},
    enabled: true,
  };
}

function job(model: ModelSpec, size = model.defaults.size ?? model.capabilities.defaultSize): ImageJob {
  return {
    id: 'req_test',
    operation: 'generate',
    model,
    prompt: 'a lighthouse',
    inputs: NO_INPUTS,
    n: 1,
    size,
    quality: model.capabilities.defaultQuality,
    responseFormat: 'url',
    passthrough: {},
  };
}

const spec = (id: string): ModelSpec => {
  const found = BUILTIN_MODELS.find((m) => m.id === id);
  if (!found) throw new Error(`no catalogue model ${id}`);
  return found;
};

describe('a replicate channel without a model_map', () => {
  it('takes exactly the catalogue models Replicate has official models for', () => {
    const taken = BUILTIN_MODELS.filter((m) => provider.accepts(job(m), channel())).map((m) => m.id);
    expect(taken.sort()).toEqual(
      [
        'flux-1.1-pro',
        'flux-1.1-pro-ultra',
        'flux-2-flex',
        'flux-2-klein-4b',
        'flux-2-klein-9b',
        'flux-2-max',
        'flux-2-pro',
        'flux-kontext-max',
        'flux-kontext-pro',
        'ideogram-v3',
        'ideogram-v3-quality',
        'ideogram-v3-turbo',
        'imagen-4.0-fast-generate-001',
        'imagen-4.0-generate-001',
        'imagen-4.0-ultra-generate-001',
        'recraftv3',
        'seedream-4.0',
        'seedream-4.5',
      ].sort(),
    );
  });

  it('sends each of them at its default size', () => {
    for (const model of BUILTIN_MODELS.filter((m) => provider.accepts(job(m), channel()))) {
      expect(provider.refuses(job(model)), model.id).toBeUndefined();
    }
  });

  it('refuses, naming size, only the listed sizes Replicate’s model cannot make', () => {
    const refused = BUILTIN_MODELS.filter((m) => provider.accepts(job(m), channel())).flatMap((model) =>
      acceptedSizes(model).flatMap((size) => {
        const refusal = provider.refuses(job(model, size));
        if (refusal) expect(refusal.param).toBe('size');
        return refusal ? [`${model.id} ${size}`] : [];
      }),
    );
    expect(refused.sort()).toEqual(
      [
        'flux-2-pro 1360x768',
        'flux-2-pro 768x1360',
        'flux-2-max 1360x768',
        'flux-2-max 768x1360',
        'flux-2-flex 1360x768',
        'flux-2-flex 768x1360',
        'flux-2-klein-4b 1360x768',
        'flux-2-klein-4b 768x1360',
        'flux-2-klein-9b 1360x768',
        'flux-2-klein-9b 768x1360',
        'flux-kontext-pro 1328x800',
        'flux-kontext-pro 800x1328',
        'flux-kontext-max 1328x800',
        'flux-kontext-max 800x1328',
        'imagen-4.0-generate-001 2048x2048',
        'imagen-4.0-generate-001 1792x2560',
        'imagen-4.0-generate-001 2560x1792',
        'imagen-4.0-generate-001 1536x2816',
        'imagen-4.0-generate-001 2816x1536',
        'imagen-4.0-ultra-generate-001 2048x2048',
        'imagen-4.0-ultra-generate-001 1792x2560',
        'imagen-4.0-ultra-generate-001 2560x1792',
        'imagen-4.0-ultra-generate-001 1536x2816',
        'imagen-4.0-ultra-generate-001 2816x1536',
        'seedream-4.0 1152x864',
        'seedream-4.0 864x1152',
        'seedream-4.0 1280x720',
        'seedream-4.0 720x1280',
        'seedream-4.0 1248x832',
        'seedream-4.0 832x1248',
        'seedream-4.0 1512x648',
      ].sort(),
    );
  });
});

describe("a channel's model_map", () => {
  it('names any model: owner/name (official), owner/name:version or a bare version; anything else is not taken', () => {
    const version = 'a'.repeat(64);
    const qwen = spec('qwen-image');
    expect(provider.accepts(job(qwen), channel())).toBe(false);
    for (const name of ['qwen/qwen-image', `acme/qwen-lora:${version}`, version]) {
      expect(provider.accepts(job(qwen), channel({ 'qwen-image': { upstreamModel: name } })), name).toBe(true);
    }
    for (const name of ['qwen-image', 'acme/qwen:latest', 'https://evil.example/x', '../../v1/account']) {
      expect(provider.accepts(job(qwen), channel({ 'qwen-image': { upstreamModel: name } })), name).toBe(false);
    }
  });

  it('the gateway’s own nsfw_checker is neither refused nor sent', () => {
    const asked = { ...job(spec('flux-1.1-pro')), passthrough: { nsfw_checker: true } };
    expect(provider.refuses(asked)).toBeUndefined();
  });

  it('takes no variations', () => {
    const dalle = spec('dall-e-2');
    const mapped = channel({ 'dall-e-2': { upstreamModel: 'acme/variations' } });
    expect(provider.accepts({ ...job(dalle), operation: 'variation' }, mapped)).toBe(false);
  });
});
