import { decodeBase64 } from '../src/core/image-bytes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureOpenAI, AuthenticationError, NotFoundError } from 'openai';
import sharp from 'sharp';
import type { Channel } from '../src/core/channel.js';
import { parseGenerationRequest } from '../src/core/image-request.js';
import type { ImageJob, ProviderResult } from '../src/core/job.js';
import { BUILTIN_MODELS, ModelCatalogue } from '../src/core/models.js';
import { AZURE_OPENAI_DEFAULT_API_VERSION, AzureOpenAIProvider } from '../src/providers/azure-openai/provider.js';
import { HttpTransport, type Transport, type UpstreamRequest, type UpstreamResponse } from '../src/providers/transport.js';
import { startAzureOpenAISimulator, type AzureRecordedRequest, type RunningAzureSimulator } from '../sim/azure-openai.js';
import { rejectionOf, upstreamFailureOf } from './helpers/upstream-test-kit.js';

const KEY = 'azure-test-key-0123456789abcdef';
const API_VERSION = '2024-10-21';
const DEPLOYMENTS = { 'my-gpt-image': 'gpt-image-1', 'my-dalle': 'dall-e-3', 'team a/img': 'gpt-image-1' };
const catalogue = new ModelCatalogue(BUILTIN_MODELS);

function channel(origin: string, overrides: Partial<Channel> = {}): Channel {
  return {
    id: 'azure-1',
    name: 'azure test',
    kind: 'azure-openai',
    baseUrl: origin,
    apiKeys: [KEY],
    models: '*',
    modelMap: { 'gpt-image-1': { upstreamModel: 'my-gpt-image' }, 'dall-e-3': { upstreamModel: 'my-dalle' } },
    priority: 0,
    weight: 1,
    maxConcurrent: 0,
    timeoutMs: 20_000,
    headers: {},
    enabled: true,
    apiVersion: API_VERSION,
    ...overrides,
  };
}

function job(body: Record<string, unknown>): ImageJob {
  return parseGenerationRequest({ prompt: 'a lighthouse at dusk', ...body }, catalogue, 'req-azure-test').job;
}

function lastRequest(running: RunningAzureSimulator): AzureRecordedRequest {
  const last = running.sim.requests.at(-1);
  if (last === undefined) throw new Error('the simulator saw no request');
  return last;
}

function imageBytes(result: ProviderResult, index = 0): Buffer {
  const image = result.images[index];
  if (image?.kind !== 'b64') throw new Error(`image ${index} is not inline base64`);
  return decodeBase64(image.base64);
}

