/**
 * Google's two image APIs behind one channel kind each: `gemini` (the Gemini API,
 * generativelanguage.googleapis.com, the key in `x-goog-api-key`) and `vertex-ai` (a Vertex AI
 * location, a bearer token from the channel's service-account key, vertex-credentials.ts). Both
 * serve both model APIs:
 * - Gemini's image models (vendor google-gemini): `POST …/models/{model}:generateContent`
 *   (gemini-parameters.ts, gemini-answer.ts), one image per call, so n images are n calls at once;
 *   edits are the input images beside the prompt;
 * - Imagen (vendor google-imagen): `POST …/models/{model}:predict` (imagen-parameters.ts,
 *   imagen-answer.ts), n images in one call (sampleCount).
 * Synchronous: one request, whole images back. A stream gets its one completed event from the
 * whole answer (Gemini has no partial images; streamGenerateContent would bring the same image
 * in one chunk). The size reported is the image's own: the size asked (Google makes exactly its
 * listed sizes), or, for `auto`, what the image's header says.
 */
import type { ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import { readImageHeader } from '../../core/image-header.js';
import type { ImageJob, ProviderResult, UpstreamImage } from '../../core/job.js';
import { ropeSlice } from '../../core/rope.js';
import { allOrNone } from '../all-or-none.js';
import { channelModel, encodeParameters, refusalOf, type ParameterMap } from '../parameter-map.js';
import type { Provider } from '../provider.js';
import { channelPool, type Transport, type UpstreamResponse } from '../transport.js';
import { parseGeminiAnswer, sumUsage } from './gemini-answer.js';
import { GEMINI_GENERATE_CONTENT } from './gemini-parameters.js';
import { parseImagenAnswer } from './imagen-answer.js';
import { IMAGEN_PREDICT } from './imagen-parameters.js';
import type { GoogleApi } from './refusals.js';
import { VertexCredentials } from './vertex-credentials.js';

/** Enough of an image's base64 for its header (PNG's IHDR; a JPEG's SOF after its EXIF). */
const HEADER_BASE64_BYTES = 96 * 1024;

export class GoogleProvider implements Provider {
  constructor(
    private readonly transport: Transport,
    private readonly api: GoogleApi,
    private readonly credentials = new VertexCredentials(),
  ) {}

  accepts(job: ImageJob): boolean {
    if (job.model.vendor === 'google-gemini') return job.operation !== 'variation';
    return job.model.vendor === 'google-imagen' && job.operation === 'generate';
  }

  /** What Google has no param for (the table's refusals), as the client's 400 naming the field. */
  refuses(job: ImageJob): GatewayError | undefined {
    return refusalOf(this.mapFor(job), job);
  }

  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const headers = await this.authHeaders(call, signal);
    if (job.model.vendor === 'google-imagen') {
      const result = parseImagenAnswer(await this.post(job, call, 'predict', headers, signal));
      return { ...result, ...reportedSize(job, result.images) };
    }
    // One image per Gemini call: n calls at once.
    const calls = Array.from({ length: job.n }, () => job);
    const results = await allOrNone(calls, signal, (one, each) => this.post(one, call, 'generateContent', headers, each).then(parseGeminiAnswer));
    // One image per call: a second image in one answer is not one the client asked for.
    const images = results.flatMap((r) => r.images.slice(0, 1));
    const usage = sumUsage(results.map((r) => r.usage));
    const outputFormat = results[0]?.outputFormat;
    return { images, ...(usage ? { usage } : {}), ...(outputFormat ? { outputFormat } : {}), ...reportedSize(job, images) };
  }

  private mapFor(job: ImageJob): ParameterMap {
    return job.model.vendor === 'google-imagen' ? IMAGEN_PREDICT[this.api] : GEMINI_GENERATE_CONTENT[this.api];
  }

  private async authHeaders({ apiKey, channel }: ChannelCall, signal: AbortSignal): Promise<Record<string, string>> {
    if (apiKey === undefined) return {};
    if (this.api === 'gemini') return { 'x-goog-api-key': apiKey };
    return { authorization: `Bearer ${await this.credentials.accessToken(apiKey, signal, channel.timeoutMs)}` };
  }

  private post(
    job: ImageJob,
    { channel }: ChannelCall,
    method: 'generateContent' | 'predict',
    auth: Record<string, string>,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    const { contentType, body } = encodeParameters(this.mapFor(job), { job, channel, stream: false });
    const model = encodeURIComponent(channelModel(job.model, { job, channel, stream: false }));
    return this.transport.send({
      method: 'POST',
      url: `${modelsUrl(this.api, channel.baseUrl)}/${model}:${method}`,
      headers: { 'content-type': contentType, ...auth, ...channel.headers },
      body,
      timeoutMs: channel.timeoutMs,
      signal,
      pool: channelPool(channel),
    });
  }
}

/**
 * Where a channel's models are: the Gemini API's `{origin}/v1beta/models` (a base_url that names its
 * version already is kept), Vertex AI's `{location}/publishers/google/models`.
 */
function modelsUrl(api: GoogleApi, baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  if (api === 'vertex-ai') return `${base}/publishers/google/models`;
  return /\/v1(?:beta\d*|alpha\d*)?$/.test(base) ? `${base}/models` : `${base}/v1beta/models`;
}

/** The size to report: the one asked (Google makes its listed sizes exactly), or, for auto, the image's own. */
function reportedSize(job: ImageJob, images: readonly UpstreamImage[]): { size?: string } {
  if (job.size !== 'auto') return { size: job.size };
  const first = images[0];
  if (first?.kind !== 'b64') return {};
  const head = Buffer.from(ropeSlice(first.base64, 0, HEADER_BASE64_BYTES).toString('latin1'), 'base64');
  const header = readImageHeader(head);
  return header ? { size: `${header.width}x${header.height}` } : {};
}
