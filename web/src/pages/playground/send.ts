/**
 * Sends a playground request and reports what arrives: a sync answer's images, a stream's partials then
 * completed images, or an async task's progress until it ends (new-api's async mode, polled).
 */
import type { ApiClient } from '../../api/client';
import { ApiError } from '../../api/errors';
import { readSse } from '../../api/sse';
import type { ImageDatum, ImagesResponse, NewApiSubmitAnswer, NewApiTaskAnswer } from '../../api/types';
import { ASYNC_HEADER, editForm, type PlaygroundRequest } from './request';

export interface ResultImage {
  /** What an <img> loads: a link, or an object URL of the bytes. */
  src: string;
  /** A partial preview, replaced by the completed image at the same index. */
  partial: boolean;
  format: string;
  revisedPrompt?: string;
}

export interface RunProgress {
  /** Slot index -> the latest image for it. */
  images: ResultImage[];
  /** Async mode: the task and its progress (0..100). */
  task?: { id: string; status: string; progress: number };
}

export type ProgressListener = (progress: RunProgress) => void;

const POLL_MS = 1_000;

export async function sendRequest(api: ApiClient, request: PlaygroundRequest, onProgress: ProgressListener, signal: AbortSignal): Promise<RunProgress> {
  const headers: Record<string, string> = request.mode === 'async' ? { [ASYNC_HEADER]: 'true' } : {};
  const body = request.endpoint === '/v1/images/edits' ? editForm(request) : request.fields;
  const res = await api.send(request.endpoint, { method: 'POST', body, headers, signal });
  if (request.mode === 'stream') return readStream(res, onProgress);
  if (request.mode === 'async') return pollTask(api, (await res.json()) as NewApiSubmitAnswer, onProgress, signal);
  const answer = (await res.json()) as ImagesResponse;
  const done = { images: answer.data.map((datum) => resultImage(datum, answer.output_format ?? 'png', false)) };
  onProgress(done);
  return done;
}

function resultImage(datum: ImageDatum, format: string, partial: boolean): ResultImage {
  const src = datum.url ?? (datum.b64_json ? base64ObjectUrl(datum.b64_json, format) : '');
  return { src, partial, format, ...(datum.revised_prompt ? { revisedPrompt: datum.revised_prompt } : {}) };
}

/** Bytes as an object URL (blob:), lighter than a data: URL for large images, and downloadable. */
function base64ObjectUrl(b64: string, format: string): string {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: `image/${format === 'jpg' ? 'jpeg' : format}` }));
}

interface StreamEvent {
  type?: string;
  b64_json?: string;
  url?: string;
  output_format?: string;
  partial_image_index?: number;
  error?: { message?: string; code?: string | null; param?: string | null };
}

/** `image_generation.*` / `image_edit.*` events: partials fill a slot as they come; each completed event takes the next slot. */
async function readStream(res: Response, onProgress: ProgressListener): Promise<RunProgress> {
  if (!res.body) throw new Error('the stream has no body');
  const images: ResultImage[] = [];
  let completed = 0;
  for await (const message of readSse(res.body)) {
    if (message.data === '[DONE]') break;
    const event = JSON.parse(message.data) as StreamEvent;
    const type = event.type ?? message.event;
    if (type === 'error' || event.error) {
      throw new ApiError(event.error?.message ?? 'The stream failed.', 200, event.error?.code ?? null, event.error?.param ?? null);
    }
    const format = event.output_format ?? 'png';
    if (type.endsWith('.partial_image')) {
      images[completed] = resultImage(event, format, true);
    } else if (type.endsWith('.completed')) {
      images[completed] = resultImage(event, format, false);
      completed += 1;
    } else continue;
    onProgress({ images: [...images] });
  }
  return { images };
}

async function pollTask(api: ApiClient, submitted: NewApiSubmitAnswer, onProgress: ProgressListener, signal: AbortSignal): Promise<RunProgress> {
  const id = submitted.data.task_id;
  onProgress({ images: [], task: { id, status: submitted.data.status, progress: 0 } });
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (signal.aborted) throw new DOMException('stopped', 'AbortError');
    const { data: task } = await api.get<NewApiTaskAnswer>(`/v1/images/tasks/${encodeURIComponent(id)}`, {}, signal);
    const progress = Number.parseInt(task.progress ?? '0', 10) || 0;
    if (task.status === 'failed') throw new ApiError(task.fail_reason || 'The task failed.', 200, 'task_failed');
    if (task.status === 'succeeded') {
      const urls = task.data?.map((d) => d.url ?? '') ?? task.image_urls ?? [];
      const done: RunProgress = { images: urls.map((url) => ({ src: url, partial: false, format: 'png' })), task: { id, status: task.status, progress: 100 } };
      onProgress(done);
      return done;
    }
    onProgress({ images: [], task: { id, status: task.status, progress } });
  }
}