describe('AzureOpenAIProvider against the Azure simulator over HTTP', () => {
  let running: RunningAzureSimulator;
  const transport = new HttpTransport();
  const provider = new AzureOpenAIProvider(transport);
  const signal = new AbortController().signal;
  const LOW = { model: 'gpt-image-1', size: '1024x1024', quality: 'low' };
  /** One generation through the provider; the channel defaults to the simulator's. */
  const run = (body: Record<string, unknown>, ch?: Channel, apiKey = KEY): Promise<ProviderResult> =>
    provider.generate(job(body), { channel: ch ?? channel(running.origin), apiKey }, signal);

  beforeAll(async () => {
    running = await startAzureOpenAISimulator({ apiKey: KEY, deployments: DEPLOYMENTS });
  });
  afterAll(async () => {
    await running.close();
    await transport.close();
  });

  it('posts to the mapped deployment with api-version and api-key, and gets decodable images', async () => {
    const result = await run({ ...LOW, n: 2 }, channel(running.origin, { headers: { 'x-ms-useragent': 'imagegate-test' } }));

    const seen = lastRequest(running);
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe(`/openai/deployments/my-gpt-image/images/generations?api-version=${API_VERSION}`);
    expect([seen.deployment, seen.apiVersion]).toEqual(['my-gpt-image', API_VERSION]);
    expect(seen.headers['api-key']).toBe(KEY);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.headers['x-ms-useragent']).toBe('imagegate-test');
    // The body is OpenAI's, model included (the deployment name; Azure ignores it).
    expect(seen.json).toMatchObject({ model: 'my-gpt-image', prompt: 'a lighthouse at dusk', n: 2, size: '1024x1024', quality: 'low' });
    // What was generated is the deployment's model.
    expect(running.sim.openai.requests.at(-1)?.json).toMatchObject({ model: 'gpt-image-1', n: 2 });

    expect(result.images).toHaveLength(2);
    for (const index of [0, 1]) {
      const meta = await sharp(imageBytes(result, index)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 1024, 1024]);
    }
    expect(result.usage?.total_tokens).toBeGreaterThan(0);
    expect(result.quality).toBe('low');
  });

  it('falls back to the GA api-version and tolerates a trailing slash on the endpoint', async () => {
    const { apiVersion: _unset, ...noVersion } = channel(`${running.origin}/`);
    await run(LOW, noVersion);
    const seen = lastRequest(running);
    expect(AZURE_OPENAI_DEFAULT_API_VERSION).toBe('2024-10-21');
    expect(seen.path).toBe(`/openai/deployments/my-gpt-image/images/generations?api-version=${AZURE_OPENAI_DEFAULT_API_VERSION}`);
  });

  it('percent-encodes the deployment name into one path segment', async () => {
    const result = await run(LOW, channel(running.origin, { modelMap: { 'gpt-image-1': { upstreamModel: 'team a/img' } } }));
    const seen = lastRequest(running);
    expect(seen.path.startsWith('/openai/deployments/team%20a%2Fimg/images/generations?')).toBe(true);
    expect(seen.deployment).toBe('team a/img');
    expect(result.images).toHaveLength(1);
  });

  it('uses the catalogue name as the deployment when the channel maps nothing', async () => {
    const failure = await upstreamFailureOf(run(LOW, channel(running.origin, { modelMap: {} })));
    expect(lastRequest(running).deployment).toBe('gpt-image-1');
    expect(failure.status).toBe(404); // this simulator only knows the mapped names
  });

  it('serves dall-e-3 through its deployment, with b64 and the revised prompt', async () => {
    const result = await run({ model: 'dall-e-3', size: '1024x1024' });
    expect(lastRequest(running).deployment).toBe('my-dalle');
    expect(lastRequest(running).json).toMatchObject({ model: 'my-dalle', response_format: 'b64_json' });
    expect(result.images[0]?.revisedPrompt).toContain('a lighthouse at dusk');
    const meta = await sharp(imageBytes(result)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 1024, 1024]);
  });

  it('turns a wrong key into a non-retryable http 401 with the reason and no status-as-code', async () => {
    const failure = await upstreamFailureOf(run(LOW, undefined, 'wrong-key'));
    expect([failure.kind, failure.status, failure.retryable]).toEqual(['http', 401, false]);
    expect(failure.upstreamError?.message).toMatch(/^Access denied due to invalid subscription key/);
    expect(failure.upstreamError?.code).toBeUndefined(); // Azure's "401" says nothing the status does not
    expect(failure.message).toContain('upstream answered 401 (401): Access denied');
  });

  it('turns an unknown deployment into a 404 DeploymentNotFound that fails over (another channel may have it)', async () => {
    const failure = await upstreamFailureOf(run(LOW, channel(running.origin, { modelMap: { 'gpt-image-1': { upstreamModel: 'no-such-deployment' } } })));
    expect([failure.kind, failure.status, failure.retryable]).toEqual(['http', 404, true]);
    expect(failure.upstreamError?.code).toBe('DeploymentNotFound');
    expect(failure.message).toContain('(DeploymentNotFound): The API deployment for this resource does not exist');
  });

  it('reports an unsupported api-version as a 400 BadRequest', async () => {
    const failure = await upstreamFailureOf(run(LOW, channel(running.origin, { apiVersion: '2022-12-01' })));
    expect([failure.status, failure.upstreamError?.code]).toEqual([400, 'BadRequest']);
    expect(failure.upstreamError?.message).toBe('API version not supported');
  });

  it('carries a 429 Retry-After into retryAfterMs, retryable', async () => {
    running.sim.enqueueFault({ kind: 'status', status: 429, retryAfterSeconds: 7 });
    const failure = await upstreamFailureOf(run(LOW));
    expect([failure.kind, failure.status, failure.retryAfterMs, failure.retryable]).toEqual(['http', 429, 7000, true]);
    expect(failure.upstreamError?.message).toContain('exceeded call rate limit');
  });

  it('marks a 500 retryable', async () => {
    running.sim.enqueueFault({ kind: 'status', status: 500 });
    const failure = await upstreamFailureOf(run(LOW));
    expect([failure.kind, failure.status, failure.retryable]).toEqual(['http', 500, true]);
  });

  it('passes the OpenAI-style validation error of the deployment model through', async () => {
    // 1792x1024 is a dall-e-3 size; the gpt-image-1 deployment refuses it, as Azure would.
    const bad = { ...job(LOW), size: '1792x1024' };
    const failure = await upstreamFailureOf(provider.generate(bad, { channel: channel(running.origin), apiKey: KEY }, signal));
    expect([failure.status, failure.upstreamError?.param, failure.upstreamError?.code]).toEqual([400, 'size', 'invalid_value']);
  });
});

