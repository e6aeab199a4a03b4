// Azure OpenAI's image generation and edit endpoints in front of the OpenAI simulator: Azure's
// URL shape, api-version and api-key checks, deployments and error envelopes live here; validation
// and rendering are the OpenAI simulator's (Azure serves the same models with the same body).
import { randomUUID } from 'node:crypto';
import { startSimulatorServer, type RunningServer, type SimHandler, type SimRequest, type SimResponse } from './http-server.js';
import { isMultipart, replaceFormField } from './multipart.js';
import { OpenAIImagesSimulator, type SimFault } from './openai/simulator.js';
import { headerValue, isObject, parseJson, safeDecode } from './wire.js';

/** GA versions with image generation, plus the preview that introduced gpt-image-1. */
export const AZURE_SIM_API_VERSIONS: readonly string[] = ['2024-02-01', '2024-06-01', '2024-10-21', '2025-04-01-preview'];

/** Deployment name -> model, named after their models as Azure's portal suggests by default. */
export const AZURE_SIM_DEFAULT_DEPLOYMENTS: Readonly<Record<string, string>> = { 'gpt-image-1': 'gpt-image-1', 'dall-e-3': 'dall-e-3' };

export interface AzureOpenAISimulatorOptions {
  /** When set, require `api-key: <apiKey>`, else 401 as Azure words it. */
  apiKey?: string;
  /** Deployment name -> model it serves; anything else is 404 DeploymentNotFound. */
  deployments?: Readonly<Record<string, string>>;
  /** Accepted `api-version` values; others are 400 "API version not supported". */
  apiVersions?: readonly string[];
  /** Added before every generation and edit (default 0). */
  latencyMs?: number;
  /** Benchmark fast path: answer every generation and edit with this image. */
  fixedImage?: Buffer;
  /** Base for url answers (dall-e-3); startAzureOpenAISimulator sets it to its own origin. */
  publicBaseUrl?: string;
}

export interface AzureRecordedRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  headers: Record<string, string | undefined>;
  /** From the URL, decoded; undefined when the path is not a deployment's generations or edits path. */
  deployment: string | undefined;
  apiVersion: string | undefined;
  /** Parsed JSON body; undefined when empty or not JSON (multipart edits: see `openai.requests`). */
  json: unknown;
}

export type RunningAzureSimulator = RunningServer<AzureOpenAISimulator>;

/** Azure has generations and edits for image deployments; no variations (no dall-e-2). */
const IMAGES_PATH = /^\/openai\/deployments\/([^/]+)\/images\/(generations|edits)$/;
const MAX_RECORDED_REQUESTS = 10_000;
/** Azure's wording, as its users quote it in bug reports. */
const ACCESS_DENIED =
  'Access denied due to invalid subscription key or wrong API endpoint. ' +
  'Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';
const DEPLOYMENT_NOT_FOUND =
  'The API deployment for this resource does not exist. ' + 'If you created the deployment within the last 5 minutes, please wait a moment and try again.';

export class AzureOpenAISimulator implements SimHandler {
  /** Every API request received (also the rejected ones), oldest first; keeps the last 10,000. */
  readonly requests: AzureRecordedRequest[] = [];
  /** Requests whose client went away before the answer (maintained by the http server). */
  aborted = 0;
  /** Does the generating; its `requests` show what was forwarded (with the deployment's model). */
  readonly openai: OpenAIImagesSimulator;

  private readonly apiKey: string | undefined;
  private readonly deployments: Readonly<Record<string, string>>;
  private readonly apiVersions: readonly string[];

  constructor(opts: AzureOpenAISimulatorOptions = {}) {
    this.apiKey = opts.apiKey;
    this.deployments = { ...(opts.deployments ?? AZURE_SIM_DEFAULT_DEPLOYMENTS) };
    this.apiVersions = opts.apiVersions ?? AZURE_SIM_API_VERSIONS;
    this.openai = new OpenAIImagesSimulator({
      ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
      ...(opts.fixedImage !== undefined ? { fixedImage: opts.fixedImage } : {}),
      ...(opts.publicBaseUrl !== undefined ? { publicBaseUrl: opts.publicBaseUrl } : {}),
    });
  }

  /** Faults apply to the next accepted generations and edits, FIFO; Azure-worded where Azure's differ. */
  enqueueFault(...faults: SimFault[]): void {
    this.openai.enqueueFault(...faults.map(azureFault));
  }

