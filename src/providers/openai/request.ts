/** ImageJob -> OpenAI's wire format: the JSON of /images/generations, the multipart of /images/edits and /images/variations. */
import { randomBytes } from 'node:crypto';
import type { Channel } from '../../core/channel.js';
import type { InputFormat, InputImage } from '../../core/image-input.js';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import { isRelayObject, type ImageJob } from '../../core/job.js';
import { encodeMultipart, formText, type EncodedForm, type FilePart } from '../multipart-body.js';
import type { UpstreamBody } from '../transport.js';
import { StreamedBody, type BodySegment } from '../upstream-body.js';

/**
 * `official` is api.openai.com: it rejects parameters it does not know, so the relays' extras
 * (watermark, metadata, style outside dall-e-3) stay home. A `relay` gets everything.
 */
export type OpenAIProfile = 'official' | 'relay';

export function buildGenerationBody(job: ImageJob, channel: Channel, profile: OpenAIProfile): Record<string, unknown> {
  const mapping = channel.modelMap[job.model.id];
  const official = job.model.capabilities.officialFields;
  const body: Record<string, unknown> = {
    ...(profile === 'official' ? withoutTaskApiFields(job.passthrough) : job.passthrough),
    model: mapping?.upstreamModel ?? job.model.upstreamModel,
    prompt: job.prompt,
    n: job.n,
    size: job.size,
    quality: job.quality,
  };
  // GPT image models reject response_format; models that take it (dall-e) get b64 so the gateway holds the bytes.
  if (official.responseFormat) body.response_format = 'b64_json';
  setIfDefined(body, 'output_format', job.outputFormat);
  setIfDefined(body, 'output_compression', job.outputCompression);
  setIfDefined(body, 'background', job.background);
  setIfDefined(body, 'moderation', job.moderation);
  setIfDefined(body, 'user', job.user);
  const styleAccepted = profile === 'relay' || official.style;
  if (styleAccepted) setIfDefined(body, 'style', job.style);
  if (profile === 'relay') {
    setIfDefined(body, 'watermark', job.watermark);
    setIfDefined(body, 'metadata', job.metadata);
  }
  return { ...body, ...job.model.fixedParams, ...mapping?.params };
}

/**
 * What api.openai.com (and Azure) would refuse in this job: an object where OpenAI takes an enum
 * (`background`; dall-e-3's `style`, the only style it is sent). Relays take these as given.
 */
export function officialRefusal(job: ImageJob): GatewayError | undefined {
  const relaysOnly = (param: string, openai: string) =>
    invalidRequest(param, 'invalid_type', `${param} as an object goes only to relay channels (openai-compatible, newapi-async), and none serves ${job.model.id}; OpenAI's API takes ${openai}.`);
  if (isRelayObject(job.background)) return relaysOnly('background', 'transparent, opaque or auto');
  const { officialFields, styles } = job.model.capabilities;
  if (officialFields.style && isRelayObject(job.style)) return relaysOnly('style', (styles ?? ['a string']).join(' or '));
  return undefined;
}

/** The task API dialect's own fields: meaningful to its upstreams, refused by api.openai.com. */
const TASK_API_FIELDS = new Set(['nsfw_checker', 'callback_url', 'aspect_ratio', 'image_url', 'image_urls']);

function withoutTaskApiFields(passthrough: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(passthrough).filter(([key]) => !TASK_API_FIELDS.has(key)));
}

function setIfDefined(body: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) body[key] = value;
}

const INPUT_MIME: Readonly<Record<InputFormat, string>> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** Fields OpenAI's multipart edits do not take (they are generation-only or JSON-edit-only). */
const NOT_IN_OFFICIAL_EDITS = ['style', 'moderation'];

/**
 * ImageJob (edit) -> multipart for POST /images/edits: the generation fields as form text,
 * `image` for one input or `image[]` for several (as the official SDKs send them), `mask`.
 */
export function buildEditForm(job: ImageJob, channel: Channel, profile: OpenAIProfile, extra: Record<string, unknown> = {}): EncodedForm {
  const body = { ...buildGenerationBody(job, channel, profile), ...extra };
  if (profile === 'official') for (const key of NOT_IN_OFFICIAL_EDITS) delete body[key];
  if (job.inputFidelity !== undefined) body.input_fidelity = job.inputFidelity;
  const { images, mask } = job.inputs;
  const imageField = images.length > 1 ? 'image[]' : 'image';
  return encodeMultipart([
    ...images.map((image, i) => [imageField, filePart(image, `image-${i + 1}`)] as const),
    ...(mask ? [['mask', filePart(mask, 'mask')] as const] : []),
    ...textFields(body),
  ]);
}

