/**
 * The request the playground makes, kept as data: the same record is sent (send.ts) and shown as curl, Python
 * and Node (snippets.ts), so what is shown is exactly what was sent.
 */

export type PlaygroundMode = 'sync' | 'stream' | 'async';

export type FieldValue = string | number | boolean;

export interface UploadedImage {
  /** A name for the file (what the snippets open). */
  name: string;
  blob: Blob;
}

export interface PlaygroundRequest {
  /** Generations without input images; edits (multipart) with them. */
  endpoint: '/v1/images/generations' | '/v1/images/edits';
  mode: PlaygroundMode;
  /** The body's fields, in order (JSON for generations, form fields for edits); `stream` is among them in stream mode. */
  fields: Record<string, FieldValue>;
  images: UploadedImage[];
  mask?: UploadedImage;
}

/** new-api's async mode: the same endpoints, answered at once with a task id. */
export const ASYNC_HEADER = 'X-New-Api-Async-Task';

export interface PlaygroundChoices {
  model: string;
  prompt: string;
  /** Only the fields the model takes; an empty string means "leave it out" (the gateway's default). */
  options: Record<string, FieldValue>;
  mode: PlaygroundMode;
  partialImages: number;
  images: UploadedImage[];
  mask: UploadedImage | undefined;
}

export function buildRequest(choices: PlaygroundChoices): PlaygroundRequest {
  const fields: Record<string, FieldValue> = { model: choices.model, prompt: choices.prompt };
  for (const [name, value] of Object.entries(choices.options)) if (value !== '') fields[name] = value;
  if (choices.mode === 'stream') {
    fields.stream = true;
    if (choices.partialImages > 0) fields.partial_images = choices.partialImages;
  }
  const edits = choices.images.length > 0;
  return {
    endpoint: edits ? '/v1/images/edits' : '/v1/images/generations',
    mode: choices.mode,
    fields,
    images: choices.images,
    ...(edits && choices.mask ? { mask: choices.mask } : {}),
  };
}

/** The multipart form of an edit: `image` for one input, `image[]` for several (as the SDKs send them), then `mask`. */
export function editForm(request: PlaygroundRequest): FormData {
  const form = new FormData();
  const imageField = request.images.length > 1 ? 'image[]' : 'image';
  for (const image of request.images) form.append(imageField, image.blob, image.name);
  if (request.mask) form.append('mask', request.mask.blob, request.mask.name);
  for (const [name, value] of Object.entries(request.fields)) form.append(name, String(value));
  return form;
}
