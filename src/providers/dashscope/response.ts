/**
 * DashScope's answers -> ProviderResult / UpstreamTaskState / UpstreamFailure (Model Studio's
 * Qwen-Image, Wan text-to-image and error-code references).
 *
 * - multimodal-generation (sync): `{output: {choices: [{message: {content: [{image: url}]}}]},
 *   usage: {width, height, image_count}, request_id}`.
 * - image-synthesis submit: `{output: {task_id, task_status: 'PENDING'}, request_id}`.
 * - GET /api/v1/tasks/{id}: `{output: {task_id, task_status, results: [{url} | {code, message}],
 *   code?, message?}, usage: {image_count}}`; task_status is PENDING, RUNNING, SUSPENDED,
 *   SUCCEEDED, FAILED, CANCELED or UNKNOWN (a task past its 24 hours, or never made).
 * Image URLs expire after 24 hours: output/ downloads and stores them at once.
 *
 * Errors are `{code, message, request_id}` with an HTTP status, or a failed task's `output.code`:
 * - a safety refusal (`DataInspectionFailed`, `data_inspection_failed`, `IPInfringementSuspect`)
 *   is the client's 400 `content_policy_violation` with DashScope's message, whatever the status;
 * - `Throttling` and its kinds (`Throttling.RateQuota`, `Throttling.AllocationQuota`...) are a 429,
 *   `Arrearage` (the account is overdue) a 402: both fail over to another channel;
 * - `InvalidApiKey` is a 401: routing disables the key.
 */
import type { ProviderResult } from '../../core/job.js';
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { isJsonObject, nonEmpty, parseJsonObject, urlImages, type JsonObject } from '../async-task-kit.js';
import type { UpstreamTaskState } from '../provider.js';
import type { UpstreamResponse } from '../transport.js';

const SAFETY_CODES = new Set(['DataInspectionFailed', 'data_inspection_failed', 'IPInfringementSuspect']);

/** Qwen-Image's images, read from a 2xx multimodal-generation answer. */
export function parseMultimodalAnswer(res: UpstreamResponse): ProviderResult {
  const output = successOutput(res);
  const urls = (Array.isArray(output.choices) ? output.choices : []).flatMap((choice: unknown) => {
    const content = isJsonObject(choice) && isJsonObject(choice.message) ? choice.message.content : undefined;
    return (Array.isArray(content) ? content : []).flatMap((part: unknown) => {
      const url = isJsonObject(part) ? nonEmpty(part.image) : undefined;
      return url === undefined ? [] : [url];
    });
  });
  if (urls.length === 0) throw new UpstreamFailure('protocol', 'DashScope answered without images');
  return { images: urlImages(urls) };
}

/** The task id of an image-synthesis submit. */
export function parseSubmitAnswer(res: UpstreamResponse): string {
  const id = nonEmpty(successOutput(res).task_id);
  if (id === undefined) throw new UpstreamFailure('protocol', 'DashScope answered without a task_id (was X-DashScope-Async sent?)');
  return id;
}

/** Where a DashScope task stands. A safety refusal throws (the client's 400, never retried). */
export function parseTaskAnswer(res: UpstreamResponse): UpstreamTaskState {
  const output = successOutput(res);
  const status = output.task_status;
  switch (status) {
    case 'PENDING':
    case 'SUSPENDED':
      return { status: 'pending' };
    case 'RUNNING':
      return { status: 'running' };
    case 'SUCCEEDED':
      return taskResult(output);
    case 'FAILED':
      return failedTask(output.code, output.message);
    case 'CANCELED':
      return { status: 'failed', reason: 'the DashScope task was canceled' };
    case 'UNKNOWN':
      return { status: 'failed', reason: 'DashScope does not know the task (it expired after 24 hours, or was never made)' };
    default:
      throw new UpstreamFailure('protocol', `DashScope task has an unknown status: ${JSON.stringify(status)}`);
  }
}

/** A non-2xx DashScope answer, in terms routing acts on. */
export function failureFromDashScope(res: UpstreamResponse): UpstreamFailure {
  const json = parseJsonObject(res.body);
  const code = nonEmpty(json?.code);
  const message = nonEmpty(json?.message);
  if (code !== undefined && SAFETY_CODES.has(code)) return safetyRefusal(code, message, res.status);
  const status = statusFor(code, res.status);
  const said: UpstreamErrorBody = { ...(message !== undefined ? { message } : {}), code: code ?? null };
  const what = `DashScope answered ${res.status}${code !== undefined ? ` ${code}` : ''}${status !== res.status ? ` (as ${status})` : ''}${message ? `: ${message}` : ''}`;
  return new UpstreamFailure('http', what, status, said, parseRetryAfter(res.headers['retry-after']));
}

/** DashScope's codes whose HTTP status would mislead routing. */
function statusFor(code: string | undefined, status: number): number {
  if (code === undefined) return status;
  if (code === 'Throttling' || code.startsWith('Throttling.')) return 429;
  if (code === 'Arrearage') return 402;
  if (code === 'InvalidApiKey') return 401;
  return status;
}

function safetyRefusal(code: string, message: string | undefined, status: number): UpstreamFailure {
  const reason = message ?? 'DashScope refused the content';
  return contentRefusal(`DashScope refused the content (${status} ${code}): ${reason}`, reason);
}

/** `output` of a 2xx JSON answer; anything else is a failure. */
function successOutput(res: UpstreamResponse): JsonObject {
  if (res.status < 200 || res.status >= 300) throw failureFromDashScope(res);
  const json = parseJsonObject(res.body);
  if (!json) throw new UpstreamFailure('protocol', 'DashScope answered with malformed JSON');
  if (!isJsonObject(json.output)) throw new UpstreamFailure('protocol', 'DashScope answer has no output object');
  return json.output;
}

/** The images of a succeeded task; a task whose every image was refused is a failure (its first reason). */
function taskResult(output: JsonObject): UpstreamTaskState {
  const results = (Array.isArray(output.results) ? output.results : []).filter(isJsonObject);
  const urls = results.flatMap((result) => {
    const url = nonEmpty(result.url);
    return url === undefined ? [] : [url];
  });
  if (urls.length > 0) return { status: 'succeeded', result: { images: urlImages(urls) } };
  const refused = results.find((result) => nonEmpty(result.code) !== undefined);
  if (refused) return failedTask(refused.code, refused.message);
  throw new UpstreamFailure('protocol', 'DashScope task succeeded without images');
}

function failedTask(rawCode: unknown, rawMessage: unknown): UpstreamTaskState {
  const code = nonEmpty(rawCode);
  const message = nonEmpty(rawMessage);
  if (code !== undefined && SAFETY_CODES.has(code)) throw safetyRefusal(code, message, 200);
  const reason = [code, message].filter((part) => part !== undefined).join(': ');
  return { status: 'failed', reason: reason || 'the DashScope task failed', ...(code !== undefined ? { code } : {}) };
}
