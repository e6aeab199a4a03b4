/** new-api's async answers (the new-api async dialect) -> task id / UpstreamTaskState / UpstreamFailure. */
import type { ProviderResult } from '../../core/job.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { envelopeData, isJsonObject, nonEmpty, nonEmptyStrings, parseJsonObject, urlImages, type JsonObject } from '../async-task-kit.js';
import { failureFromResponse, parseImagesResponse } from '../openai/response.js';
import type { UpstreamTaskState } from '../provider.js';
import type { UpstreamResponse } from '../transport.js';

/** The task id from the submit answer `{code:'success', data:{task_id, status}}`. */
export function parseSubmitResponse(res: UpstreamResponse): string {
  // A relay without async support answers the images right away; that is no task to poll.
  if (res.status >= 200 && res.status < 300 && Array.isArray(parseJsonObject(res.body)?.data)) {
    throw new UpstreamFailure('protocol', 'upstream ignored the async header (answered synchronously)');
  }
  const id = nonEmpty(successData(res).task_id);
  if (id === undefined) throw new UpstreamFailure('protocol', 'upstream answer has no task_id');
  return id;
}

/** The task view of GET /images/tasks/{id}. */
export function parseTaskResponse(res: UpstreamResponse): UpstreamTaskState {
  const task = successData(res);
  const status = task.status;
  switch (status) {
    case 'submitted':
    case 'queued':
      return withProgress('pending', task.progress);
    case 'in_progress':
      return withProgress('running', task.progress);
    case 'succeeded':
      return { status: 'succeeded', result: taskResult(task) };
    case 'failed':
      return { status: 'failed', reason: nonEmpty(task.fail_reason) ?? 'upstream task failed' };
    default:
      throw new UpstreamFailure('protocol', `upstream task has an unknown status: ${JSON.stringify(status)}`);
  }
}

/** Non-2xx: OpenAI's `{error:{...}}` on relay routes, `{code, message}` on task routes. */
export function failureFromNewApi(res: UpstreamResponse): UpstreamFailure {
  const base = failureFromResponse(res);
  if (base.upstreamError?.message !== undefined) return base;
  const json = parseJsonObject(res.body);
  const message = nonEmpty(json?.message);
  if (message === undefined) return base;
  const code = typeof json?.code === 'string' ? json.code : null;
  return new UpstreamFailure('http', `upstream answered ${res.status}: ${message}`, res.status, { message, code }, base.retryAfterMs);
}

/** "45%" -> 45 (percent, 0-100); absent or unreadable -> no progress. */
export function parseProgress(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number.parseFloat(value) : Number.NaN;
  return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : undefined;
}

function withProgress(status: 'pending' | 'running', raw: unknown): UpstreamTaskState {
  const progress = parseProgress(raw);
  return progress === undefined ? { status } : { status, progress };
}

/**
 * Inline images (`data: [{b64_json|url}]` or `data: {data: [...]}`) win: the bytes are at hand
 * and they are the same images the URLs point at. Otherwise image_urls, else result_url.
 */
function taskResult(task: JsonObject): ProviderResult {
  const inline = inlineResult(task.data);
  if (inline !== undefined) return inline;
  const urls = nonEmptyStrings(task.image_urls);
  const single = nonEmpty(task.result_url);
  const all = urls.length > 0 ? urls : single !== undefined ? [single] : [];
  if (all.length === 0) throw new UpstreamFailure('protocol', 'upstream task succeeded without images');
  return { images: urlImages([...new Set(all)]) };
}

/** Reuses the OpenAI parser on the task's embedded images answer, if there is one with images. */
function inlineResult(data: unknown): ProviderResult | undefined {
  const envelope = Array.isArray(data) ? { data } : isJsonObject(data) && Array.isArray(data.data) ? data : undefined;
  if (envelope === undefined || (envelope.data as unknown[]).length === 0) return undefined;
  try {
    return parseImagesResponse({ status: 200, headers: {}, body: Buffer.from(JSON.stringify(envelope)) });
  } catch {
    return undefined; // nothing usable inline: fall back to the URLs
  }
}

/** `data` of a 2xx `{code:'success', data:{...}}`; anything else is a failure. */
function successData(res: UpstreamResponse): JsonObject {
  return envelopeData(res, failureFromNewApi, (json) => {
    if (typeof json.code === 'string' && json.code !== 'success') {
      const message = nonEmpty(json.message) ?? json.code;
      throw new UpstreamFailure('protocol', `upstream answered code ${json.code}: ${message}`);
    }
  });
}
