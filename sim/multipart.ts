// multipart/form-data bodies as the OpenAI SDKs send them (image edits and variations), parsed
// and rebuilt with Node's built-in web API (undici's FormData): no multipart dependency needed.
import { createHash } from 'node:crypto';

export interface FormFile {
  /** The part's name, e.g. `image`, `image[]` or `mask`. */
  field: string;
  filename: string;
  /** As declared by the client (undici reports `application/octet-stream` when none was given). */
  contentType: string;
  bytes: Buffer;
}

export interface MultipartForm {
  /** Text parts; a name sent more than once keeps all its values, in order. */
  fields: Record<string, string | string[]>;
  /** File parts, in the order sent. */
  files: FormFile[];
}

/** What the simulators record of a form: the fields, and each file's identity without its bytes. */
export interface RecordedForm {
  fields: Record<string, string | string[]>;
  files: { field: string; filename: string; contentType: string; size: number; sha256: string }[];
}

export function isMultipart(contentType: string | undefined): boolean {
  return /^multipart\/form-data\s*(;|$)/i.test(contentType?.trim() ?? '');
}

/** Rejects (undici's TypeError) when the body is not valid multipart for the header's boundary. */
export async function parseMultipart(body: Buffer, contentType: string): Promise<MultipartForm> {
  const data = await readFormData(body, contentType);
  // No prototype: a part named `__proto__` must stay a plain field.
  const fields = Object.create(null) as Record<string, string | string[]>;
  const files: FormFile[] = [];
  for (const [name, value] of data.entries()) {
    if (typeof value === 'string') addField(fields, name, value);
    else files.push({ field: name, filename: value.name, contentType: value.type, bytes: Buffer.from(await value.arrayBuffer()) });
  }
  return { fields, files };
}

/**
 * The same form with one text field set to `value` (added when absent), parts otherwise in their
 * order, re-encoded with a fresh boundary: how a proxy overrides a field (Azure's `model`).
 */
export async function replaceFormField(body: Buffer, contentType: string, name: string, value: string): Promise<{ body: Buffer; contentType: string }> {
  const data = await readFormData(body, contentType);
  data.set(name, value);
  const request = new Request('http://multipart.invalid/', { method: 'POST', body: data });
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type') ?? '' };
}

export function describeForm(form: MultipartForm): RecordedForm {
  return {
    fields: structuredClone(form.fields),
    files: form.files.map((file) => ({
      field: file.field,
      filename: file.filename,
      contentType: file.contentType,
      size: file.bytes.length,
      sha256: createHash('sha256').update(file.bytes).digest('hex'),
    })),
  };
}

function readFormData(body: Buffer, contentType: string): Promise<FormData> {
  return new Response(body, { headers: { 'content-type': contentType } }).formData();
}

function addField(fields: Record<string, string | string[]>, name: string, value: string): void {
  const previous = fields[name];
  if (previous === undefined) fields[name] = value;
  else if (Array.isArray(previous)) previous.push(value);
  else fields[name] = [previous, value];
}