/** A transport that answers one canned response, to feed the provider Azure's rarer shapes. */
function cannedTransport(status: number, body: unknown, headers: Record<string, string> = {}): Transport & { sent: UpstreamRequest[] } {
  const sent: UpstreamRequest[] = [];
  return {
    sent,
    send(request: UpstreamRequest): Promise<UpstreamResponse> {
      sent.push(request);
      const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      return Promise.resolve({ status, headers: { 'content-type': 'application/json', ...headers }, body: bytes });
    },
    open(): Promise<never> {
      return Promise.reject(new Error('the canned transport answers whole bodies only'));
    },
  };
}

describe('Azure error envelopes through the provider', () => {
  const signal = new AbortController().signal;
  const call = { channel: channel('https://res.openai.azure.com'), apiKey: KEY };
  const generate = (transport: Transport): Promise<ProviderResult> => new AzureOpenAIProvider(transport).generate(job({ model: 'dall-e-3' }), call, signal);

  it('builds the documented URL for a real-looking endpoint', async () => {
    const transport = cannedTransport(200, { created: 1, data: [{ b64_json: Buffer.from('x').toString('base64') }] });
    await generate(transport);
    expect(transport.sent[0]?.url).toBe('https://res.openai.azure.com/openai/deployments/my-dalle/images/generations?api-version=2024-10-21');
    expect(transport.sent[0]?.headers['api-key']).toBe(KEY);
  });

  it('maps a content filter refusal (inner_error) to content_policy_violation with the categories', async () => {
    const transport = cannedTransport(400, {
      error: {
        code: 'content_policy_violation',
        message: 'Your request was rejected as a result of our safety system.',
        param: 'prompt',
        type: 'invalid_request_error',
        inner_error: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_results: {
            hate: { filtered: false, severity: 'safe' },
            violence: { filtered: true, severity: 'high' },
            jailbreak: { filtered: true, detected: true },
          },
        },
      },
    });
    const failure = await upstreamFailureOf(generate(transport));
    expect([failure.kind, failure.status, failure.retryable]).toEqual(['http', 400, false]);
    expect(failure.upstreamError).toEqual({
      code: 'content_policy_violation',
      message: 'Your request was rejected as a result of our safety system. [ResponsibleAIPolicyViolation: violence, jailbreak]',
      // The one refusal shape (core/upstream-failure.ts contentRefusal): OpenAI's param null, whatever the vendor named.
      param: null,
    });
  });

  it('normalizes the chat-style content_filter code and reads `innererror`', async () => {
    const transport = cannedTransport(400, {
      error: { code: 'content_filter', message: 'The response was filtered.', status: 400, innererror: { code: 'ResponsibleAIPolicyViolation' } },
    });
    const failure = await upstreamFailureOf(generate(transport));
    expect(failure.upstreamError?.code).toBe('content_policy_violation');
    expect(failure.upstreamError?.message).toBe('The response was filtered. [ResponsibleAIPolicyViolation]');
    expect(failure.message).toContain('(content_filter)'); // Azure's own code stays in the log line
  });

  it('explains a 2xx that carries the documented `{created, error}` refusal instead of images', async () => {
    const reason = 'Your task failed as a result of our safety system.';
    const failure = await upstreamFailureOf(generate(cannedTransport(200, { created: 1698435368, error: { code: 'contentFilter', message: reason } })));
    expect(failure.kind).toBe('protocol');
    expect(failure.message).toBe(`upstream answered 200 with an error instead of images (contentFilter): ${reason}`);
    expect(failure.upstreamError?.code).toBe('content_policy_violation');
  });

  it('keeps a numeric code out of upstreamError and still reads Retry-After', async () => {
    const limited = { error: { code: 429, message: 'Rate limit is exceeded. Try again in 3 seconds.' } };
    const failure = await upstreamFailureOf(generate(cannedTransport(429, limited, { 'retry-after': '3' })));
    expect([failure.status, failure.retryAfterMs, failure.upstreamError?.code]).toEqual([429, 3000, undefined]);
  });

  it('still fails a non-JSON error page as http with the status', async () => {
    const failure = await upstreamFailureOf(generate(cannedTransport(502, '<html>Bad Gateway</html>')));
    expect([failure.kind, failure.status, failure.retryable]).toEqual(['http', 502, true]);
  });
});

