/**
 * An accepted ImageJob as a task row keeps it: plain JSON, the model by id, input images as
 * base64 (already checked at submission, so a worker never fetches a URL again). Uploads wait in
 * spool files only as long as their request: load them first (spool/input-bytes-io.ts inputsInMemory).
 */
import type { InputImage, ResolvedInputs } from '../core/image-input.js';
import { inMemoryBytes } from '../core/input-bytes.js';
import type { ImageJob } from '../core/job.js';
import type { ModelCatalogue } from '../core/models.js';

interface StoredInput extends Omit<InputImage, 'bytes'> {
  base64: string;
}

export interface StoredJob extends Omit<ImageJob, 'model' | 'inputs'> {
  model: string;
  inputs: { images: StoredInput[]; mask?: StoredInput };
  /** The body as the caller sent it (the task API dialect: its callback's `param` repeats it). */
  sentBody?: Readonly<Record<string, unknown>>;
  /** The submitting request's span (tracing on): each run's span links to it. */
  traceparent?: string;
}

export function storeJob(job: ImageJob, sentBody?: Readonly<Record<string, unknown>>, traceparent?: string): string {
  const { model, inputs, ...rest } = job;
  const stored: StoredJob = {
    ...rest,
    model: model.id,
    inputs: { images: inputs.images.map(storeInput), ...(inputs.mask ? { mask: storeInput(inputs.mask) } : {}) },
    ...(sentBody ? { sentBody } : {}),
    ...(traceparent ? { traceparent } : {}),
  };
  return JSON.stringify(stored);
}

/** The submitting request's traceparent, when the task was submitted with tracing on. */
export function storedTraceparent(json: string): string | undefined {
  const { traceparent } = JSON.parse(json) as StoredJob;
  return typeof traceparent === 'string' ? traceparent : undefined;
}

/** null when the model left the catalogue since the task was accepted. */
export function loadJob(json: string, catalogue: ModelCatalogue): ImageJob | null {
  const { sentBody: _sent, traceparent: _trace, ...stored } = JSON.parse(json) as StoredJob;
  const model = catalogue.get(stored.model);
  if (!model) return null;
  const inputs: ResolvedInputs = {
    images: stored.inputs.images.map(loadInput),
    ...(stored.inputs.mask ? { mask: loadInput(stored.inputs.mask) } : {}),
  };
  return { ...stored, model, inputs };
}

function storeInput({ bytes, ...rest }: InputImage): StoredInput {
  if (bytes.kind !== 'memory') throw new Error(`${rest.param} is still in its spool file: load the inputs into memory before storing the job`);
  return { ...rest, base64: bytes.bytes.toString('base64') };
}

function loadInput({ base64, ...rest }: StoredInput): InputImage {
  return { ...rest, bytes: inMemoryBytes(Buffer.from(base64, 'base64')) };
}