  async handle(req: SimRequest, signal?: AbortSignal): Promise<SimResponse> {
    const url = new URL(req.path, 'http://azure-simulator.invalid');
    const method = req.method.toUpperCase();
    // Control endpoints and hosted url images are the inner simulator's (Azure's live on blob storage).
    if (url.pathname.startsWith('/_sim/') || (method === 'GET' && url.pathname.startsWith('/files/'))) {
      return this.openai.handle(req, signal);
    }
    const match = IMAGES_PATH.exec(url.pathname);
    const deployment = match?.[1] !== undefined ? safeDecode(match[1]) : undefined;
    const operation = match?.[2] === 'edits' ? 'edits' : 'generations';
    const apiVersion = url.searchParams.get('api-version') ?? undefined;
    const json = parseJson(req.body);
    this.record({ method, path: req.path, headers: { ...req.headers }, deployment, apiVersion, json });

    const admitted = this.admit(method, deployment, apiVersion, req.headers);
    if (typeof admitted !== 'string') return admitted;
    return withAzureHeaders(await this.openai.handle(await forwarded(req, json, admitted, operation), signal));
  }

  /**
   * Azure's checks: the deployment's model, or the refusal. The order (route, version, key,
   * deployment) is an assumption; Azure does not document it, but a bad key never reveals deployments.
   */
  private admit(
    method: string,
    deployment: string | undefined,
    apiVersion: string | undefined,
    headers: Record<string, string | undefined>,
  ): string | SimResponse {
    // A missing api-version is a 404 too (MicrosoftDocs/azure-docs#114602), not a 400.
    if (method !== 'POST' || deployment === undefined || apiVersion === undefined) return azureError(404, '404', 'Resource not found');
    if (!this.apiVersions.includes(apiVersion)) return azureError(400, 'BadRequest', 'API version not supported');
    if (this.apiKey !== undefined && headerValue(headers, 'api-key') !== this.apiKey) return azureError(401, '401', ACCESS_DENIED);
    const model = Object.hasOwn(this.deployments, deployment) ? this.deployments[deployment] : undefined;
    return model ?? azureError(404, 'DeploymentNotFound', DEPLOYMENT_NOT_FOUND);
  }

  private record(entry: AzureRecordedRequest): void {
    this.requests.push(entry);
    // Bounded so long benchmarks do not grow without limit; drop in chunks to keep it cheap.
    if (this.requests.length > MAX_RECORDED_REQUESTS + 1000) this.requests.splice(0, 1000);
  }
}

/** The request the OpenAI simulator sees: its path, no Azure key, the deployment's model. */
async function forwarded(req: SimRequest, json: unknown, model: string, operation: 'generations' | 'edits'): Promise<SimRequest> {
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([key]) => key.toLowerCase() !== 'api-key'));
  const path = `/v1/images/${operation}`;
  const contentType = headerValue(req.headers, 'content-type');
  if (operation === 'edits' && isMultipart(contentType)) return withFormModel({ method: 'POST', path, headers, body: req.body }, contentType ?? '', model);
  // Azure ignores the body's `model`: the deployment decides. Non-objects go on as sent so the
  // OpenAI simulator words the parse error.
  const body = isObject(json) ? Buffer.from(JSON.stringify({ ...json, model })) : req.body;
  return { method: 'POST', path, headers, body };
}

/** A multipart edit with its `model` field set to the deployment's (re-encoded, new boundary). */
async function withFormModel(req: SimRequest, contentType: string, model: string): Promise<SimRequest> {
  let rebuilt: { body: Buffer; contentType: string };
  try {
    rebuilt = await replaceFormField(req.body, contentType, 'model', model);
  } catch {
    return req; // not parseable: the OpenAI simulator words the error
  }
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([key]) => !['content-type', 'content-length'].includes(key.toLowerCase())));
  return { ...req, headers: { ...headers, 'content-type': rebuilt.contentType }, body: rebuilt.body };
}

/** Azure's 429 text instead of OpenAI's, unless the test chose its own. */
function azureFault(fault: SimFault): SimFault {
  if (fault.kind !== 'status' || fault.status !== 429) return fault;
  const wait = fault.retryAfterSeconds !== undefined ? ` Please retry after ${fault.retryAfterSeconds} seconds.` : '';
  return {
    ...fault,
    message: fault.message ?? `Requests to the ImageGenerations_Create Operation have exceeded call rate limit of your current pricing tier.${wait}`,
    code: fault.code !== undefined ? fault.code : '429',
  };
}

/** Azure's own errors: `{error: {code, message}}`, with the code a string (even "401"). */
function azureError(status: number, code: string, message: string): SimResponse {
  const body = Buffer.from(JSON.stringify({ error: { code, message } }));
  return { kind: 'full', status, headers: { 'content-type': 'application/json', 'apim-request-id': randomUUID() }, body };
}

function withAzureHeaders(answer: SimResponse): SimResponse {
  if (answer.kind === 'hang') return answer;
  return { ...answer, headers: { ...answer.headers, 'apim-request-id': randomUUID() } };
}

export async function startAzureOpenAISimulator(opts: AzureOpenAISimulatorOptions & { host?: string; port?: number } = {}): Promise<RunningAzureSimulator> {
  const { host, port, ...simOpts } = opts;
  return startSimulatorServer((origin) => new AzureOpenAISimulator({ ...simOpts, publicBaseUrl: simOpts.publicBaseUrl ?? origin }), { host, port });
}
