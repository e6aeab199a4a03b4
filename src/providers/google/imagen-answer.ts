/**
 * Imagen's predict answer -> ProviderResult, or UpstreamFailure. `predictions[]` hold the images
 * (`bytesBase64Encoded`, `mimeType`); an image Google's Responsible AI filters removed comes back,
 * since includeRaiReason is always asked for, as a prediction with only `raiFilteredReason`. Fewer
 * images than asked is an answer (only those delivered are charged); none, filtered, is the
 * client's 400 content_policy_violation with Google's reason (also when no reason came: Imagen
 * drops filtered images without one otherwise).
 */
import type { ProviderResult, UpstreamImage } from '../../core/job.js';
import { ropeLength } from '../../core/rope.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { parseJsonLifting, type LiftedJson } from '../lifted-json.js';
import type { UpstreamResponse } from '../transport.js';
import { contentPolicyFailure, failureFromGoogle, objectOf, stringOf } from './errors.js';

export function parseImagenAnswer(res: UpstreamResponse): ProviderResult {
  if (res.status < 200 || res.status >= 300) throw failureFromGoogle(res);
  let parsed: LiftedJson;
  try {
    parsed = parseJsonLifting(res.chunks ?? [res.body], ['bytesBase64Encoded']);
  } catch {
    throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  }
  const json = objectOf(parsed.value);
  if (!json) throw new UpstreamFailure('protocol', 'upstream answered with malformed JSON');
  const predictions = Array.isArray(json.predictions) ? json.predictions.map(objectOf) : [];
  const images: UpstreamImage[] = [];
  const filtered: string[] = [];
  let format: string | undefined;
  for (const prediction of predictions) {
    const bytes = parsed.lifted(prediction?.bytesBase64Encoded) ?? textBytes(prediction?.bytesBase64Encoded);
    if (bytes && ropeLength(bytes) > 0) {
      images.push({ kind: 'b64', base64: bytes });
      format ??= stringOf(prediction?.mimeType)?.replace(/^image\//, '');
      continue;
    }
    const reason = stringOf(prediction?.raiFilteredReason);
    if (reason !== undefined) filtered.push(reason);
  }
  if (images.length === 0) {
    throw contentPolicyFailure(
      filtered.length > 0 ? `Imagen filtered the images: ${[...new Set(filtered)].join(' ')}` : 'Imagen returned no images (filtered by its safety filters)',
    );
  }
  return { images, ...(format ? { outputFormat: format } : {}) };
}

function textBytes(value: unknown): Buffer[] | undefined {
  return typeof value === 'string' ? [Buffer.from(value, 'latin1')] : undefined;
}