/** ImageJob (variation, dall-e-2) -> multipart for POST /images/variations. */
export function buildVariationForm(job: ImageJob, channel: Channel): EncodedForm {
  const mapping = channel.modelMap[job.model.id];
  const body: Record<string, unknown> = {
    ...withoutTaskApiFields(job.passthrough),
    model: mapping?.upstreamModel ?? job.model.upstreamModel,
    n: job.n,
    size: job.size,
    response_format: 'b64_json', // the gateway keeps the bytes and answers in the client's form
    ...(job.user !== undefined ? { user: job.user } : {}),
    ...mapping?.params,
  };
  const image = job.inputs.images[0];
  return encodeMultipart([...(image ? [['image', filePart(image, 'image')] as const] : []), ...textFields(body)]);
}

/**
 * A relay that takes reference images in the generation body (an `image` array): URLs as given, else
 * data URIs, whose base64 is streamed into the JSON (an upload may be waiting in its spool file).
 */
export function buildInlineReferenceBody(job: ImageJob, channel: Channel, extra: Record<string, unknown> = {}): StreamedBody {
  // Stands in for each image while the rest is written as JSON; random, so no prompt can hold it.
  const marker = `imagegate-image-${randomBytes(12).toString('hex')}-`;
  const { images } = job.inputs;
  const image = images.map((input, i) => input.sourceUrl ?? `${marker}${i}`);
  const json = JSON.stringify({ ...buildGenerationBody(job, channel, 'relay'), image, ...extra });
  const pieces = json.split(new RegExp(`${marker}(\\d+)`));
  const segments: BodySegment[] = [];
  for (let i = 0; i < pieces.length; i += 2) {
    const input = i + 1 < pieces.length ? images[Number(pieces[i + 1])] : undefined;
    segments.push(Buffer.from(`${pieces[i] ?? ''}${input ? `data:${INPUT_MIME[input.format]};base64,` : ''}`, 'utf8'));
    if (input) segments.push({ input: input.bytes, encoding: 'base64' });
  }
  return new StreamedBody(segments);
}

function filePart(image: InputImage, stem: string): FilePart {
  return { bytes: image.bytes, filename: `${stem}.${image.format === 'jpeg' ? 'jpg' : image.format}`, contentType: INPUT_MIME[image.format] };
}

function textFields(body: Record<string, unknown>): [string, string][] {
  return Object.entries(body)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => [key, formText(value)]);
}

export type ImagesOperationPath = 'images/generations' | 'images/edits' | 'images/variations';

/** One OpenAI-dialect call: where it goes (relative to the base URL) and what it carries. */
export interface ImagesWireRequest {
  path: ImagesOperationPath;
  contentType: string;
  /** Generations: JSON text; bodies with input images: streamed (upstream-body.ts). */
  body: UpstreamBody;
}

/**
 * The call for any job: generations as JSON, edits and variations as multipart. `stream` asks
 * the upstream for SSE with the job's partial images (only callers that read streams set it).
 */
export function buildImagesRequest(job: ImageJob, channel: Channel, profile: OpenAIProfile, stream = false): ImagesWireRequest {
  if (job.operation === 'variation') return multipartRequest('images/variations', buildVariationForm(job, channel));
  const streamed = stream && job.stream ? { stream: true, partial_images: job.stream.partialImages } : {};
  const inlineable = job.operation === 'edit' && channel.referenceImages === 'inline' && !job.inputs.mask;
  if (job.operation === 'edit' && !inlineable) return multipartRequest('images/edits', buildEditForm(job, channel, profile, streamed));
  const body = inlineable ? buildInlineReferenceBody(job, channel, streamed) : JSON.stringify({ ...buildGenerationBody(job, channel, profile), ...streamed });
  return { path: 'images/generations', contentType: 'application/json', body };
}

function multipartRequest(path: ImagesOperationPath, form: EncodedForm): ImagesWireRequest {
  return { path, contentType: form.contentType, body: form.body };
}
