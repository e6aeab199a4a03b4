/**
 * A multipart image request (edits, variations) -> its text fields and uploaded images, read
 * as the body streams in. Limits stop a body early: more than 16 images, an image past the
 * 50 MB any model accepts (as a file or as base64 text), a field past its size, or images past
 * the per-request total. Each is refused as soon as it is exceeded. Nothing touches the disk.
 */
import type { Multipart, MultipartFile } from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, invalidRequest, requestTooLarge } from '../core/errors.js';
import { MAX_INPUT_IMAGE_BYTES, MAX_INPUT_IMAGES, MAX_MASK_BYTES, type ImageInputRef, type ImageSource, type ImageInputRefs } from '../core/image-input.js';
import { sourceFromString } from '../core/input-refs.js';
import type { RequestSpool } from '../spool/request-spool.js';
import { discardUnreadBody } from './body-flow.js';
import { readPartCapped, spoolPartCapped, SpoolWriteError, UploadBudget, type PartLimit } from './form-part.js';

export interface ImageForm {
  fields: Record<string, string>;
  uploads: ImageInputRefs;
}

const MB = 1024 * 1024;
/** A data URI's `data:image/png;base64,` prefix may be this long (base64FromDataUri's bound). */
const DATA_URI_PREFIX_ROOM = 256;

/** The longest text that can carry an image of `bytes` bytes: its base64, behind a data URI prefix. */
function textCap(bytes: number): number {
  return Math.ceil(bytes / 3) * 4 + DATA_URI_PREFIX_ROOM;
}

const LIMITS = {
  // Image parts are refused at their own caps as they stream (sourceOf); busboy's limit is a
  // backstop one byte past the largest of them.
  fileSize: textCap(MAX_INPUT_IMAGE_BYTES) + 1,
  // 16 images and a mask; one more lets the 17th image be named in a 400 instead of a bare 413.
  files: MAX_INPUT_IMAGES + 2,
  fields: 64,
  // Other text fields: a 32,000-character prompt is up to 128 KB of UTF-8.
  fieldSize: 256 * 1024,
  parts: 128,
};

const IMAGE_FIELDS = new Set(['image', 'image[]']);
const IMAGE_PARTS: ReadonlySet<string> = new Set([...IMAGE_FIELDS, 'mask']);

/**
 * busboy applies one fieldSize to every text field. Image parts always stream as files, even
 * when they are text (a data URI or base64 in a form field), so they are read under the image
 * cap while the other fields keep the small fieldSize.
 */
function isPartAFile(name: string | undefined, contentType: string | undefined, filename: string | undefined): boolean {
  return filename !== undefined || contentType === 'application/octet-stream' || (name !== undefined && IMAGE_PARTS.has(name));
}

export async function readImageForm(request: FastifyRequest, reply: FastifyReply, maxTotalBytes: number): Promise<ImageForm> {
  try {
    return await readParts(request, maxTotalBytes);
  } catch (err) {
    discardUnreadBody(request, reply);
    throw multipartError(err);
  }
}

async function readParts(request: FastifyRequest, maxTotalBytes: number): Promise<ImageForm> {
  const fields: Record<string, string> = {};
  const images: { field: string; source: ImageSource }[] = [];
  let mask: ImageInputRef | undefined;
  const budget = new UploadBudget(maxTotalBytes, uploadsTooLarge, request.memory ?? undefined);
  const spool = request.spool;
  if (!spool) throw new Error('unreachable: every multipart request has a spool (upload-spool.ts)');
  const reader: PartReader = { budget, spool };
  for await (const part of request.parts({ limits: LIMITS, isPartAFile })) {
    const name = part.fieldname;
    if (IMAGE_FIELDS.has(name)) {
      if (images.length === MAX_INPUT_IMAGES) throw tooManyUploads();
      const source = await sourceOf(part, imageParam(name, images.length), MAX_INPUT_IMAGE_BYTES, reader);
      images.push({ field: name, source });
    } else if (name === 'mask') {
      if (mask) throw invalidRequest('mask', 'invalid_value', 'Only one mask may be sent.');
      mask = { param: 'mask', source: await sourceOf(part, 'mask', MAX_MASK_BYTES, reader) };
    } else {
      readField(part, fields);
    }
  }
  const several = images.length > 1;
  const refs = images.map((image, i) => ({ param: several || image.field === 'image[]' ? `image[${i}]` : 'image', source: image.source }));
  return { fields, uploads: mask ? { images: refs, mask } : { images: refs } };
}

/** What reading the image parts of one request shares: its upload budget and its spool. */
interface PartReader {
  budget: UploadBudget;
  spool: RequestSpool;
}

