/**
 * Every form of input image -> validated bytes, before any upstream call or credit is spent.
 * Uploads are taken as they are (spooled to disk, their header scanned as they were written),
 * base64 and data URIs decoded, URLs fetched through the SSRF-safe fetcher; then each is judged
 * by its content against the model's rules.
 */
import { invalidRequest, requestTooLarge, type ErrorCodeWithStatus, type GatewayError } from '../core/errors.js';
import { DATA_URI_COMMA_MAX, dataUriBase64Start, decodeBase64Text } from '../core/image-bytes.js';
import { headerOf, inMemoryBytes, type InputBytes } from '../core/input-bytes.js';
import {
  imageProblem,
  inputRulesFor,
  maskProblem,
  missingAlphaProblem,
  NO_INPUTS,
  type ImageInputRef,
  type ImageInputRefs,
  type InputFormat,
  type InputImage,
  type InputRules,
  type ResolvedInputs,
} from '../core/image-input.js';
import type { ImageJob } from '../core/job.js';
import { UnsafeUrlError, type FetchedBody } from '../net/safe-fetch.js';

export interface UrlFetcher {
  fetch(url: string, signal?: AbortSignal): Promise<FetchedBody>;
}

export interface InputResolverOptions {
  fetcher: UrlFetcher;
  /** All input images of one request together, after decoding and fetching. */
  maxTotalBytes: number;
}

interface LoadedInput {
  ref: ImageInputRef;
  bytes: InputBytes;
  sourceUrl?: string;
}

export class ImageInputResolver {
  constructor(private readonly opts: InputResolverOptions) {}

  async resolve(job: ImageJob, refs: ImageInputRefs, signal?: AbortSignal): Promise<ResolvedInputs> {
    if (job.operation === 'generate') return NO_INPUTS;
    const rules = inputRulesFor(job.model, job.operation);
    if (!rules) throw new Error(`no input rules for ${job.model.id} ${job.operation}: the parser should have refused it`);
    const all = refs.mask ? [...refs.images, refs.mask] : refs.images;
    const loaded = await Promise.all(all.map((ref) => this.load(ref, signal)));
    this.checkTotal(loaded);
    const images = loaded.slice(0, refs.images.length).map((input) => checkedImage(input, rules));
    const maskInput = refs.mask ? loaded[refs.images.length] : undefined;
    const mask = maskInput ? checkedMask(maskInput, images[0], rules) : undefined;
    const first = images[0];
    if (!mask && rules.alphaWithoutMask && first && !first.hasAlpha) throw missingAlphaProblem(first);
    return mask ? { images, mask } : { images };
  }

  private async load(ref: ImageInputRef, signal: AbortSignal | undefined): Promise<LoadedInput> {
    const { source } = ref;
    switch (source.kind) {
      case 'upload':
        return { ref, bytes: source.bytes };
      case 'inline':
        return { ref, bytes: inMemoryBytes(decodeInline(source.text)) };
      case 'url':
        return { ref, bytes: inMemoryBytes(await this.fetch(ref.param, source.url, signal)), sourceUrl: source.url };
      case 'file_id':
        throw invalidRequest(
          ref.param,
          'unsupported_parameter',
          `${ref.param}: file ids refer to OpenAI's Files API, which this gateway does not host; send image_url (an http(s) URL or a data URL) instead.`,
        );
    }
  }

  private async fetch(param: string, url: string, signal: AbortSignal | undefined): Promise<Buffer> {
    try {
      return (await this.opts.fetcher.fetch(url, signal)).bytes;
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw urlRefusal(param, err);
      throw err;
    }
  }

  private checkTotal(loaded: readonly LoadedInput[]): void {
    const total = loaded.reduce((sum, input) => sum + input.bytes.size, 0);
    if (total > this.opts.maxTotalBytes) {
      throw requestTooLarge(
        `The input images add up to ${Math.ceil(total / 1048576)} MB; this gateway takes at most ${Math.floor(this.opts.maxTotalBytes / 1048576)} MB per request.`,
        'image',
      );
    }
  }
}

/** A data URI's base64 part, or the whole text as bare base64. The content decides the type. */
function decodeInline(text: string): Buffer {
  if (!text.startsWith('data:')) return decodeBase64Text(text);
  // The prefix is judged from its first bytes; the megabytes after it are decoded from the string.
  const start = dataUriBase64Start([Buffer.from(text.slice(0, DATA_URI_COMMA_MAX + 1), 'latin1')]);
  return start < 0 ? Buffer.alloc(0) : decodeBase64Text(text, start);
}

function checkedImage(input: LoadedInput, rules: InputRules): InputImage {
  const header = headerOf(input.bytes);
  const problem = imageProblem(input.ref.param, input.bytes.size, header, rules);
  if (problem || !header) throw problem ?? new Error('unreachable: a missing header is a problem');
  return {
    param: input.ref.param,
    bytes: input.bytes,
    format: header.kind as InputFormat, // imageProblem admitted only the rules' formats
    width: header.width,
    height: header.height,
    hasAlpha: header.hasAlpha,
    ...(input.sourceUrl ? { sourceUrl: input.sourceUrl } : {}),
  };
}

function checkedMask(input: LoadedInput, first: InputImage | undefined, rules: InputRules): InputImage {
  const header = headerOf(input.bytes);
  const problem = maskProblem(input.bytes.size, header, first, rules);
  if (problem || !header) throw problem ?? new Error('unreachable: a missing header is a problem');
  return { param: 'mask', bytes: input.bytes, format: 'png', width: header.width, height: header.height, hasAlpha: true };
}

const URL_REFUSALS: Readonly<Record<UnsafeUrlError['reason'], { code: ErrorCodeWithStatus<400>; why: string }>> = {
  scheme: { code: 'invalid_image_url', why: 'is not a usable http(s) URL' },
  address: { code: 'image_url_forbidden', why: 'points to a private, loopback or link-local address, which this gateway never fetches' },
  redirects: { code: 'invalid_image_url', why: 'redirects too many times' },
  status: { code: 'image_url_unreachable', why: 'could not be downloaded' },
  too_large: { code: 'image_too_large', why: 'is larger than the 50 MB an input image may be' },
  timeout: { code: 'image_url_timeout', why: 'did not answer in time' },
  network: { code: 'image_url_unreachable', why: 'could not be reached' },
};

function urlRefusal(param: string, err: UnsafeUrlError): GatewayError {
  const { code, why } = URL_REFUSALS[err.reason];
  return invalidRequest(param, code, `${param} ${why} (${err.message}).`);
}