describe('Azure simulator wire behaviour (fetch)', () => {
  let running: RunningAzureSimulator;
  beforeAll(async () => {
    running = await startAzureOpenAISimulator({ apiKey: KEY, deployments: DEPLOYMENTS });
  });
  afterAll(() => running.close());

  const body = { prompt: 'a red fox', size: '1024x1024', quality: 'low' };
  function post(path: string, headers: Record<string, string> = { 'api-key': KEY }, payload: unknown = body): Promise<Response> {
    return fetch(`${running.origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(payload),
    });
  }
  const generations = (deployment: string, version: string | null = API_VERSION): string =>
    `/openai/deployments/${deployment}/images/generations${version === null ? '' : `?api-version=${version}`}`;

  it('answers a good request with OpenAI-shaped images and an apim-request-id', async () => {
    const res = await post(generations('my-gpt-image'));
    expect(res.status).toBe(200);
    expect(res.headers.get('apim-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const json = (await res.json()) as { data: { b64_json: string }[] };
    const meta = await sharp(Buffer.from(json.data[0]?.b64_json ?? '', 'base64')).metadata();
    expect([meta.format, meta.width]).toEqual(['png', 1024]);
  });

  it('404s a missing api-version as Resource not found', async () => {
    const res = await post(generations('my-gpt-image', null));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
  });

  it('400s an unsupported api-version', async () => {
    const res = await post(generations('my-gpt-image', '2023-05-15'));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'BadRequest', message: 'API version not supported' } });
  });

  it("404s OpenAI's path and a GET on the generations path", async () => {
    expect((await post(`/v1/images/generations?api-version=${API_VERSION}`)).status).toBe(404);
    const get = await fetch(`${running.origin}${generations('my-gpt-image')}`, { headers: { 'api-key': KEY } });
    expect(get.status).toBe(404);
  });

  it('401s a missing key, a wrong key and a Bearer header, with code "401"', async () => {
    const variants: Record<string, string>[] = [{}, { 'api-key': 'nope' }, { authorization: `Bearer ${KEY}` }];
    for (const headers of variants) {
      const res = await post(generations('my-gpt-image'), headers);
      expect(res.status).toBe(401);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe('401');
      expect(json.error.message).toMatch(/^Access denied due to invalid subscription key or wrong API endpoint/);
    }
  });

  it('404s an unknown deployment as DeploymentNotFound (after auth)', async () => {
    const res = await post(generations('gpt-image-1'));
    expect(res.status).toBe(404);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('DeploymentNotFound');
    expect(json.error.message).toMatch(/^The API deployment for this resource does not exist/);
    expect((await post(generations('gpt-image-1'), { 'api-key': 'nope' })).status).toBe(401);
  });

  it('does not resolve inherited names like constructor as deployments', async () => {
    expect((await post(generations('constructor'))).status).toBe(404);
  });

  it("validates against the deployment's model, whatever model the body names", async () => {
    // dall-e-2 would accept 256x256; the gpt-image-1 deployment must not.
    const res = await post(generations('my-gpt-image'), { 'api-key': KEY }, { ...body, model: 'dall-e-2', size: '256x256' });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { param: string; code: string } };
    expect([json.error.param, json.error.code]).toEqual(['size', 'invalid_value']);
    expect(running.sim.openai.requests.at(-1)?.json).toMatchObject({ model: 'gpt-image-1', size: '256x256' });
    expect(running.sim.openai.requests.at(-1)?.headers['api-key']).toBeUndefined();
  });

  it('records rejected and accepted requests with deployment and api-version', async () => {
    const before = running.sim.requests.length;
    await post(generations('nowhere', '2024-06-01'));
    const seen = running.sim.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', deployment: 'nowhere', apiVersion: '2024-06-01', json: body });
  });

  it('serves dall-e-3 url answers from its own origin', async () => {
    const res = await post(generations('my-dalle'), { 'api-key': KEY }, { prompt: 'a red fox', model: 'dall-e-3' });
    expect(res.status).toBe(200);
    const url = ((await res.json()) as { data: { url: string }[] }).data[0]?.url ?? '';
    expect(url.startsWith(`${running.origin}/files/`)).toBe(true);
    const image = await fetch(url);
    expect(image.status).toBe(200);
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).toBe(1024);
  });

  it('takes faults over the control endpoint and words a 429 like Azure', async () => {
    const control = await fetch(`${running.origin}/_sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ kind: 'status', status: 503 }]),
    });
    expect(control.status).toBe(200);
    expect((await post(generations('my-gpt-image'))).status).toBe(503);

    running.sim.enqueueFault({ kind: 'status', status: 429, retryAfterSeconds: 2 });
    const limited = await post(generations('my-gpt-image'));
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '2']);
    const json = (await limited.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('429');
    expect(json.error.message).toContain('Please retry after 2 seconds.');
  });

  it('does not spend a fault on a request Azure itself rejects', async () => {
    running.sim.enqueueFault({ kind: 'status', status: 500 });
    expect((await post(generations('my-gpt-image'), { 'api-key': 'nope' })).status).toBe(401);
    expect((await post(generations('my-gpt-image'))).status).toBe(500);
    expect((await post(generations('my-gpt-image'))).status).toBe(200);
  });
});

