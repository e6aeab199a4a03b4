/**
 * Input images as JSON bodies carry them -> ImageInputRefs. Three shapes: the relays' `image`
 * array of strings (bare base64, data URI or URL, mixed), OpenAI's JSON edit `images:
 * [{image_url} | {file_id}]` and `mask`, and a single string where a relay client sends one.
 */
import { invalidRequest } from './errors.js';
import type { ImageInputRef, ImageSource } from './image-input.js';

/** `image`: a string or an array of strings; params are `image[0]`, `image[1]`... */
export function refsFromStrings(value: unknown, param: string): ImageInputRef[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw invalidRequest(param, 'invalid_value', `${param} must not be empty.`);
  return list.map((item: unknown, i) => {
    const itemParam = Array.isArray(value) ? `${param}[${i}]` : param;
    if (typeof item !== 'string') throw invalidRequest(itemParam, 'invalid_type', `${itemParam} must be a string: bare base64, a data URI or an http(s) URL.`);
    return { param: itemParam, source: sourceFromString(item, itemParam) };
  });
}

/** `images: [{image_url} | {file_id}]` (OpenAI's JSON edits). */
export function refsFromImageRefParams(value: unknown, param: string): ImageInputRef[] {
  if (!Array.isArray(value)) throw invalidRequest(param, 'invalid_type', `${param} must be an array of {image_url} or {file_id} objects.`);
  if (value.length === 0) throw invalidRequest(param, 'invalid_value', `${param} must hold at least one image.`);
  return value.map((item: unknown, i) => refFromImageRefParam(item, `${param}[${i}]`));
}

/** One `{image_url}` or `{file_id}` object; a plain string is taken as an image_url. */
export function refFromImageRefParam(value: unknown, param: string): ImageInputRef {
  if (typeof value === 'string') return { param, source: sourceFromString(value, param) };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidRequest(param, 'invalid_type', `${param} must be an object with image_url or file_id.`);
  }
  const { image_url: url, file_id: fileId, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw invalidRequest(`${param}.${extra}`, 'unknown_parameter', `Unknown parameter: '${param}.${extra}'.`);
  if (url !== undefined && fileId !== undefined) {
    throw invalidRequest(param, 'invalid_value', `${param} must have exactly one of image_url or file_id, not both.`);
  }
  if (typeof fileId === 'string') return { param: `${param}.file_id`, source: { kind: 'file_id', fileId } };
  if (typeof url === 'string') return { param: `${param}.image_url`, source: sourceFromString(url, `${param}.image_url`) };
  throw invalidRequest(param, 'missing_required_parameter', `${param} must have image_url (a URL or data URL) or file_id.`);
}

const SCHEME = /^([a-z][a-z0-9+.-]{1,15}):/i;

/** data: -> inline; http(s) -> url; any other scheme refused; everything else is bare base64. */
export function sourceFromString(text: string, param: string): ImageSource {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw invalidRequest(param, 'invalid_value', `${param} is empty.`);
  const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === 'data') return { kind: 'inline', text: trimmed };
  if (scheme === 'http' || scheme === 'https') return { kind: 'url', url: trimmed };
  if (scheme !== undefined) throw invalidRequest(param, 'invalid_image_url', `${param}: ${scheme}: URLs are not fetched; use http(s), a data URI or base64.`);
  return { kind: 'inline', text: trimmed };
}
