/**
 * Gemini's GenerateContentResponse -> the images of one call, or UpstreamFailure.
 *
 * Images are `candidates[].content.parts[].inlineData` ({mimeType, data: base64}), beside any text
 * parts (read from the answer as it arrived, the base64 never a JS string). No image:
 * - `promptFeedback.blockReason` (SAFETY, PROHIBITED_CONTENT, BLOCKLIST, IMAGE_SAFETY, OTHER...):
 *   the prompt was blocked, the client's 400 content_policy_violation with the reason;
 * - a candidate's `finishReason` of Google's safety family (SAFETY, IMAGE_SAFETY, PROHIBITED_CONTENT,
 *   IMAGE_PROHIBITED_CONTENT, BLOCKLIST, SPII, RECITATION, IMAGE_RECITATION): the same, with its
 *   finishMessage when given;
 * - anything else (STOP with text only, NO_IMAGE...): an unusable answer, which may go better on
 *   another attempt.
 * `usageMetadata` becomes OpenAI's usage: input = promptTokenCount (text and image tokens from
 * promptTokensDetails), output = candidatesTokenCount + thoughtsTokenCount (image tokens from
 * candidatesTokensDetails, the rest text: thinking is billed as text output).
 */
import type { ImageUsage, UpstreamImage } from '../../core/job.js';
import { ropeLength } from '../../core/rope.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { parseJsonLifting, type LiftedJson } from '../lifted-json.js';
import type { UpstreamResponse } from '../transport.js';
import { contentPolicyFailure, failureFromGoogle, objectOf, stringOf } from './errors.js';

/** What one generateContent call gave. */
export interface GeminiCallResult {
  readonly images: readonly UpstreamImage[];
  readonly usage?: ImageUsage;
  /** The images' format as Google named it (png, jpeg, webp). */
  readonly outputFormat?: string;
}

const SAFETY_FINISH = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'IMAGE_PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_RECITATION',
]);

export function parseGeminiAnswer(res: UpstreamResponse): GeminiCallResult {
  if (res.status < 200 || res.status >= 300) throw failureFromGoogle(res);
  let parsed: LiftedJson;
  try {
    parsed = parseJsonLifting(res.chunks ?? [res.body], ['data']);
  } catch {
    throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  }
  const json = objectOf(parsed.value);
  if (!json) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  const blocked = stringOf(objectOf(json.promptFeedback)?.blockReason);
  if (blocked !== undefined) {
    const why = stringOf(objectOf(json.promptFeedback)?.blockReasonMessage);
    throw contentPolicyFailure(`Gemini blocked the prompt (${blocked})${why ? `: ${why}` : ''}`);
  }
  const candidates = Array.isArray(json.candidates) ? json.candidates.map(objectOf) : [];
  const images: UpstreamImage[] = [];
  const texts: string[] = [];
  let format: string | undefined;
  for (const candidate of candidates) {
    const parts = objectOf(candidate?.content)?.parts;
    for (const part of Array.isArray(parts) ? parts.map(objectOf) : []) {
      const inline = objectOf(part?.inlineData);
      const mime = stringOf(inline?.mimeType);
      const data = inline ? (parsed.lifted(inline.data) ?? textBytes(inline.data)) : undefined;
      if (mime?.startsWith('image/') && data && ropeLength(data) > 0) {
        images.push({ kind: 'b64', base64: data });
        format ??= mime.slice('image/'.length);
      } else if (part?.thought !== true && stringOf(part?.text) !== undefined) texts.push(stringOf(part?.text) ?? '');
    }
  }
  if (images.length === 0) throw noImage(candidates, texts);
  const usage = usageOf(objectOf(json.usageMetadata));
  return { images, ...(usage ? { usage } : {}), ...(format ? { outputFormat: format } : {}) };
}

function noImage(candidates: readonly (Record<string, unknown> | undefined)[], texts: readonly string[]): UpstreamFailure {
  for (const candidate of candidates) {
    const reason = stringOf(candidate?.finishReason);
    if (reason !== undefined && SAFETY_FINISH.has(reason)) {
      const message = stringOf(candidate?.finishMessage);
      return contentPolicyFailure(`Gemini made no image (${reason})${message ? `: ${message}` : ''}`);
    }
  }
  const reason = candidates.map((c) => stringOf(c?.finishReason)).find((r) => r !== undefined);
  const said = texts.join(' ').slice(0, 200);
  return new UpstreamFailure('protocol', `Gemini answered no image (finishReason ${reason ?? 'none'})${said ? `: ${said}` : ''}`);
}

function textBytes(value: unknown): Buffer[] | undefined {
  return typeof value === 'string' ? [Buffer.from(value, 'latin1')] : undefined;
}

function usageOf(meta: Record<string, unknown> | undefined): ImageUsage | undefined {
  if (!meta) return undefined;
  const input = count(meta.promptTokenCount);
  const candidates = count(meta.candidatesTokenCount);
  const thoughts = count(meta.thoughtsTokenCount) ?? 0;
  if (input === undefined || candidates === undefined) return undefined;
  const output = candidates + thoughts;
  const byModality = (details: unknown, modality: string): number =>
    (Array.isArray(details) ? details.map(objectOf) : []).filter((d) => d?.modality === modality).reduce((sum, d) => sum + (count(d?.tokenCount) ?? 0), 0);
  const imageInput = byModality(meta.promptTokensDetails, 'IMAGE');
  const imageOutput = byModality(meta.candidatesTokensDetails, 'IMAGE');
  return {
    total_tokens: count(meta.totalTokenCount) ?? input + output,
    input_tokens: input,
    output_tokens: output,
    input_tokens_details: { text_tokens: Math.max(0, input - imageInput), image_tokens: Math.min(input, imageInput) },
    output_tokens_details: { image_tokens: Math.min(output, imageOutput), text_tokens: Math.max(0, output - imageOutput) },
  };
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Several calls' usage as one (n images are n calls). */
export function sumUsage(usages: readonly (ImageUsage | undefined)[]): ImageUsage | undefined {
  if (usages.length === 0 || usages.some((u) => u === undefined)) return undefined;
  const all = usages as readonly ImageUsage[];
  const add = (pick: (u: ImageUsage) => number): number => all.reduce((sum, u) => sum + pick(u), 0);
  const detail = (u: ImageUsage, key: 'input_tokens_details' | 'output_tokens_details', field: 'text_tokens' | 'image_tokens'): number => {
    const d = objectOf(u[key]);
    return count(d?.[field]) ?? 0;
  };
  return {
    total_tokens: add((u) => u.total_tokens),
    input_tokens: add((u) => u.input_tokens),
    output_tokens: add((u) => u.output_tokens),
    input_tokens_details: {
      text_tokens: add((u) => detail(u, 'input_tokens_details', 'text_tokens')),
      image_tokens: add((u) => detail(u, 'input_tokens_details', 'image_tokens')),
    },
    output_tokens_details: {
      image_tokens: add((u) => detail(u, 'output_tokens_details', 'image_tokens')),
      text_tokens: add((u) => detail(u, 'output_tokens_details', 'text_tokens')),
    },
  };
}