describe("the official openai package's AzureOpenAI client against the simulator", () => {
  let running: RunningAzureSimulator;
  beforeAll(async () => {
    running = await startAzureOpenAISimulator({ apiKey: KEY, deployments: DEPLOYMENTS });
  });
  afterAll(() => running.close());

  const client = ({ apiKey = KEY, deployment }: { apiKey?: string; deployment?: string } = {}): AzureOpenAI =>
    new AzureOpenAI({ endpoint: running.origin, apiKey, apiVersion: API_VERSION, maxRetries: 0, ...(deployment ? { deployment } : {}) });
  const heron = { prompt: 'a blue heron', size: '1024x1024', quality: 'low' } as const;

  it('generates with a client bound to a deployment', async () => {
    const res = await client({ deployment: 'my-gpt-image' }).images.generate({ ...heron, model: 'gpt-image-1' });
    const seen = lastRequest(running);
    expect(seen.path).toBe(`/openai/deployments/my-gpt-image/images/generations?api-version=${API_VERSION}`);
    expect(seen.headers['api-key']).toBe(KEY);
    expect(seen.headers.authorization).toBeUndefined();
    const meta = await sharp(Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 1024, 1024]);
    expect(res.usage?.output_tokens).toBeGreaterThan(0);
  });

  it("routes by `model` when the client has no deployment, as the SDK's Azure docs show", async () => {
    const res = await client().images.generate({ ...heron, model: 'my-gpt-image' });
    expect(lastRequest(running).deployment).toBe('my-gpt-image');
    expect(res.data).toHaveLength(1);
  });

  it('surfaces the simulator errors as the SDK error classes with Azure codes', async () => {
    const auth = await rejectionOf(client({ apiKey: 'wrong', deployment: 'my-gpt-image' }).images.generate({ prompt: 'x' }));
    expect(auth).toBeInstanceOf(AuthenticationError);
    expect((auth as AuthenticationError).code).toBe('401');
    const missing = await rejectionOf(client({ deployment: 'absent' }).images.generate({ prompt: 'x' }));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe('DeploymentNotFound');
  });
});
