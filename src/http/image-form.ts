/**
 * A multipart image request (edits, variations) -> its text fields and uploaded images, read
 * as the body streams in. Limits stop a body early: more than 16 images, a file beyond the
 * 50 MB any model accepts, or uploads past the per-request total. Nothing touches the disk.
 */
import type { Multipart, MultipartFile } from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, invalidRequest } from '../core/errors.js';
import { MAX_INPUT_IMAGE_BYTES, MAX_INPUT_IMAGES, type ImageInputRef, type ImageSource, type ImageInputRefs } from '../core/image-input.js';
import { sourceFromString } from '../core/input-refs.js';

export interface ImageForm {
  fields: Record<string, string>;
  uploads: ImageInputRefs;
}

const LIMITS = {
  fileSize: MAX_INPUT_IMAGE_BYTES,
  // 16 images and a mask; one more lets the 17th image be named in a 400 instead of a bare 413.
  files: MAX_INPUT_IMAGES + 2,
  fields: 64,
  // A 32,000-character prompt is up to 128 KB of UTF-8.
  fieldSize: 256 * 1024,
  parts: 128,
};

const IMAGE_FIELDS = new Set(['image', 'image[]']);

export async function readImageForm(request: FastifyRequest, reply: FastifyReply, maxTotalBytes: number): Promise<ImageForm> {
  try {
    return await readParts(request, maxTotalBytes);
  } catch (err) {
    discardUnreadBody(request, reply);
    throw multipartError(err);
  }
}

/** How long a refused upload may keep sending before its socket is cut. */
const DISCARD_GRACE_MS = 10_000;

/**
 * A refusal can come before the client finished sending (the 17th image, a file past 50 MB).
 * The rest is read and dropped, so the client gets to read the answer instead of a reset; the
 * connection is closed after it, and a client that keeps sending for long is cut off.
 */
function discardUnreadBody(request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw;
  if (raw.readableEnded) return;
  void reply.header('connection', 'close');
  raw.unpipe();
  raw.resume();
  const timer = setTimeout(() => raw.destroy(), DISCARD_GRACE_MS);
  timer.unref();
  raw.once('end', () => clearTimeout(timer));
  raw.once('close', () => clearTimeout(timer));
}

async function readParts(request: FastifyRequest, maxTotalBytes: number): Promise<ImageForm> {
  const fields: Record<string, string> = {};
  const images: { field: string; source: ImageSource }[] = [];
  let mask: ImageInputRef | undefined;
  let total = 0;
  for await (const part of request.parts({ limits: LIMITS })) {
    const name = part.fieldname;
    if (IMAGE_FIELDS.has(name)) {
      if (images.length === MAX_INPUT_IMAGES) throw tooManyUploads();
      const source = await sourceOf(part, imageParam(name, images.length));
      total += uploadedBytes(source);
      images.push({ field: name, source });
    } else if (name === 'mask') {
      if (mask) throw invalidRequest('mask', 'invalid_value', 'Only one mask may be sent.');
      const source = await sourceOf(part, 'mask');
      total += uploadedBytes(source);
      mask = { param: 'mask', source };
    } else {
      readField(part, fields);
    }
    if (total > maxTotalBytes) throw uploadsTooLarge(maxTotalBytes);
  }
  const several = images.length > 1;
  const refs = images.map((image, i) => ({ param: several || image.field === 'image[]' ? `image[${i}]` : 'image', source: image.source }));
  return { fields, uploads: mask ? { images: refs, mask } : { images: refs } };
}

/** A file part is an upload; a text part holds a URL, data URI or base64 (curl users send those). */
async function sourceOf(part: Multipart, param: string): Promise<ImageSource> {
  if (part.type === 'file') return { kind: 'upload', bytes: await readFile(part, param), filename: part.filename };
  return sourceFromString(String(part.value), param);
}

function uploadedBytes(source: ImageSource): number {
  return source.kind === 'upload' ? source.bytes.length : 0;
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

async function readFile(part: MultipartFile, param: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await part.toBuffer();
  } catch (err) {
    if ((err as { code?: unknown }).code === 'FST_REQ_FILE_TOO_LARGE') throw fileTooLarge(param);
    throw err;
  }
  // toBuffer does not always throw when busboy cut the file at the limit: check the flag too.
  if (part.file.truncated) throw fileTooLarge(param);
  return bytes;
}

function fileTooLarge(param: string): GatewayError {
  return invalidRequest(param, 'image_too_large', `${param} is larger than ${MAX_INPUT_IMAGE_BYTES / 1048576} MB, the most any model accepts.`);
}

function tooManyUploads(): GatewayError {
  return invalidRequest('image', 'too_many_images', `More than ${MAX_INPUT_IMAGES} images were sent; at most ${MAX_INPUT_IMAGES} are accepted.`);
}

function uploadsTooLarge(maxTotalBytes: number): GatewayError {
  const mb = Math.floor(maxTotalBytes / 1048576);
  return new GatewayError(413, 'invalid_request_error', 'request_too_large', 'image', `The uploaded images exceed ${mb} MB, the most this gateway takes per request.`);
}

const LIMIT_ERRORS: Readonly<Record<string, string>> = {
  FST_PARTS_LIMIT: `The form has more than ${LIMITS.parts} parts.`,
  FST_FILES_LIMIT: `The form has more than ${LIMITS.files} files.`,
  FST_FIELDS_LIMIT: `The form has more than ${LIMITS.fields} fields.`,
};

/** Limits -> 413; a body busboy cannot parse -> 400; our own refusals pass as they are. */
function multipartError(err: unknown): unknown {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: unknown }).code;
  const limit = typeof code === 'string' ? LIMIT_ERRORS[code] : undefined;
  if (limit) return new GatewayError(413, 'invalid_request_error', 'request_too_large', null, limit);
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    const field = (err as { part?: { fieldname?: unknown } }).part?.fieldname;
    return fileTooLarge(field === 'mask' ? 'mask' : 'image');
  }
  if (code === 'FST_PROTO_VIOLATION') return invalidRequest(null, 'invalid_multipart', 'A form field name is not allowed.');
  if (typeof code === 'string' && code.startsWith('FST_')) return err;
  return invalidRequest(null, 'invalid_multipart', `The multipart body could not be read: ${(err as Error).message}.`);
}