/**
 * A file part is an upload, spooled to disk; a text part holds a URL, data URI or base64 (curl
 * users send those), kept in memory. Both stream (isPartAFile), each under its cap; text counts
 * toward the budget as the bytes it decodes to, so that the total agrees with the one the input
 * resolver checks after decoding.
 */
async function sourceOf(part: Multipart, param: string, maxBytes: number, { budget, spool }: PartReader): Promise<ImageSource> {
  if (part.type !== 'file') throw new Error(`unreachable: ${param} arrived as a field, but isPartAFile streams every image part`);
  if (isUpload(part)) {
    const bytes = await spoolPartCapped(part, { cap: maxBytes, tooLarge: () => fileTooLarge(param, maxBytes), weight: 1 }, budget, spool);
    return { kind: 'upload', bytes, filename: part.filename };
  }
  const text = await readPartCapped(part, textLimit(param, maxBytes), budget);
  return sourceFromString(text.toString('utf8'), param);
}

/** busboy's own test for a file: a filename, or declared as bytes. */
function isUpload(part: MultipartFile): boolean {
  return (part.filename as string | undefined) !== undefined || part.mimetype === 'application/octet-stream';
}

function textLimit(param: string, maxBytes: number): PartLimit {
  const cap = textCap(maxBytes);
  const why = `longer than the base64 of a ${maxBytes / MB} MB image, the most ${whatTakes(param)}`;
  const tooLarge = () => invalidRequest(param, 'image_too_large', `${param} is more than ${cap} characters: ${why}.`);
  return { cap, tooLarge, weight: 3 / 4 };
}

function imageParam(field: string, index: number): string {
  return field === 'image[]' || index > 0 ? `image[${index}]` : 'image';
}

function readField(part: Multipart, fields: Record<string, string>): void {
  if (part.type === 'file') {
    throw invalidRequest(part.fieldname, 'invalid_value', `${part.fieldname} must be a text field; only image, image[] and mask take files.`);
  }
  if (part.valueTruncated) throw invalidRequest(part.fieldname, 'string_above_max_length', `${part.fieldname} is longer than ${LIMITS.fieldSize} bytes.`);
  if (Object.hasOwn(fields, part.fieldname)) throw invalidRequest(part.fieldname, 'invalid_value', `${part.fieldname} was sent twice.`);
  fields[part.fieldname] = String(part.value);
}

function fileTooLarge(param: string, maxBytes: number): GatewayError {
  return invalidRequest(param, 'image_too_large', `${param} is larger than ${maxBytes / MB} MB, the most ${whatTakes(param)}.`);
}

function whatTakes(param: string): string {
  return param === 'mask' ? 'a mask may be' : 'any model accepts';
}

function tooManyUploads(): GatewayError {
  return invalidRequest('image', 'too_many_images', `More than ${MAX_INPUT_IMAGES} images were sent; at most ${MAX_INPUT_IMAGES} are accepted.`);
}

function uploadsTooLarge(maxTotalBytes: number): GatewayError {
  const mb = Math.floor(maxTotalBytes / MB);
  return requestTooLarge(`The uploaded images exceed ${mb} MB, the most this gateway takes per request.`, 'image');
}

const LIMIT_ERRORS: Readonly<Record<string, string>> = {
  FST_PARTS_LIMIT: `The form has more than ${LIMITS.parts} parts.`,
  FST_FILES_LIMIT: `The form has more than ${LIMITS.files} files.`,
  FST_FIELDS_LIMIT: `The form has more than ${LIMITS.fields} fields.`,
};

/** Limits -> 413; a body busboy cannot parse -> 400; our own refusals and disk failures pass as they are. */
function multipartError(err: unknown): unknown {
  if (err instanceof GatewayError || err instanceof SpoolWriteError) return err;
  const code = (err as { code?: unknown }).code;
  const limit = typeof code === 'string' ? LIMIT_ERRORS[code] : undefined;
  if (limit) return requestTooLarge(limit);
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    const field = (err as { part?: { fieldname?: unknown } }).part?.fieldname;
    return field === 'mask' ? fileTooLarge('mask', MAX_MASK_BYTES) : fileTooLarge('image', MAX_INPUT_IMAGE_BYTES);
  }
  if (code === 'FST_PROTO_VIOLATION') return invalidRequest(null, 'invalid_multipart', 'A form field name is not allowed.');
  if (typeof code === 'string' && code.startsWith('FST_')) return err;
  return invalidRequest(null, 'invalid_multipart', `The multipart body could not be read: ${(err as Error).message}.`);
}
